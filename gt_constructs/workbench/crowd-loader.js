/* gt-constructs workbench: the real Crowd HTML Elements when they can be loaded, else the stand-in.
 *
 * The page carries its settings in <script type="application/json" id="gtw-elements">:
 * {"url": the real elements' script or null (--offline), "timeoutSeconds": how long to wait,
 *  "realNote": optional, what the banner adds when the real elements are in use}.
 * The real script is added to the page; when it loads, the real elements draw the task
 * (with their drawing and painting tools). When it fails or does not arrive in time,
 * the stand-in's styles are switched on and it draws the task. Either way the banner
 * at the top of the page says which one is in use, and <html data-gtw-elements> holds
 * "real" or "stand-in".
 */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("gtw-elements").textContent);
  var settled = false;

  function show(mode, text) {
    document.documentElement.setAttribute("data-gtw-elements", mode);
    var banner = document.querySelector(".gtw-banner");
    if (banner) { banner.setAttribute("data-gtw-elements", mode); }
    var status = document.getElementById("gtw-elements-status");
    if (status) { status.textContent = text; }
  }

  function standIn(reason) {
    if (settled) { return; }
    settled = true;
    var style = document.getElementById("gtw-stand-in-style");
    if (style) { style.media = "all"; }
    show("stand-in", "Crowd HTML Elements: the workbench's offline stand-in (" + reason + "). " +
      "It shows the task, the labels and the answer's shape, but cannot draw, paint or highlight.");
    window.gtwStartStandIn();
  }

  if (!config.url) {
    standIn("--offline: nothing is fetched");
    return;
  }
  var script = document.createElement("script");
  script.src = config.url;
  var timer = window.setTimeout(function () {
    standIn(config.url + " did not load within " + config.timeoutSeconds + " s");
  }, config.timeoutSeconds * 1000);
  script.addEventListener("load", function () {
    window.clearTimeout(timer);
    if (settled) {  // too late: the stand-in has drawn the page already
      show("stand-in", document.getElementById("gtw-elements-status").textContent +
        " The real elements arrived later: reload the page to use them.");
      return;
    }
    settled = true;
    show("real", "Crowd HTML Elements: the real ones, loaded from " + config.url + " (" +
      (config.realNote || "drawing tools work; Submit has no job to send the answer to") + ").");
  });
  script.addEventListener("error", function () {
    window.clearTimeout(timer);
    standIn(config.url + " could not be loaded");
  });
  document.head.appendChild(script);
})();
