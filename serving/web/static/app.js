/* dermatriage pages: live countdowns, the formulary's forms and strengths, local time (the case page's
   photo viewer and keyboard shortcuts are in viewer.js).
   Plain JavaScript, no library; every page works without it except for these conveniences. */
(function () {
  "use strict";

  // --- countdowns: <time class="countdown" data-due="ISO">, <span class="since" data-since="ISO"> ---
  function pad(n) { return String(n).padStart(2, "0"); }

  function clock(seconds) {
    var s = Math.floor(Math.abs(seconds));
    var days = Math.floor(s / 86400); s -= days * 86400;
    var h = Math.floor(s / 3600); s -= h * 3600;
    var m = Math.floor(s / 60); s -= m * 60;
    var text = pad(h) + ":" + pad(m) + ":" + pad(s);
    return days ? days + " d " + text : text;
  }

  function duration(seconds) {
    var s = Math.floor(Math.abs(seconds));
    var days = Math.floor(s / 86400); s -= days * 86400;
    var h = Math.floor(s / 3600); s -= h * 3600;
    var m = Math.floor(s / 60); s -= m * 60;
    if (days) return days + " d " + h + " h";
    if (h) return h + " h " + pad(m) + " min";
    if (m) return m + " min " + pad(s) + " s";
    return s + " s";
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-due]").forEach(function (el) {
      var due = Date.parse(el.dataset.due);
      if (isNaN(due)) return;
      var left = (due - now) / 1000;
      el.textContent = left < 0 ? "overdue by " + clock(-left) : clock(left) + " left";
      el.classList.toggle("overdue", left < 0);
    });
    document.querySelectorAll("[data-since]").forEach(function (el) {
      var since = Date.parse(el.dataset.since);
      if (!isNaN(since)) el.textContent = duration((now - since) / 1000);
    });
  }

  // --- prescriptions: the formulary gives the forms, strengths and unit of the chosen medication ---
  function setupFormulary() {
    var form = document.querySelector("form[data-formulary]");
    var data = document.getElementById("formulary-data");
    if (!form || !data) return;
    var formulary = JSON.parse(data.textContent);
    var medication = form.querySelector("[name=rxcui]");
    var formSelect = form.querySelector("[name=form]");
    var strengthSelect = form.querySelector("[name=strength]");
    var unit = document.getElementById("prescribe-unit");

    function options(select, values, placeholder) {
      var keep = select.value;
      select.textContent = "";
      if (!values.length) values = [[ "", placeholder ]];
      values.forEach(function (v) {
        var pair = Array.isArray(v) ? v : [v, v];
        select.add(new Option(pair[1], pair[0], false, pair[0] === keep));
      });
    }

    function chosen() { return formulary[(medication.value.trim().split(/\s+/)[0]) || ""]; }

    function updateStrengths() {
      var med = chosen();
      var product = med && med.products.find(function (p) { return p.form === formSelect.value; });
      options(strengthSelect, product ? product.strengths : [], "Pick a form first");
      unit.textContent = product ? "(" + product.unit + ")" : "";
    }

    function updateForms() {
      var med = chosen();
      options(formSelect, med ? med.products.map(function (p) { return p.form; }) : [], "Pick a medication first");
      updateStrengths();
    }

    medication.addEventListener("input", updateForms);
    medication.addEventListener("change", updateForms);
    formSelect.addEventListener("change", updateStrengths);
    if (chosen() && !formSelect.value) updateForms();
  }

  // --- follow-ups: the browser's time zone goes with a datetime-local field ---
  function setupLocalTime() {
    document.querySelectorAll("form[data-local-time]").forEach(function (form) {
      var offset = form.querySelector("[name=tz_offset]");
      var set = function () { offset.value = String(new Date().getTimezoneOffset()); };
      set();
      form.addEventListener("submit", set);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    tick();
    setInterval(tick, 1000);
    setupFormulary();
    setupLocalTime();
  });
})();
