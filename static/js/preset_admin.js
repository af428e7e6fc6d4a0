/* The simulation preset form: the run editor's generated controls write into the params and
 * actions JSON (the source of truth, validated on save and on Preview).
 *
 * The server renders every control (simulations/admin_views.py, swapped in by htmx): this
 * script only keeps the JSON textareas in step with them and asks for a fresh rendering
 * ("preset:refresh") when a value is committed, a row is added or removed, or the
 * simulation changes, so errors appear beside the control at fault. Switching the
 * simulation keeps each one's values for this page view, so switching back restores them.
 * No inline script or handler: CSP forbids them.
 */
(function () {
  "use strict";

  var NUMBER = /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

  function byId(id) { return document.getElementById(id); }

  function coerce(kind, value) {
    var text = String(value).trim();
    if (kind === "int" || kind === "float") return NUMBER.test(text) ? Number(text) : text;
    if (kind === "bool") return text === "true";
    return value;
  }

  function readJSON(box, fallback) {
    if (!box.value.trim()) return fallback;
    try { return JSON.parse(box.value); } catch (e) { return undefined; }
  }

  function writeActions(box, list) {
    box.value = list.length ? "[\n" + list.map(function (a) { return "  " + JSON.stringify(a); }).join(",\n") + "\n]" : "[]";
  }

  function controlValue(wrapper) {
    var control = wrapper.querySelector("input, select, textarea");
    return control ? coerce(wrapper.getAttribute("data-kind"), control.value) : undefined;
  }

  function init() {
    var editor = byId("preset-run-editor");
    var params = byId("id_params");
    var actions = byId("id_actions");
    var engine = byId("id_engine");
    if (!editor || !params || !actions || !engine || !window.htmx) return;

    function refresh() { window.htmx.trigger(editor, "preset:refresh"); }

    var remembered = {};
    var current = engine.value;
    engine.addEventListener("change", function () {
      remembered[current] = { params: params.value, actions: actions.value };
      current = engine.value;
      var back = remembered[current] || { params: "{}", actions: "[]" };
      params.value = back.params;
      actions.value = back.actions;
      refresh();
    });
    params.addEventListener("change", refresh);
    actions.addEventListener("change", refresh);

    // A rendering of JSON that has changed since it was asked for (the instructor typed on
    // meanwhile) would show stale values: drop it and ask again.
    var sent = null;
    function state() { return engine.value + "\u0000" + params.value + "\u0000" + actions.value; }
    editor.addEventListener("htmx:configRequest", function () { sent = state(); });
    editor.addEventListener("htmx:beforeSwap", function (event) {
      if (sent !== null && sent !== state()) {
        event.detail.shouldSwap = false;
        refresh();
      }
    });

    function rowAction(row, tag) {
      var type = row.querySelector("[data-preset-type]");
      if (type && type.value !== row.getAttribute("data-type")) {
        // Another kind of action: it starts from that kind's defaults.
        var option = type.options[type.selectedIndex];
        try { return JSON.parse(option.getAttribute("data-starter") || "{}"); } catch (e) { return {}; }
      }
      var action = {};
      if (tag && type) action[tag] = type.value;
      row.querySelectorAll("[data-preset-action-field]").forEach(function (field) {
        action[field.getAttribute("data-name")] = controlValue(field);
      });
      return action;
    }

    function syncActions() {
      var table = document.querySelector("#preset-actions-editor table[data-tag]");
      if (!table) return;
      var tag = table.getAttribute("data-tag");
      var list = [];
      table.querySelectorAll("[data-preset-action-row]").forEach(function (row) {
        var step = row.querySelector("[data-preset-step]");
        list.push({ step: coerce("int", step ? step.value : ""), action: rowAction(row, tag) });
      });
      writeActions(actions, list);
    }

    function onEdit(event) {
      var target = event.target;
      if (!(target instanceof Element)) return;
      var param = target.closest("[data-preset-param]");
      if (param && editor.contains(param)) {
        var values = readJSON(params, {});
        if (!values || typeof values !== "object" || Array.isArray(values)) values = {};
        values[param.getAttribute("data-name")] = controlValue(param);
        params.value = JSON.stringify(values, null, 1).replace(/\n\s*/g, " ");
        if (event.type === "change") refresh();
        return;
      }
      if (target.closest("#preset-actions-editor [data-preset-action-row]")) {
        syncActions();
        if (event.type === "change") refresh();
      }
    }
    document.addEventListener("input", onEdit);
    document.addEventListener("change", onEdit);

    document.addEventListener("click", function (event) {
      var target = event.target instanceof Element ? event.target : null;
      if (!target) return;
      var add = target.closest("[data-preset-add-action]");
      var remove = target.closest("[data-preset-remove-action]");
      if (!add && !remove) return;
      var list = readJSON(actions, []);
      if (!Array.isArray(list)) return;
      if (add) {
        var last = list.length ? list[list.length - 1] : null;
        var step = last && typeof last.step === "number" ? last.step + 1 : 0;
        var starter = {};
        try { starter = JSON.parse(add.getAttribute("data-starter") || "{}"); } catch (e) { /* none */ }
        list.push({ step: step, action: starter });
        writeActions(actions, list);
        refresh();
        editor.addEventListener("htmx:afterSettle", function focusNew() {
          editor.removeEventListener("htmx:afterSettle", focusNew);
          var fresh = byId("preset-a" + (list.length - 1) + "-step");
          if (fresh) fresh.focus();
        });
      } else {
        list.splice(parseInt(remove.getAttribute("data-preset-remove-action"), 10), 1);
        writeActions(actions, list);
        refresh();
        editor.addEventListener("htmx:afterSettle", function keepFocus() {
          editor.removeEventListener("htmx:afterSettle", keepFocus);
          if (document.activeElement === document.body || !document.activeElement) {
            var next = byId("preset-add-action");
            if (next) next.focus();
          }
        });
      }
    });

    // A new preset takes the chosen simulation's own topic when none is chosen yet.
    editor.addEventListener("htmx:afterSettle", function () {
      var fieldset = editor.querySelector("[data-topic-id]");
      var topic = byId("id_topic");
      if (!fieldset || !topic || topic.value) return;
      var id = fieldset.getAttribute("data-topic-id");
      var found = Array.prototype.some.call(topic.options, function (o) { return id && o.value === id; });
      if (found) {
        topic.value = id;
        topic.dispatchEvent(new Event("change", { bubbles: true }));
      }
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
