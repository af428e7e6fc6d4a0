/* Simulation panels: the little that htmx's ws extension does not do by itself.
 *
 * - Resume after a reconnect: the extension reconnects (close codes 1006/1011/1012/1013)
 *   to the URL it read from ws-connect when the page loaded. htmx.createWebSocket is its
 *   documented hook for building the socket, so we wrap it and put the run, step, play
 *   state and speed the page currently shows (kept up to date on the permalink element by
 *   every server message) into that URL's query: a restarted server resumes there.
 * - Keyboard: Space play/pause, ArrowRight step, ArrowLeft back, when focus is in a panel
 *   or on the page itself (never while typing in a field).
 * - Focus survives out-of-band swaps (the extension replaces elements wholesale).
 * - The timeline is not replaced under a pointer that is dragging it.
 * - The event log keeps its last 200 lines and follows new ones when scrolled to the end.
 * - Connection status, and "Copy link".
 * - Progressive enhancement: each panel gets `sim-panel--js`, which shows its controls
 *   (hidden without JavaScript, since they need the socket).
 * - The panel's <details data-sim-remember> and its internals checkbox are remembered per
 *   browser (localStorage), so a learner who opened "More" once finds it open again.
 * - The address bar follows the run: after a message that leaves the run paused (pause,
 *   step, seek, action...), history.replaceState puts ?run=...&step=... in the URL, so a
 *   reload or Back keeps the learner's place. Only once the learner has used the panel.
 */
(function () {
  "use strict";

  var LOG_LIMIT = 200;
  var REPEAT_MS = 110;
  // Close codes and their reasons come from the server (simulations/wire.py), on each
  // panel's data-sim-wire attribute: one source for both sides.
  function wireOf(panel) {
    try {
      return JSON.parse(panel.getAttribute("data-sim-wire") || "{}");
    } catch (e) {
      return {};
    }
  }

  function panelOf(el) {
    return el && el.closest ? el.closest("[data-sim-panel]") : null;
  }

  // ---- resume on reconnect -------------------------------------------------------------

  function resumeUrl(url) {
    var u;
    try {
      u = new URL(url, location.href);
    } catch (e) {
      return url;
    }
    var prefix = u.searchParams.get("panel");
    var link = prefix && document.getElementById(prefix + "-permalink");
    if (!link) return url;
    var state = new URL(link.getAttribute("href"), location.href);
    var run = state.searchParams.get("run");
    if (run) u.searchParams.set("run", run);
    u.searchParams.set("step", link.getAttribute("data-step") || "0");
    u.searchParams.set("playing", link.getAttribute("data-playing") === "1" ? "1" : "0");
    u.searchParams.set("speed", link.getAttribute("data-speed") || "1");
    return u.toString();
  }

  function installResume() {
    if (!window.htmx || typeof htmx.createWebSocket !== "function" || htmx.createWebSocket.simResume) return;
    var original = htmx.createWebSocket;
    var wrapped = function (url) {
      return original(resumeUrl(url));
    };
    wrapped.simResume = true;
    htmx.createWebSocket = wrapped;
  }

  installResume();

  // ---- connection status ----------------------------------------------------------------

  function setStatus(panel, state, text) {
    var el = panel && document.getElementById(panel.id + "-status");
    if (!el) return;
    el.setAttribute("data-state", state);
    var label = el.querySelector(".sim-status__text");
    (label || el).textContent = text;
  }

  document.addEventListener("htmx:wsConnecting", function (e) {
    var panel = panelOf(e.target);
    if (panel && panel.getAttribute("data-ever-open")) setStatus(panel, "reconnecting", "Reconnecting…");
  });
  document.addEventListener("htmx:wsOpen", function (e) {
    var panel = panelOf(e.target);
    if (!panel) return;
    panel.setAttribute("data-ever-open", "1");
    setStatus(panel, "open", "Live");
  });
  document.addEventListener("htmx:wsClose", function (e) {
    var panel = panelOf(e.target);
    if (!panel) return;
    var code = e.detail && e.detail.event ? e.detail.event.code : 0;
    var wire = wireOf(panel);
    if ((wire.retry || []).indexOf(code) >= 0) setStatus(panel, "reconnecting", "Connection lost: reconnecting…");
    else setStatus(panel, "closed", (wire.close || {})[String(code)] || "Disconnected. Reload the page to continue.");
  });

  // ---- enhancement and remembered disclosure ----------------------------------------------

  var STORE = "sim-ui:";
  function remembered(key) {
    try {
      return window.localStorage.getItem(STORE + key);
    } catch (e) {
      return null;
    }
  }
  function remember(key, value) {
    try {
      window.localStorage.setItem(STORE + key, value);
    } catch (e) {
      /* storage off: nothing is remembered */
    }
  }

  function setInternals(panel, on) {
    if (on) panel.setAttribute("data-sim-internals", "1");
    else panel.removeAttribute("data-sim-internals");
  }

  function enhance(root) {
    var panels = root.matches && root.matches("[data-sim-panel]") ? [root] : [];
    if (root.querySelectorAll) panels = panels.concat(Array.prototype.slice.call(root.querySelectorAll("[data-sim-panel]")));
    panels.forEach(function (panel) {
      if (panel.classList.contains("sim-panel--js")) return;
      panel.classList.add("sim-panel--js");
      panel.querySelectorAll("details[data-sim-remember]").forEach(function (d) {
        var saved = remembered("open:" + d.getAttribute("data-sim-remember"));
        if (saved === "1") d.open = true;
        else if (saved === "0") d.open = false;
        d.addEventListener("toggle", function () {
          remember("open:" + d.getAttribute("data-sim-remember"), d.open ? "1" : "0");
        });
      });
      var box = panel.querySelector("input[data-sim-internals]");
      if (box) {
        box.checked = remembered("internals") === "1";
        setInternals(panel, box.checked);
        box.addEventListener("change", function () {
          remember("internals", box.checked ? "1" : "0");
          setInternals(panel, box.checked);
        });
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () {
      enhance(document);
    });
  } else {
    enhance(document);
  }
  document.addEventListener("htmx:load", function (e) {
    if (e.target) enhance(e.target);
  });

  // ---- the address bar follows the run ---------------------------------------------------

  var touched = new WeakSet();
  ["submit", "change", "input"].forEach(function (type) {
    document.addEventListener(type, function (e) {
      var panel = panelOf(e.target);
      if (panel) touched.add(panel);
    }, true);
  });

  function followRun(panel) {
    if (!touched.has(panel) || !window.history || !history.replaceState) return;
    var link = document.getElementById(panel.id + "-permalink");
    if (!link || link.getAttribute("data-playing") === "1") return;
    var state;
    try {
      state = new URL(link.getAttribute("href"), location.href);
    } catch (e) {
      return;
    }
    var run = state.searchParams.get("run");
    if (!run) return;
    var here = new URL(location.href);
    if (here.searchParams.get("run") === run && here.searchParams.get("step") === link.getAttribute("data-step")) return;
    here.searchParams.set("run", run);
    here.searchParams.set("step", link.getAttribute("data-step") || "0");
    history.replaceState(history.state, "", here.pathname + here.search + here.hash);
  }

  // ---- focus, timeline drag, log -----------------------------------------------------

  var dragging = null;
  document.addEventListener("pointerdown", function (e) {
    if (e.target.classList && e.target.classList.contains("sim-timeline")) dragging = e.target.id;
  });
  ["pointerup", "pointercancel"].forEach(function (type) {
    document.addEventListener(type, function () {
      dragging = null;
    });
  });
  document.addEventListener("htmx:oobBeforeSwap", function (e) {
    var target = e.detail && e.detail.target;
    if (target && dragging && target.id === dragging) e.detail.shouldSwap = false;
  });

  var pending = new WeakMap();
  document.addEventListener("htmx:wsBeforeMessage", function (e) {
    var panel = panelOf(e.target);
    if (!panel) return;
    var active = document.activeElement;
    var log = document.getElementById(panel.id + "-log");
    pending.set(panel, {
      focusId: active && active.id && panel.contains(active) ? active.id : null,
      follow: log ? log.scrollTop + log.clientHeight >= log.scrollHeight - 8 : false
    });
  });
  document.addEventListener("htmx:wsAfterMessage", function (e) {
    var panel = panelOf(e.target);
    if (!panel) return;
    var before = pending.get(panel) || {};
    var active = document.activeElement;
    if (before.focusId && (!active || active === document.body || !active.isConnected || active.id !== before.focusId)) {
      var again = document.getElementById(before.focusId);
      if (again && (!active || active === document.body || !panel.contains(active) || !active.isConnected)) {
        again.focus({ preventScroll: true });
      }
    }
    var log = document.getElementById(panel.id + "-log");
    if (log) {
      while (log.children.length > LOG_LIMIT) log.removeChild(log.firstElementChild);
      if (before.follow) log.scrollTop = log.scrollHeight;
    }
    acknowledge(panel, e.detail && e.detail.socketWrapper);
    followRun(panel);
  });

  // ---- flow control ---------------------------------------------------------------------
  // Every message ends with a marker; when the server asks (data-ack), echo its seq and
  // token, which only a page that read the message knows. Past a few unread messages the
  // server sends nothing more until it hears this (simulations/limits.py, SendWindow).

  var acked = new WeakMap();
  function acknowledge(panel, socket) {
    var marker = document.getElementById(panel.id + "-ack");
    if (!marker || !socket || marker.getAttribute("data-ack") !== "1") return;
    var seq = marker.getAttribute("data-seq");
    if (acked.get(panel) === seq) return;
    acked.set(panel, seq);
    socket.send(JSON.stringify({ cmd: "ack", seq: seq, token: marker.getAttribute("data-token") }), panel);
  }
  document.addEventListener("htmx:wsOpen", function (e) {
    var panel = panelOf(e.target);
    if (panel) acked.delete(panel);
  });

  // ---- keyboard -------------------------------------------------------------------------

  function isTyping(el) {
    if (!el || !el.tagName) return false;
    var tag = el.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT" || el.isContentEditable) return true;
    if (tag === "INPUT") {
      var type = (el.getAttribute("type") || "text").toLowerCase();
      return ["button", "submit", "reset", "checkbox", "radio"].indexOf(type) < 0;
    }
    return false;
  }

  function visibleArea(el) {
    var r = el.getBoundingClientRect();
    var h = Math.min(r.bottom, window.innerHeight) - Math.max(r.top, 0);
    var w = Math.min(r.right, window.innerWidth) - Math.max(r.left, 0);
    return h > 0 && w > 0 ? h * w : 0;
  }

  function mostVisiblePanel() {
    var best = null;
    var bestArea = 0;
    document.querySelectorAll("[data-sim-panel]").forEach(function (panel) {
      var area = visibleArea(panel);
      if (area > bestArea) {
        best = panel;
        bestArea = area;
      }
    });
    return best;
  }

  var lastKeyAt = 0;
  document.addEventListener("keydown", function (e) {
    if (e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey || e.shiftKey) return;
    var key = e.key;
    if (key !== " " && key !== "ArrowRight" && key !== "ArrowLeft") return;
    var target = e.target;
    var panel = panelOf(target);
    if (!panel) {
      var onPage = target === document.body || target === document.documentElement || target.id === "main";
      if (!onPage) return;
      panel = mostVisiblePanel();
      if (!panel) return;
    }
    if (isTyping(target)) return;
    var tag = target.tagName;
    if (key === " " && (tag === "BUTTON" || tag === "A" || tag === "SUMMARY" || tag === "INPUT")) return;
    e.preventDefault();
    var now = Date.now();
    if (e.repeat && now - lastKeyAt < REPEAT_MS) return; // stay well inside the server's rate limit
    lastKeyAt = now;
    var which = key === " " ? "play" : key === "ArrowRight" ? "step" : "back";
    var button = panel.querySelector('[data-sim-key="' + which + '"]');
    if (button) button.click();
  });

  // ---- forms and copy -------------------------------------------------------------------

  document.addEventListener("submit", function (e) {
    if (e.target.matches && e.target.matches("[data-sim-nosubmit]")) e.preventDefault();
  });

  document.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest("[data-sim-copy]");
    if (!button) return;
    var panel = panelOf(button);
    var link = panel && document.getElementById(panel.id + "-permalink");
    if (!link) return;
    var href = link.href;
    var done = function (text) {
      var original = button.getAttribute("data-label") || button.textContent;
      button.setAttribute("data-label", original);
      button.textContent = text;
      setTimeout(function () {
        button.textContent = original;
      }, 2000);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(href).then(
        function () {
          done("Copied");
        },
        function () {
          window.prompt("Copy this link:", href);
        }
      );
    } else {
      window.prompt("Copy this link:", href);
    }
  });
})();
