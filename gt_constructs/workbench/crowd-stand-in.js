/* gt-constructs workbench: a local stand-in for Crowd HTML Elements.
 *
 * The preview uses it when the real elements
 * (https://assets.crowd.aws/crowd-html-elements.js) cannot be loaded, e.g.
 * offline: crowd-loader.js calls window.gtwStartStandIn(). It draws the common
 * elements readably: the image or the text, the header, the labels as chips,
 * the instructions. Selecting labels and typing work (the drawing tools are shown,
 * not implemented; a script may set an element's answer through its `value`).
 *
 * Submit follows the Mechanical Turk contract of <crowd-form> (spec §4): when the page
 * URL carries assignmentId (not ASSIGNMENT_ID_NOT_AVAILABLE) and turkSubmitTo, the
 * answer is posted to <turkSubmitTo>/mturk/externalSubmit as assignmentId and
 * taskAnswers (a JSON array with one object keyed by element name), or as dotted
 * fields with <crowd-form answer-format="flatten-objects">. Answer elements outside
 * any <crowd-form> get their own Submit, as the real self-submitting elements do.
 * Without those parameters (the workbench's preview) Submit shows the answer's JSON.
 */
(function () {
  "use strict";

  var PALETTE = ["#2ca02c", "#1f77b4", "#ff7f0e", "#d62728", "#9467bd", "#8c564b",
                 "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

  function make(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function labelList(text) {
    if (!text) { return []; }
    var value;
    try { value = JSON.parse(text); } catch (error) { return [String(text)]; }
    if (!Array.isArray(value)) { return []; }
    return value.map(function (item) {
      if (typeof item === "string") { return item; }
      if (item && typeof item === "object") {
        return String(item.label || item.fullDisplayName || item.name || JSON.stringify(item));
      }
      return String(item);
    });
  }

  function instructionsPanel(host) {
    var panel = make("div", "gtw-side gtw-instructions");
    panel.appendChild(make("h3", null, "Instructions"));
    var shortOnes = host.querySelectorAll("short-instructions");
    var fullOnes = host.querySelectorAll("full-instructions");
    Array.prototype.forEach.call(shortOnes, function (node) { panel.appendChild(node); });
    Array.prototype.forEach.call(fullOnes, function (node) {
      var details = make("details");
      details.open = true;
      details.appendChild(make("summary", null, node.getAttribute("header") || "Full instructions"));
      details.appendChild(node);
      panel.appendChild(details);
    });
    if (!shortOnes.length && !fullOnes.length) {
      panel.appendChild(make("p", "gtw-empty", "This task has no instructions."));
    }
    return panel;
  }

  function chipPanel(host, title, labels, options) {
    var panel = make("div", "gtw-labels");
    panel.appendChild(make("h3", null, title));
    if (!labels.length) {
      panel.appendChild(make("p", "gtw-empty", "No labels: the task input has none (pass --labels)."));
    }
    host._gtwSelected = [];
    labels.forEach(function (label, index) {
      var chip = make("button", "gtw-chip");
      chip.type = "button";
      chip.setAttribute("data-label", label);
      if (options.colored) {
        var swatch = make("span", "gtw-swatch");
        swatch.style.background = PALETTE[index % PALETTE.length];
        chip.appendChild(swatch);
      }
      chip.appendChild(make("span", "gtw-chip-text", label));
      if (index < 9) { chip.appendChild(make("span", "gtw-key", String(index + 1))); }
      chip.addEventListener("click", function () {
        var at = host._gtwSelected.indexOf(label);
        if (!options.multi) {
          host._gtwSelected = at >= 0 ? [] : [label];
          Array.prototype.forEach.call(panel.querySelectorAll(".gtw-chip"), function (other) {
            other.classList.remove("gtw-selected");
          });
          if (at < 0) { chip.classList.add("gtw-selected"); }
        } else if (at >= 0) {
          host._gtwSelected.splice(at, 1);
          chip.classList.remove("gtw-selected");
        } else {
          host._gtwSelected.push(label);
          chip.classList.add("gtw-selected");
        }
      });
      panel.appendChild(chip);
    });
    return panel;
  }

  function imageNode(host) {
    var image = make("img", "gtw-image");
    image.alt = "task image";
    image.src = host.getAttribute("src") || "";
    image.addEventListener("load", function () {
      host._gtwImageSize = { width: image.naturalWidth, height: image.naturalHeight };
    });
    return image;
  }

  function textNode(content) {
    var box = make("div", "gtw-text");
    if (content && content.nodeType) { box.appendChild(content); } else { box.textContent = content || ""; }
    return box;
  }

  function layout(host, media, tool, labelsTitle, labels, options) {
    var instructions = instructionsPanel(host);
    while (host.firstChild) { host.removeChild(host.firstChild); }
    var task = make("div", "gtw-task");
    task.setAttribute("data-element", host.tagName.toLowerCase());
    task.appendChild(instructions);
    var main = make("div", "gtw-main");
    main.appendChild(make("h2", "gtw-header", host.getAttribute("header") || ""));
    main.appendChild(make("div", "gtw-tool", tool));
    main.appendChild(media);
    task.appendChild(main);
    task.appendChild(chipPanel(host, labelsTitle, labels, options));
    host.appendChild(task);
  }

  var TOOLS = {
    "crowd-image-classifier": function (host) {
      layout(host, imageNode(host), "Image classification: choose one category.", "Categories",
        labelList(host.getAttribute("categories")), { multi: false });
      host._gtwValue = function () { return { label: host._gtwSelected[0] || null }; };
    },
    "crowd-image-classifier-multi-select": function (host) {
      layout(host, imageNode(host), "Multi-label image classification: choose every category that applies.",
        "Categories", labelList(host.getAttribute("categories")), { multi: true });
      host._gtwValue = function () { return { labels: host._gtwSelected.slice() }; };
    },
    "crowd-classifier": function (host) {
      var target = host.querySelector("classification-target");
      layout(host, textNode(target || host.getAttribute("text")), "Text classification: choose one category.",
        "Categories", labelList(host.getAttribute("categories")), { multi: false });
      host._gtwValue = function () { return { label: host._gtwSelected[0] || null }; };
    },
    "crowd-classifier-multi-select": function (host) {
      var target = host.querySelector("classification-target");
      layout(host, textNode(target || host.getAttribute("text")),
        "Multi-label text classification: choose every category that applies.",
        "Categories", labelList(host.getAttribute("categories")), { multi: true });
      host._gtwValue = function () { return { labels: host._gtwSelected.slice() }; };
    },
    "crowd-bounding-box": function (host) {
      layout(host, imageNode(host), "Bounding boxes: choose a label, then drag a box around each object " +
        "(drawing needs the real Crowd HTML Elements).", "Labels",
        labelList(host.getAttribute("labels")), { multi: false, colored: true });
      host._gtwValue = function () {
        return { boundingBoxes: [], inputImageProperties: host._gtwImageSize || null };
      };
    },
    "crowd-semantic-segmentation": function (host) {
      layout(host, imageNode(host), "Semantic segmentation: choose a class, then paint its pixels " +
        "(painting needs the real Crowd HTML Elements).", "Classes",
        labelList(host.getAttribute("labels")), { multi: false, colored: true });
      host._gtwValue = function () {
        return { labelMappings: {}, inputImageProperties: host._gtwImageSize || null };
      };
    },
    "crowd-instance-segmentation": function (host) {
      layout(host, imageNode(host), "Instance segmentation: choose a label, add an instance per object and " +
        "paint it (painting needs the real Crowd HTML Elements).", "Labels",
        labelList(host.getAttribute("labels")), { multi: false, colored: true });
      host._gtwValue = function () {
        return { instances: [], inputImageProperties: host._gtwImageSize || null };
      };
    },
    "crowd-entity-annotation": function (host) {
      layout(host, textNode(host.getAttribute("text")), "Named entities: choose a type, then highlight " +
        "each mention in the text (highlighting needs the real Crowd HTML Elements).", "Entity types",
        labelList(host.getAttribute("labels")), { multi: false, colored: true });
      host._gtwValue = function () { return { entities: [] }; };
    },
    "crowd-text-area": function (host) {
      var field = make("div", "gtw-field");
      field.appendChild(make("label", null, host.getAttribute("label") || host.getAttribute("name") || "Answer"));
      var area = make("textarea");
      area.rows = parseInt(host.getAttribute("rows") || "4", 10);
      area.placeholder = host.getAttribute("placeholder") || "";
      area.value = host.getAttribute("value") || host.textContent.trim();
      while (host.firstChild) { host.removeChild(host.firstChild); }
      field.appendChild(area);
      host.appendChild(field);
      host._gtwValue = function () { return area.value; };
    },
    "crowd-input": function (host) {
      var field = make("div", "gtw-field");
      field.appendChild(make("label", null, host.getAttribute("label") || host.getAttribute("name") || "Answer"));
      var input = make("input");
      input.type = host.getAttribute("type") || "text";
      input.placeholder = host.getAttribute("placeholder") || "";
      input.value = host.getAttribute("value") || "";
      field.appendChild(input);
      host.appendChild(field);
      host._gtwValue = function () { return input.value; };
    }
  };

  // The Mechanical Turk parameters of the page URL (query string or hash), or null.
  function turkParameters() {
    var found = {};
    [window.location.search, window.location.hash].forEach(function (part) {
      var text = (part || "").replace(/^[?#]/, "");
      if (!text) { return; }
      text.split("&").forEach(function (pair) {
        var at = pair.indexOf("=");
        if (at < 0) { return; }
        found[decodeURIComponent(pair.slice(0, at))] =
          decodeURIComponent(pair.slice(at + 1).replace(/\+/g, " "));
      });
    });
    if (!found.assignmentId || found.assignmentId === "ASSIGNMENT_ID_NOT_AVAILABLE" ||
        !found.turkSubmitTo) { return null; }
    return found;
  }

  function flatten(prefix, value, into) {
    if (value && typeof value === "object" && !Array.isArray(value)) {
      Object.keys(value).forEach(function (key) { flatten(prefix + "." + key, value[key], into); });
    } else {
      into.push([prefix, typeof value === "string" ? value : JSON.stringify(value)]);
    }
  }

  // Post the answer the way <crowd-form> does under Mechanical Turk.
  function turkSubmit(turk, answer, flattenObjects) {
    var form = document.createElement("form");
    form.method = "POST";
    form.action = turk.turkSubmitTo.replace(/\/+$/, "") + "/mturk/externalSubmit";
    form.style.display = "none";
    var fields = [["assignmentId", turk.assignmentId]];
    if (flattenObjects) {
      Object.keys(answer).forEach(function (name) {
        var value = answer[name];
        if (value && typeof value === "object" && !Array.isArray(value)) {
          flatten(name, value, fields);
        } else {
          fields.push([name, typeof value === "string" ? value : JSON.stringify(value)]);
        }
      });
    } else {
      fields.push(["taskAnswers", JSON.stringify([answer])]);
    }
    fields.forEach(function (field) {
      var input = document.createElement("input");
      input.type = "hidden";
      input.name = field[0];
      input.value = field[1];
      form.appendChild(input);
    });
    document.body.appendChild(form);
    form.submit();
  }

  function valueOf(node) {
    if (node._gtwOverride !== undefined) { return node._gtwOverride; }
    if (node._gtwValue) { return node._gtwValue(); }
    if ("value" in node && node.type !== "button") { return node.value; }
    return undefined;
  }

  function submitButton(collect, flattenObjects) {
    var box = make("div", "gtw-submit-box");
    var button = make("button", "gtw-submit", "Submit");
    button.type = "button";
    var output = make("pre", "gtw-output");
    output.hidden = true;
    button.addEventListener("click", function () {
      var answer = collect();
      var turk = turkParameters();
      if (turk) {
        button.disabled = true;
        button.textContent = "Submitting…";
        turkSubmit(turk, answer, flattenObjects);
        return;
      }
      output.hidden = false;
      output.textContent = "The worker's answer (what the post-annotation function reads):\n" +
        JSON.stringify(answer, null, 2);
    });
    box.appendChild(button);
    box.appendChild(output);
    return box;
  }

  function upgrade() {
    Object.keys(TOOLS).forEach(function (tag) {
      Array.prototype.forEach.call(document.querySelectorAll(tag), function (host) {
        if (!host._gtwDone) {
          host._gtwDone = true;
          TOOLS[tag](host);
          // A script (or a simulated worker) may set the answer: element.value = {...}.
          Object.defineProperty(host, "value", {
            configurable: true,
            get: function () { return valueOf(host); },
            set: function (value) { host._gtwOverride = value; }
          });
        }
      });
    });
    // Instructions outside any tool element: show their header.
    Array.prototype.forEach.call(document.querySelectorAll("full-instructions[header]"), function (node) {
      if (!node.closest(".gtw-task") && !node._gtwDone) {
        node._gtwDone = true;
        node.insertBefore(make("h3", null, node.getAttribute("header")), node.firstChild);
      }
    });
    Array.prototype.forEach.call(document.querySelectorAll("crowd-form"), function (form) {
      if (form._gtwDone) { return; }
      form._gtwDone = true;
      form.appendChild(submitButton(function () {
        var answer = {};
        Array.prototype.forEach.call(form.querySelectorAll("[name]"), function (node) {
          var value = valueOf(node);
          if (value !== undefined) { answer[node.getAttribute("name")] = value; }
        });
        return answer;
      }, form.getAttribute("answer-format") === "flatten-objects"));
    });
    // Answer elements outside any <crowd-form> submit themselves.
    Object.keys(TOOLS).forEach(function (tag) {
      Array.prototype.forEach.call(document.querySelectorAll(tag + "[name]"), function (host) {
        if (host.closest("crowd-form") || host._gtwOwnSubmit) { return; }
        host._gtwOwnSubmit = true;
        host.appendChild(submitButton(function () {
          var answer = {};
          answer[host.getAttribute("name")] = valueOf(host);
          return answer;
        }, false));
      });
    });
    document.documentElement.setAttribute("data-gtw-ready", "true");
  }

  window.gtwStartStandIn = function () {
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", upgrade);
    } else {
      upgrade();
    }
  };
})();
