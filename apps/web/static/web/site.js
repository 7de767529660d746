/* Small enhancements only: every page works without this file. */
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
    // "Select all" checkboxes for the bulk review table.
    document.querySelectorAll("[data-select-all]").forEach(function (box) {
      box.hidden = false;
      box.closest("label") && (box.closest("label").hidden = false);
      box.addEventListener("change", function () {
        document.querySelectorAll(box.getAttribute("data-select-all")).forEach(function (b) { b.checked = box.checked; });
      });
    });
  });
})();
