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
  // The terminal on a tunnel's page: the form's fields go in the WebSocket's first message
  // (never in a URL or a form post), keys go as they are pressed, and the server, which keeps
  // the terminal's state, sends the screen as HTML it escaped.
  function terminal(form) {
    var screen = document.getElementById("term-screen");
    var status = document.getElementById("term-status");
    var ws = null;
    function say(t) { status.textContent = t; }
    function send(m) { if (ws && ws.readyState === 1) { ws.send(JSON.stringify(m)); } }
    function size() {
      var probe = document.createElement("span");
      probe.textContent = "MMMMMMMMMM";
      screen.appendChild(probe);
      var cw = probe.getBoundingClientRect().width / 10 || 8;
      screen.removeChild(probe);
      var cols = Math.floor((screen.clientWidth - 12) / cw);
      return [Math.max(20, Math.min(400, cols || 80)), 30];
    }
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      if (ws) { ws.close(); }
      var f = form.elements, dims = size();
      var start = { t: "start", csrf: f.csrf.value, service: f.service.value, user: f.user.value,
        password: f.password.value, key: f.key.value, passphrase: f.passphrase.value,
        token: f.token.value, fingerprint: f.fingerprint.value, cols: dims[0], rows: dims[1] };
      // A source token connects once (AWS's rule without a client token): the next Connect
      // rotates it.
      f.password.value = ""; f.passphrase.value = ""; f.token.value = "";
      var scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
      var sock = new WebSocket(scheme + "//" + window.location.host + "/console/tunnels/" +
        encodeURIComponent(form.getAttribute("data-tunnel")) + "/terminal");
      ws = sock;
      say("Opening the terminal");
      sock.onopen = function () { sock.send(JSON.stringify(start)); start = null; screen.focus(); };
      sock.onmessage = function (ev) {
        var m = JSON.parse(ev.data);
        if (m.t === "screen") { screen.innerHTML = m.html; } else if (m.text) { say(m.text); }
      };
      sock.onclose = function () {
        if (status.textContent.indexOf("Closed") !== 0) { say("Closed: the connection ended"); }
        if (ws === sock) { ws = null; }
      };
    });
    document.getElementById("term-disconnect").addEventListener("click", function () {
      if (ws) { ws.close(); }
    });
    screen.addEventListener("keydown", function (e) {
      var k = e.key;
      if (!ws || e.isComposing || /^(Shift|Control|Alt|Meta|CapsLock)$/.test(k)) { return; }
      if ((e.ctrlKey || e.metaKey) && (k === "v" || k === "V")) { return; }
      e.preventDefault();
      send({ t: "key", k: k, ctrl: e.ctrlKey, alt: e.altKey });
    });
    screen.addEventListener("paste", function (e) {
      e.preventDefault();
      send({ t: "paste", d: e.clipboardData.getData("text") });
    });
    var resizing = null;
    window.addEventListener("resize", function () {
      clearTimeout(resizing);
      resizing = setTimeout(function () { var d = size(); send({ t: "resize", cols: d[0], rows: d[1] }); }, 200);
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var term = document.getElementById("terminal-form");
    if (term) { terminal(term); }
    document.querySelectorAll("[data-live]").forEach(function (el) {
      var every = parseInt(el.getAttribute("data-live"), 10) || 5;
      if (el.id) { refresh(el, every); }
    });
  });
})();
