/*
 * Sign-in for the portal on AWS: the user pool's hosted UI, authorization code with PKCE
 * (RFC 7636), no client secret. Without ?code, it makes a verifier and a state, keeps
 * them in sessionStorage and goes to the hosted UI; back with ?code&state, it checks the
 * state, exchanges the code (with the verifier) for tokens at the pool's token endpoint,
 * keeps the ID token in a cookie for /api only (Secure, SameSite=Strict: CloudFront puts
 * it in the request's X-Gt-Authorization header for the API's JWT authorizer) and goes
 * back to the portal. The task frames live on another origin and cannot read it.
 */
(function () {
  "use strict";
  var status = document.getElementById("status");

  function b64url(bytes) {
    var text = "";
    bytes.forEach(function (b) { text += String.fromCharCode(b); });
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function random(size) {
    var bytes = new Uint8Array(size);
    crypto.getRandomValues(bytes);
    return b64url(bytes);
  }

  function fail(message) {
    status.textContent = "Sign-in failed: " + message;
  }

  fetch("/portal-config.json").then(function (r) { return r.json(); }).then(function (config) {
    var cognito = config.cognito;
    var redirect = window.location.origin + "/signin.html";
    var params = new URLSearchParams(window.location.search);
    if (!params.get("code")) {
      var verifier = random(48);
      var state = random(24);
      sessionStorage.setItem("gt-pkce", JSON.stringify({ verifier: verifier, state: state }));
      return crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)).then(function (hash) {
        var query = new URLSearchParams({
          response_type: "code",
          client_id: cognito.clientId,
          redirect_uri: redirect,
          scope: cognito.scopes.join(" "),
          state: state,
          code_challenge_method: "S256",
          code_challenge: b64url(new Uint8Array(hash))
        });
        window.location.assign(cognito.domain + "/oauth2/authorize?" + query.toString());
      });
    }
    var kept = JSON.parse(sessionStorage.getItem("gt-pkce") || "{}");
    sessionStorage.removeItem("gt-pkce");
    if (!kept.state || kept.state !== params.get("state")) {
      return fail("the answer does not belong to this sign-in (state mismatch); try again");
    }
    return fetch(cognito.domain + "/oauth2/token", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        client_id: cognito.clientId,
        code: params.get("code"),
        redirect_uri: redirect,
        code_verifier: kept.verifier
      }).toString()
    }).then(function (r) { return r.json(); }).then(function (tokens) {
      if (!tokens.id_token) { return fail(tokens.error || "no token"); }
      document.cookie = "gt_id_token=" + tokens.id_token + "; Path=/api; Max-Age=" +
        (tokens.expires_in || 3600) + "; Secure; SameSite=Strict";
      window.location.replace("/");
    });
  }).catch(function (error) { fail(String(error)); });
})();
