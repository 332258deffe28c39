// Auto-refresh toggle for the prediction log page. Loaded from /admin-static (no inline
// scripts: the CSP forbids them). The choice survives reloads; a reload waits while a row is
// open or a filter has focus, so it never yanks what the admin is reading.
(function () {
  "use strict";
  var box = document.getElementById("auto-refresh");
  if (!box) { return; }
  var KEY = "lungrisk.logs.autoRefresh";
  var timer = null;
  document.documentElement.classList.add("js");

  function busy() {
    var active = document.activeElement;
    return document.querySelector("details.entry[open]") !== null ||
      (active && active.closest && active.closest("form.filters") !== null);
  }

  function tick() {
    if (!busy()) { window.location.reload(); }
  }

  function apply() {
    if (timer) { window.clearInterval(timer); timer = null; }
    var seconds = parseInt(box.getAttribute("data-seconds"), 10) || 10;
    if (box.checked) { timer = window.setInterval(tick, seconds * 1000); }
  }

  box.checked = window.localStorage.getItem(KEY) === "1";
  box.addEventListener("change", function () {
    window.localStorage.setItem(KEY, box.checked ? "1" : "0");
    apply();
  });
  apply();
}());
