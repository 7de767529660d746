/* Small enhancements only: every page works without this file. No inline script anywhere: the
   pages' Content-Security-Policy allows scripts from this site only. */
(function () {
  "use strict";
  function pad(n) { return String(n).padStart(2, "0"); }
  function tick() {
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      var end = Date.parse(el.getAttribute("data-countdown"));
      if (isNaN(end)) return;
      var s = Math.floor((end - Date.now()) / 1000);
      if (s <= 0) { el.textContent = el.getAttribute("data-done") || "0"; return; }
      var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
      el.textContent = h + " h " + pad(m) + " min " + pad(s % 60) + " s";
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    tick();
    setInterval(tick, 1000);
    // "Select all" checkboxes for the bulk review: shown only when this script runs.
    document.querySelectorAll("[data-select-all]").forEach(function (box) {
      for (var el = box; el; el = el.parentElement) { if (el.hidden) el.hidden = false; }
      box.addEventListener("change", function () {
        document.querySelectorAll(box.getAttribute("data-select-all")).forEach(function (b) {
          if (!b.disabled) b.checked = box.checked;
        });
      });
    });
    // Print buttons (the crisis report): shown only when this script runs.
    document.querySelectorAll("[data-print]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () { window.print(); });
    });
    // A form asking for confirmation before a weighty step (data-confirm="question").
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
      });
    });
  });
})();
