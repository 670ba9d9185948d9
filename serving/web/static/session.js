/* dermatriage pages: the session's idle timeout, said before it happens.
   The page carries <meta name="session-seconds-left">: two minutes before the session would end, a
   banner offers "Stay signed in" (GET /session/ping, a request of the user's, restarts the idle
   clock). Left alone, the page reloads when the session has ended: the server sends it to the sign-in
   page, which says why and comes back here; what was typed is kept by drafts.js.
   Every tab writes its deadline to localStorage, so a tab used in the meantime keeps the others quiet. */
(function () {
  "use strict";

  var WARN_BEFORE = 120; // seconds
  var KEY = "dermatriage:session-ends";
  var meta = document.querySelector('meta[name="session-seconds-left"]');
  if (!meta) return;

  var ownDeadline = Date.now() + Number(meta.content) * 1000;
  var banner = null;
  var text = null;
  var count = null;
  var timer = null;

  function stored() {
    try { return Number(window.localStorage.getItem(KEY)) || 0; } catch (e) { return 0; }
  }

  function remember(deadline) {
    ownDeadline = deadline;
    try { window.localStorage.setItem(KEY, String(deadline)); } catch (e) { /* private mode */ }
  }

  function deadline() { return Math.max(ownDeadline, stored()); }

  function left() { return Math.round((deadline() - Date.now()) / 1000); }

  function clock(seconds) {
    var s = Math.max(0, seconds);
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }

  function build() {
    banner = document.createElement("div");
    banner.className = "session-warning";
    banner.id = "session-warning";
    banner.setAttribute("role", "alert");
    text = document.createElement("p");
    text.textContent = "Your session is about to end without activity. What you typed is kept in this browser. ";
    count = document.createElement("span");
    count.className = "session-left";
    count.setAttribute("aria-hidden", "true");
    text.appendChild(count);
    var button = document.createElement("button");
    button.type = "button";
    button.className = "primary";
    button.textContent = "Stay signed in";
    button.addEventListener("click", stay);
    banner.appendChild(text);
    banner.appendChild(button);
    banner.hidden = true;
    document.body.insertBefore(banner, document.body.firstChild);
  }

  function stay() {
    fetch("/session/ping", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        var json = (response.headers.get("content-type") || "").indexOf("application/json") === 0;
        if (!response.ok || response.redirected || !json) { window.location.reload(); return null; }
        return response.json();
      })
      .then(function (body) {
        if (!body) return;
        remember(Date.now() + body.seconds_left * 1000);
        banner.hidden = true;
        check();
      })
      .catch(function () { /* offline: the next check says it again */ });
  }

  function check() {
    var seconds = left();
    if (seconds <= -2) { // a margin: a reload before the server's deadline would count as activity
      clearInterval(timer);
      window.location.reload(); // the server sends an ended session to the sign-in page
      return;
    }
    if (seconds <= WARN_BEFORE) {
      count.textContent = "Time left: " + clock(seconds) + ".";
      banner.hidden = false;
    } else {
      banner.hidden = true;
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    remember(ownDeadline);
    build();
    check();
    timer = setInterval(check, 1000);
  });
})();
