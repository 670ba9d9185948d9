/* The queue page: rows that open their case on a click, live updates (polls /queue/live every 3 s and
   swaps the rows in when the queue changed), an alert banner for a new emergency and an optional beep
   (off by default; the choice is kept in localStorage). Stops and says so when the session has ended. */
(function () {
  "use strict";

  var POLL_MS = 3000;
  var MAX_BACKOFF_MS = 30000;
  var SOUND_KEY = "dermatriage.queue.sound";
  var INTERACTIVE = "a, button, input, select, textarea, label, summary, form";

  // --- a click anywhere on a row opens its case (the row's link stays the keyboard focus target) ---
  function rowLink(target) {
    if (!target || !target.closest || target.closest(INTERACTIVE)) return null;
    var row = target.closest("tr[data-case]");
    return row ? row.querySelector("a.row-link") : null;
  }

  function onRowClick(event) {
    if (event.defaultPrevented || event.button > 1) return;
    var link = rowLink(event.target);
    if (!link) return;
    var selection = window.getSelection && window.getSelection();
    if (selection && String(selection) !== "") return; // selecting text is not a click on the row
    if (event.button === 1 || event.ctrlKey || event.metaKey || event.shiftKey) {
      window.open(link.href, "_blank", "noopener");
    } else {
      link.click();
    }
  }

  // --- the audible alert: a short WebAudio beep, only when the user turned it on ---
  var audio = null;

  function soundOn() {
    try { return window.localStorage.getItem(SOUND_KEY) === "on"; } catch (e) { return false; }
  }

  function unlockAudio() {
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return null;
    if (!audio) audio = new Ctx();
    if (audio.state === "suspended" && audio.resume) audio.resume();
    return audio;
  }

  function beep() {
    var ctx = unlockAudio();
    if (!ctx) return;
    [0, 0.25].forEach(function (start) {
      var osc = ctx.createOscillator();
      var gain = ctx.createGain();
      var t = ctx.currentTime + start;
      osc.type = "sine";
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.0001, t);
      gain.gain.exponentialRampToValueAtTime(0.25, t + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.18);
      osc.connect(gain).connect(ctx.destination);
      osc.start(t);
      osc.stop(t + 0.2);
    });
  }

  function setUpSound() {
    var box = document.getElementById("alert-sound");
    if (!box) return;
    box.checked = soundOn();
    box.addEventListener("change", function () {
      try { window.localStorage.setItem(SOUND_KEY, box.checked ? "on" : "off"); } catch (e) { /* private mode */ }
      if (box.checked) beep(); // a gesture: unlocks the audio, and lets the user hear what it sounds like
    });
    // browsers start audio only after a gesture on the page: the first one unlocks it when sound is on
    var unlock = function () {
      if (soundOn()) unlockAudio();
      document.removeEventListener("pointerdown", unlock);
      document.removeEventListener("keydown", unlock);
    };
    document.addEventListener("pointerdown", unlock);
    document.addEventListener("keydown", unlock);
  }

  // --- alerts ---
  function rowsOf(root, selector) {
    var out = {};
    root.querySelectorAll(selector).forEach(function (row) { out[row.dataset.case] = row; });
    return out;
  }

  function describe(row) {
    var site = row.querySelector("td.site");
    var who = row.querySelector(".age-sex");
    var parts = [];
    if (who) parts.push(who.textContent.trim());
    if (site) parts.push(site.textContent.trim());
    return parts.join(", ");
  }

  function showAlert(kind, rows) {
    // an emergency is announced at once (role="alert"); a returning case politely (role="status")
    var box = document.getElementById(kind === "emergency" ? "queue-alerts" : "queue-notices");
    if (!box || !rows.length) return;
    rows.forEach(function (row) {
      var link = row.querySelector("a.row-link");
      var item = document.createElement("div");
      item.className = "queue-alert queue-alert-" + kind;
      item.dataset.case = row.dataset.case;
      var what = document.createElement("span");
      var text = document.createElement("strong");
      text.textContent = kind === "emergency" ? "New emergency" : "Case back from the patient";
      what.appendChild(text);
      var detail = describe(row);
      var badges = Array.prototype.map.call(row.querySelectorAll(".returning"), function (b) { return b.textContent; });
      if (kind === "returning" && badges.length) detail = badges.join(", ") + (detail ? " · " + detail : "");
      if (detail) what.appendChild(document.createTextNode(": " + detail + "."));
      item.appendChild(what);
      var open = document.createElement("a");
      open.href = link ? link.getAttribute("href") : "/cases/" + row.dataset.case;
      open.textContent = "Open the case";
      item.appendChild(open);
      var dismiss = document.createElement("button");
      dismiss.type = "button";
      dismiss.className = "link dismiss";
      dismiss.textContent = "Dismiss";
      dismiss.addEventListener("click", function () { item.remove(); });
      item.appendChild(dismiss);
      box.appendChild(item);
    });
    if (kind === "emergency" && soundOn()) beep();
  }

  // --- the live part: polled, swapped in place, focus kept ---
  function liveState(text, kind) {
    var state = document.getElementById("live-state");
    if (!state) return;
    if (state.textContent !== text) state.textContent = text;
    state.className = "live-state" + (kind ? " live-" + kind : "");
  }

  function focused(region) {
    var active = document.activeElement;
    if (!active || !region.contains(active)) return null;
    var row = active.closest("tr[data-case]");
    if (!row) return null;
    return { case: row.dataset.case, link: active.matches("a.row-link") };
  }

  function refocus(region, was) {
    if (!was) return;
    var row = region.querySelector('tr[data-case="' + was.case + '"]');
    var target = row && row.querySelector(was.link ? "a.row-link" : "button, a.row-link");
    if (target) target.focus();
  }

  function swap(region, data) {
    var emergencyBefore = rowsOf(region, "section.emergency-box tr[data-case]");
    var returningBefore = rowsOf(region, "tr[data-case]");
    var was = focused(region);
    region.innerHTML = data.html;
    region.dataset.version = data.version;
    refocus(region, was);
    var emergencyAfter = rowsOf(region, "section.emergency-box tr[data-case]");
    var fresh = Object.keys(emergencyAfter).filter(function (id) { return !emergencyBefore[id]; });
    showAlert("emergency", fresh.map(function (id) { return emergencyAfter[id]; }));
    var back = [];
    region.querySelectorAll("tr[data-case]").forEach(function (row) {
      if (!returningBefore[row.dataset.case] && !emergencyAfter[row.dataset.case] && row.querySelector(".returning")) {
        back.push(row);
      }
    });
    showAlert("returning", back);
  }

  function start(region) {
    var url = region.dataset.liveUrl;
    if (!url || !window.fetch) return;
    var delay = POLL_MS;
    var pending = null;
    var pointerDown = false;
    var stopped = false;

    document.addEventListener("pointerdown", function () { pointerDown = true; });
    // rows do not move under a press: an update that comes meanwhile waits for the release
    var release = function () {
      pointerDown = false;
      if (pending) { var data = pending; pending = null; swap(region, data); }
    };
    document.addEventListener("pointerup", release);
    document.addEventListener("pointercancel", release);
    window.addEventListener("blur", release);

    function signedOut(why) {
      stopped = true;
      liveState("Signed out: live updates stopped.", "off");
      var box = document.getElementById("queue-alerts");
      if (!box) return;
      box.textContent = "";
      var item = document.createElement("div");
      item.className = "queue-alert queue-alert-signed-out";
      var text = "You are signed out" + (why ? " (" + why + ")" : "") + ", so the queue no longer updates. ";
      item.appendChild(document.createTextNode(text));
      var link = document.createElement("a");
      link.href = "/sign-in?next=" + encodeURIComponent(location.pathname + location.search);
      link.textContent = "Sign in again";
      item.appendChild(link);
      box.appendChild(item);
    }

    function next(ms) { if (!stopped) window.setTimeout(poll, ms); }

    function poll() {
      var sep = url.indexOf("?") < 0 ? "?" : "&";
      fetch(url + sep + "since=" + encodeURIComponent(region.dataset.version || ""), {
        credentials: "same-origin",
        cache: "no-store",
        redirect: "manual",
        headers: { Accept: "application/json" }
      }).then(function (r) {
        if (r.type === "opaqueredirect") { signedOut(""); return; }
        if (r.status === 401) {
          return r.json().then(function (body) {
            var error = (body && body.error) || {};
            var why = error.ended ? /\(([^)]*)\)/.exec(error.message || "") : null; // idle, or expired
            signedOut(why ? why[1] : "");
          }, function () { signedOut(""); });
        }
        if (r.status === 204) { delay = POLL_MS; liveState("Live updates on.", ""); next(delay); return; }
        if (r.status === 429) {
          var after = parseInt(r.headers.get("Retry-After") || "", 10);
          next(Math.min(MAX_BACKOFF_MS, (after > 0 ? after * 1000 : delay * 2)));
          return;
        }
        if (!r.ok) throw new Error("status " + r.status);
        return r.json().then(function (data) {
          delay = POLL_MS;
          liveState("Live updates on.", "");
          if (pointerDown) pending = data; else swap(region, data);
          next(delay);
        });
      }).catch(function () {
        delay = Math.min(MAX_BACKOFF_MS, delay * 2);
        liveState("Live updates paused: no connection, trying again.", "paused");
        next(delay);
      });
    }
    next(POLL_MS);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var region = document.getElementById("queue-live");
    if (!region) return;
    region.addEventListener("click", onRowClick);
    region.addEventListener("auxclick", onRowClick);
    setUpSound();
    start(region);
  });
})();
