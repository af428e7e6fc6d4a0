/* Reorder a topic's key features, use cases and related items with ↑/↓ buttons.
 *
 * Each row of an admin inline whose fieldset has the class "ordered-rows" gets two
 * buttons; moving a row renumbers the rows' order fields in their new sequence, so
 * nobody types numbers. Blank rows (a new row not filled in yet) keep their number:
 * changing it would make Django validate an empty row. Without JavaScript the order
 * numbers stay editable. No inline script or style: CSP forbids them.
 */
(function () {
  "use strict";

  function orderInput(row) {
    return row.querySelector('input[name$="-order"]');
  }

  function isFilled(row) {
    var id = row.querySelector('input[type="hidden"][name$="-id"]');
    if (id && id.value) return true;
    var fields = row.querySelectorAll("input:not([type=hidden]):not([type=checkbox]), textarea, select");
    for (var i = 0; i < fields.length; i++) {
      var name = fields[i].name || "";
      if (/-order$/.test(name)) continue;
      if (fields[i].value && fields[i].value.trim() !== "") return true;
    }
    return false;
  }

  function rowsOf(body) {
    return Array.prototype.filter.call(body.children, function (row) {
      return row.classList.contains("form-row") && !row.classList.contains("empty-form") && orderInput(row);
    });
  }

  function renumber(body) {
    var rows = rowsOf(body).filter(isFilled);
    var values = rows.map(function (row) { return parseInt(orderInput(row).value, 10); });
    var sorted = values.slice().sort(function (a, b) { return a - b; });
    var distinct = sorted.every(function (v, i) { return !isNaN(v) && (i === 0 || v !== sorted[i - 1]); });
    rows.forEach(function (row, i) {
      var value = String(distinct ? sorted[i] : i);
      var input = orderInput(row);
      if (input.value !== value) input.value = value;
    });
    updateButtons(body);
  }

  function rowLabel(row) {
    var field = row.querySelector('input[name$="-text"], select[name$="-item"]');
    if (!field) return "this row";
    if (field.tagName === "SELECT") {
      var option = field.options[field.selectedIndex];
      return option && option.value ? option.text : "this row";
    }
    return field.value ? "“" + field.value + "”" : "this row";
  }

  function updateButtons(body) {
    var rows = rowsOf(body);
    rows.forEach(function (row, i) {
      var up = row.querySelector(".order-move--up");
      var down = row.querySelector(".order-move--down");
      if (!up || !down) return;
      up.disabled = i === 0;
      down.disabled = i === rows.length - 1;
      var label = rowLabel(row);
      up.setAttribute("aria-label", "Move " + label + " up");
      down.setAttribute("aria-label", "Move " + label + " down");
    });
  }

  function move(row, direction) {
    var body = row.parentNode;
    var rows = rowsOf(body);
    var index = rows.indexOf(row);
    var other = rows[index + direction];
    if (!other) return;
    if (direction < 0) body.insertBefore(row, other);
    else body.insertBefore(other, row);
    renumber(body);
    var button = row.querySelector(direction < 0 ? ".order-move--up" : ".order-move--down");
    if (button && !button.disabled) button.focus();
    else {
      var fallback = row.querySelector(".order-move:not([disabled])");
      if (fallback) fallback.focus();
    }
  }

  function button(kind, text) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "order-move order-move--" + kind;
    b.textContent = text;
    return b;
  }

  function enhanceRow(row) {
    var input = orderInput(row);
    if (!input || row.querySelector(".order-move")) return;
    input.readOnly = true;
    input.tabIndex = -1;
    input.classList.add("order-input--auto");
    var controls = document.createElement("span");
    controls.className = "order-controls";
    var up = button("up", "↑");
    var down = button("down", "↓");
    up.addEventListener("click", function () { move(row, -1); });
    down.addEventListener("click", function () { move(row, 1); });
    controls.appendChild(up);
    controls.appendChild(down);
    input.parentNode.appendChild(controls);
  }

  function enhance(fieldset) {
    var body = fieldset.querySelector("tbody");
    if (!body || fieldset.classList.contains("ordered-rows--js")) return;
    fieldset.classList.add("ordered-rows--js");
    rowsOf(body).forEach(enhanceRow);
    updateButtons(body);
    // A blank row that gets filled in takes the next number in the sequence.
    body.addEventListener("input", function () { renumber(body); });
    body.addEventListener("change", function () { renumber(body); });
    var form = fieldset.closest("form");
    if (form) form.addEventListener("submit", function () { renumber(body); });
  }

  function init() {
    document.querySelectorAll("fieldset.ordered-rows").forEach(enhance);
  }

  document.addEventListener("formset:added", function (event) {
    var row = event.target;
    var fieldset = row && row.closest && row.closest("fieldset.ordered-rows");
    if (!fieldset) return;
    enhanceRow(row);
    renumber(row.parentNode);
  });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
