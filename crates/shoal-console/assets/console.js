// Live parts of the console: an element with data-live="SECONDS" is replaced by the same
// element of a fresh copy of the page every SECONDS, so a job's progress or an alarm's state
// moves without a reload.
(function () {
  "use strict";
  function refresh(el, every) {
    setTimeout(function () {
      fetch(window.location.href, { credentials: "same-origin", headers: { "x-shoal-live": "1" } })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (text) {
          if (text) {
            var doc = new DOMParser().parseFromString(text, "text/html");
            var fresh = doc.getElementById(el.id);
            if (fresh) { el.replaceWith(fresh); el = fresh; }
          }
          refresh(el, every);
        })
        .catch(function () { refresh(el, every); });
    }, every * 1000);
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-live]").forEach(function (el) {
      var every = parseInt(el.getAttribute("data-live"), 10) || 5;
      if (el.id) { refresh(el, every); }
    });
  });
})();
