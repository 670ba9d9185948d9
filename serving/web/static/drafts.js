/* dermatriage pages: drafts that survive a session's end. On a case page, the text typed in any of its
   forms (text fields and text areas, never passwords or hidden fields) is kept in this browser's
   localStorage, keyed by case, form and field, as it is typed. A form sent successfully (the page
   comes back with ?done=...) forgets its drafts; one that was not (a refusal shown beside the form,
   or the sign-in page after the session ended) keeps them, and they are put back when the case page
   is opened again, its form opened and a notice saying so. Drafts are forgotten after a day and on
   signing out, as they hold clinical words. */
(function () {
  "use strict";

  var PREFIX = "dermatriage:draft:";
  var SENT = "dermatriage:draft-sent";
  var MAX_AGE = 24 * 3600 * 1000;

  function storage() {
    try { return window.localStorage; } catch (e) { return null; }
  }

  function caseId() {
    var m = window.location.pathname.match(/^\/cases\/([^/]+)\/?$/);
    return m ? decodeURIComponent(m[1]) : null;
  }

  function formName(form) {
    return new URL(form.action, window.location.href).pathname;
  }

  function keyOf(id, form, field) { return PREFIX + id + ":" + formName(form) + ":" + field.name; }

  function fields(form) {
    return Array.prototype.filter.call(form.querySelectorAll("textarea, input"), function (el) {
      return el.name && el.name !== "csrf_token" &&
        (el.tagName === "TEXTAREA" || ["text", "search", "number", "datetime-local", "date"].indexOf(el.type) >= 0);
    });
  }

  function forget(store, prefix) {
    var doomed = [];
    for (var i = 0; i < store.length; i++) {
      var key = store.key(i);
      if (key && key.indexOf(prefix) === 0) doomed.push(key);
    }
    doomed.forEach(function (key) { store.removeItem(key); });
  }

  function forgetOld(store) {
    var doomed = [];
    for (var i = 0; i < store.length; i++) {
      var key = store.key(i);
      if (!key || key.indexOf(PREFIX) !== 0) continue;
      try {
        if (Date.now() - JSON.parse(store.getItem(key)).t > MAX_AGE) doomed.push(key);
      } catch (e) { doomed.push(key); }
    }
    doomed.forEach(function (key) { store.removeItem(key); });
  }

  function notice(names) {
    var main = document.getElementById("main");
    if (!main || !names.length) return;
    var p = document.createElement("p");
    p.className = "notice draft-notice";
    p.id = "drafts-restored";
    p.setAttribute("role", "status");
    p.textContent = "Put back what you typed before: " + names.join(", ") + ". Check it and send the form.";
    var head = main.querySelector(".page-head");
    main.insertBefore(p, head ? head.nextSibling : main.firstChild);
  }

  function label(form) {
    var details = form.closest("details");
    var summary = details && details.querySelector("summary");
    return (summary ? summary.textContent : formName(form)).trim();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var store = storage();
    if (!store) return;
    // signing out forgets every draft of this browser
    document.querySelectorAll('form[action="/sign-out"]').forEach(function (form) {
      form.addEventListener("submit", function () { forget(store, PREFIX); });
    });
    var id = caseId();
    if (!id) return;
    forgetOld(store);
    var params = new URLSearchParams(window.location.search);
    var sent = null;
    try { sent = JSON.parse(window.sessionStorage.getItem(SENT) || "null"); } catch (e) { sent = null; }
    window.sessionStorage.removeItem(SENT);
    if (sent && sent.caseId === id && params.get("done")) forget(store, PREFIX + id + ":" + sent.form + ":");

    var restored = [];
    document.querySelectorAll("main form").forEach(function (form) {
      if ((form.method || "").toLowerCase() !== "post") return;
      var put = false;
      fields(form).forEach(function (field) {
        var key = keyOf(id, form, field);
        var saved = null;
        try { saved = JSON.parse(store.getItem(key) || "null"); } catch (e) { saved = null; }
        if (saved && typeof saved.v === "string" && saved.v !== field.value) {
          field.value = saved.v;
          field.dispatchEvent(new Event("input", { bubbles: true }));
          put = true;
        }
        field.addEventListener("input", function () {
          store.setItem(key, JSON.stringify({ v: field.value, t: Date.now() }));
        });
      });
      form.addEventListener("submit", function () {
        window.sessionStorage.setItem(SENT, JSON.stringify({ caseId: id, form: formName(form) }));
      });
      if (put) {
        var details = form.closest("details");
        if (details) details.open = true;
        restored.push(label(form));
      }
    });
    notice(restored);
  });
})();
