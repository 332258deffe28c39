// The prediction log page's behaviour. Loaded from /admin-static (no inline scripts: the CSP
// forbids them).
//
// Rows: each entry's details are a row below it, collapsed here behind the button in the
// entry's first cell (aria-expanded says which); without script they stay open.
//
// Auto-refresh: the choice survives reloads; a reload waits while a row is open or a filter has
// focus, so it never yanks what the admin is reading.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function setOpen(button, open) {
    var detail = document.getElementById(button.getAttribute("aria-controls"));
    button.setAttribute("aria-expanded", open ? "true" : "false");
    if (detail) { detail.hidden = !open; }
    var entry = button.closest("tbody.entry");
    if (entry) { entry.classList.toggle("open", open); }
  }

  Array.prototype.forEach.call(document.querySelectorAll("tbody.entry button.expand"), function (button) {
    setOpen(button, false);
    button.addEventListener("click", function () {
      setOpen(button, button.getAttribute("aria-expanded") !== "true");
    });
  });

  var box = document.getElementById("auto-refresh");
  if (!box) { return; }
  var KEY = "lungrisk.logs.autoRefresh";
  var timer = null;

  function busy() {
    var active = document.activeElement;
    return document.querySelector("tbody.entry button.expand[aria-expanded='true']") !== null ||
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
