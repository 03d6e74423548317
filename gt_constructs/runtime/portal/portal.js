/* The labeling portal: one page over the runtime's JSON API (the same files on both hosts).
 *
 * It fetches /portal-config.json first (which auth mode: "local" sessions here; the AWS
 * host serves "cognito" with its hosted UI), then /api/me. Workers see the jobs of their
 * teams and work on tasks shown in a sandboxed frame on the task origin; the requester
 * sees jobs, counters, answers, the output manifest, the report and the workers.
 * State-changing calls send the session's CSRF token in X-CSRF-Token.
 */
(function () {
  "use strict";

  var state = { config: null, me: null, csrf: null, job: null, task: null, timer: null };
  var main = document.getElementById("main");

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") { node.textContent = attrs[key]; } else { node.setAttribute(key, attrs[key]); }
    });
    (children || []).forEach(function (child) { node.appendChild(child); });
    return node;
  }

  function view(id) {
    var content = document.getElementById(id).content.cloneNode(true);
    main.innerHTML = "";
    main.appendChild(content);
  }

  function api(method, path, body) {
    var headers = { "Accept": "application/json" };
    if (method !== "GET") { headers["X-CSRF-Token"] = state.csrf || ""; }
    if (body !== undefined) { headers["Content-Type"] = "application/json"; }
    var url = path.indexOf("/auth/") === 0 ? path : state.config.apiBase + path;
    return fetch(url, {
      method: method, headers: headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      var parsed = type.indexOf("json") >= 0 && response.status !== 204 ? response.json() : response.text();
      return parsed.then(function (data) { return { status: response.status, data: data }; });
    });
  }

  function showError(message) {
    var note = document.getElementById("work-status") || main;
    var line = el("p", { "class": "error", text: message });
    if (note === main) { main.appendChild(line); } else { note.textContent = message; note.className = "status error"; }
  }

  function duration(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    var m = Math.floor(seconds / 60), s = seconds % 60;
    return m + ":" + (s < 10 ? "0" : "") + s;
  }

  // -- signed out -------------------------------------------------------------------------
  function signIn() {
    view("sign-in-view");
  }

  // -- worker ---------------------------------------------------------------------------------
  function jobs() {
    stopTimer();
    view("jobs-view");
    main.querySelector(".teams").textContent = (state.me.teams || []).join(", ") || "none";
    var form = document.getElementById("set-password");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      api("POST", "/auth/set-password", { password: form.elements.password.value }).then(function (r) {
        form.querySelector(".note").textContent = r.status === 200 ? "Saved." : (r.data.message || "Not saved.");
      });
    });
    api("GET", "/jobs").then(function (r) {
      if (r.status !== 200) { showError(r.data.message || "cannot list jobs"); return; }
      var body = main.querySelector("#jobs-table tbody");
      if (!r.data.jobs.length) { main.querySelector(".empty").hidden = false; }
      r.data.jobs.forEach(function (job) {
        var start = el("button", { type: "button", "class": "primary start", "data-job": job.LabelingJobName, text: "Start working" });
        start.addEventListener("click", function () { work(job); });
        body.appendChild(el("tr", { "data-job": job.LabelingJobName }, [
          el("td", {}, [el("strong", { text: job.TaskTitle || job.LabelingJobName }),
            el("div", { "class": "muted", text: job.LabelingJobName })]),
          el("td", { text: job.TaskDescription || "" }),
          el("td", { "class": "available", text: job.objectsOpen + " of " + job.objectsTotal + " objects open" }),
          el("td", { "class": "mine", text: String(job.myCount) }),
          el("td", { text: duration(job.TaskTimeLimitInSeconds || 0) }),
          el("td", {}, [start])
        ]));
      });
    });
  }

  function stopTimer() {
    if (state.timer) { window.clearInterval(state.timer); state.timer = null; }
  }

  function work(job) {
    state.job = job;
    view("work-view");
    main.querySelector(".job-title").textContent = job.TaskTitle || job.LabelingJobName;
    document.getElementById("my-count").textContent = String(job.myCount || 0);
    var frame = document.getElementById("task-frame");
    frame.setAttribute("sandbox", state.config.frameSandbox);
    document.getElementById("stop-working").addEventListener("click", jobs);
    document.getElementById("decline").addEventListener("click", function () {
      if (!state.task) { return; }
      api("POST", "/tasks/" + encodeURIComponent(state.task.task_id) + "/decline").then(function (r) {
        if (r.status !== 200) { showError(r.data.message || "could not decline"); return; }
        next();
      });
    });
    next();
  }

  function next() {
    var status = document.getElementById("work-status");
    status.className = "status";
    status.textContent = "Getting the next task…";
    api("POST", "/jobs/" + encodeURIComponent(state.job.LabelingJobName) + "/claim").then(function (r) {
      var frame = document.getElementById("task-frame");
      if (r.status !== 200) {
        state.task = null;
        stopTimer();
        frame.removeAttribute("src");
        frame.hidden = true;
        document.getElementById("time-left").textContent = "–";
        status.textContent = r.data.error === "NoTaskAvailable" ?
          "No task for you right now: " + r.data.message : (r.data.message || "cannot get a task");
        status.setAttribute("data-state", "none");
        return;
      }
      state.task = r.data.task;
      status.textContent = "Task " + state.task.dataset_object_id;
      status.setAttribute("data-state", "working");
      frame.hidden = false;
      frame.src = state.task.taskUrl;
      startTimer(state.task.secondsLeft);
    });
  }

  function startTimer(seconds) {
    stopTimer();
    var ends = Date.now() + seconds * 1000;
    var shown = document.getElementById("time-left");
    function update() {
      var left = (ends - Date.now()) / 1000;
      shown.textContent = duration(left);
      if (left <= 0) {
        stopTimer();
        showError("The time for this task ran out: it went back to the pool.");
      }
    }
    update();
    state.timer = window.setInterval(update, 1000);
  }

  window.addEventListener("message", function (event) {
    var frame = document.getElementById("task-frame");
    // Only the task frame talks to us; it only asks us to look again (nothing is trusted).
    if (!frame || event.source !== frame.contentWindow) { return; }
    var result = event.data;
    if (!result || result.type !== "gt-task-result") { return; }
    if (result.status === 200) {
      var count = document.getElementById("my-count");
      count.textContent = String(typeof result.myCount === "number" ? result.myCount :
        parseInt(count.textContent, 10) + 1);
      next();
    } else {
      showError(result.message || "the answer was not accepted");
    }
  });

  // -- requester ---------------------------------------------------------------------------------
  function counterBox(name, value) {
    return el("div", { "class": "counter" }, [el("b", { text: String(value) }), el("span", { text: name })]);
  }

  function jobCard(job) {
    var name = job.LabelingJobName;
    var card = el("div", { "class": "card job", "data-job": name });
    card.appendChild(el("h2", {}, [
      el("span", { text: name + " " }),
      el("span", { "class": "status-" + job.LabelingJobStatus, text: job.LabelingJobStatus })
    ]));
    var counters = el("div", { "class": "counters" });
    var c = job.LabelCounters || {};
    ["TotalLabeled", "HumanLabeled", "MachineLabeled", "FailedNonRetryableError", "Unlabeled"].forEach(function (key) {
      counters.appendChild(counterBox(key, c[key] || 0));
    });
    card.appendChild(counters);
    if (job.FailureReason) { card.appendChild(el("p", { "class": "error", text: job.FailureReason })); }
    var actions = el("p", { "class": "actions" }, [
      el("a", { href: "/api/requester/jobs/" + encodeURIComponent(name) + "/output", target: "_blank", text: "Output manifest" }),
      el("a", { href: "/requester/jobs/" + encodeURIComponent(name) + "/report", target: "_blank", text: "Label-quality report" })
    ]);
    if (["InProgress", "Initializing"].indexOf(job.LabelingJobStatus) >= 0) {
      var stop = el("button", { type: "button", text: "Stop job" });
      stop.addEventListener("click", function () {
        api("POST", "/requester/jobs/" + encodeURIComponent(name) + "/stop").then(requester);
      });
      actions.appendChild(stop);
    }
    card.appendChild(actions);
    var answers = el("table", { "class": "grid answers" }, [
      el("thead", {}, [el("tr", {}, [el("th", { text: "Object" }), el("th", { text: "Data" }),
        el("th", { text: "Answers (worker: answer)" }), el("th", { text: "Agreement" }), el("th", { text: "Status" })])]),
      el("tbody")
    ]);
    card.appendChild(answers);
    api("GET", "/requester/jobs/" + encodeURIComponent(name) + "/answers").then(function (r) {
      if (r.status !== 200) { return; }
      var body = answers.querySelector("tbody");
      r.data.objects.slice(0, 200).forEach(function (item) {
        var list = el("ul", { "class": "answer" });
        (item.answers || []).forEach(function (a) {
          var text = JSON.stringify(a.answerContent);
          if (text.length > 140) { text = text.slice(0, 139) + "…"; }
          list.appendChild(el("li", { text: a.workerId + ": " + text }));
        });
        var data = item.dataObject || {};
        body.appendChild(el("tr", {}, [
          el("td", { text: String(item.datasetObjectId) }),
          el("td", { text: String(data["source-ref"] || data.source || "") }),
          el("td", {}, [list]),
          el("td", { text: item.agreement === null || item.agreement === undefined ? "–" : Math.round(item.agreement * 100) + " %" }),
          el("td", { text: item.status || "" })
        ]));
      });
    });
    return card;
  }

  function requester() {
    view("requester-view");
    api("GET", "/requester/jobs").then(function (r) {
      var cards = document.getElementById("job-cards");
      if (r.status !== 200) { showError(r.data.message || "cannot list jobs"); return; }
      r.data.jobs.forEach(function (job) { cards.appendChild(jobCard(job)); });
    });
    api("GET", "/requester/workers").then(function (r) {
      if (r.status !== 200) { return; }
      var body = document.querySelector("#workers-table tbody");
      r.data.workers.forEach(function (w) {
        body.appendChild(el("tr", {}, [el("td", { text: w.email }), el("td", { text: w.teams.join(", ") }),
          el("td", { text: w.hasPassword ? "set" : "–" })]));
      });
    });
    var form = document.getElementById("add-workers");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var emails = form.elements.emails.value.split(",").map(function (s) { return s.trim(); }).filter(Boolean);
      var teams = form.elements.teams.value.split(",").map(function (s) { return s.trim(); }).filter(Boolean);
      var body = { emails: emails };
      if (teams.length) { body.teams = teams; }
      api("POST", "/requester/workers", body).then(function (r) {
        var links = document.getElementById("new-links");
        if (r.status !== 200) { links.appendChild(el("li", { "class": "error", text: r.data.message })); return; }
        r.data.workers.forEach(function (w) {
          links.appendChild(el("li", { text: w.email + ": " + w.signInLink }));
        });
      });
    });
  }

  // -- start ----------------------------------------------------------------------------------------
  function start() {
    fetch("/portal-config.json", { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (config) {
      state.config = config;
      if (config.auth === "cognito" && config.signInUrl) {
        // The AWS host's sign-in (Cognito hosted UI with PKCE) is its own page.
        state.signInUrl = config.signInUrl;
      }
      return api("GET", "/me");
    }).then(function (r) {
      if (r.status === 401) {
        if (state.signInUrl) { window.location.assign(state.signInUrl); return; }
        signIn();
        return;
      }
      state.me = r.data;
      state.csrf = r.data.csrfToken || null;
      document.getElementById("who").textContent = r.data.email + (r.data.requester ? " (requester)" : "");
      var signOut = document.getElementById("sign-out");
      signOut.hidden = false;
      document.getElementById("sign-out-csrf").value = state.csrf || "";
      if (r.data.requester) { requester(); } else { jobs(); }
    }).catch(function (error) { showError("The portal cannot reach its server: " + error); });
  }

  start();
})();
