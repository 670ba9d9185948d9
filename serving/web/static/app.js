/* dermatriage pages: live countdowns, photo zoom, the formulary's forms and strengths, local time.
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

  // --- photos: thumbnails choose the large photo; the large photo opens a zoom dialog ---
  var SCALES = [1, 1.5, 2, 3, 4, 6, 8];

  function setupPhotos() {
    var stageImg = document.getElementById("stage-img");
    var caption = document.getElementById("stage-caption");
    var dialog = document.getElementById("zoom");
    if (!stageImg || !dialog) return;
    var zoomImg = document.getElementById("zoom-img");
    var pane = document.getElementById("zoom-pane");
    var level = document.getElementById("zoom-level");
    var index = 0;

    // a thumbnail (or a lesion timeline photo, whose size the page does not know) on the stage
    function show(el) {
      stageImg.src = el.dataset.src;
      if (el.dataset.width) {
        stageImg.width = Number(el.dataset.width);
        stageImg.height = Number(el.dataset.height);
      } else {
        stageImg.removeAttribute("width");
        stageImg.removeAttribute("height");
      }
      stageImg.alt = el.querySelector("img").alt.replace(/^Show /, "");
      caption.textContent = el.dataset.caption + ". Click or press Enter to zoom.";
      document.querySelectorAll(".thumb").forEach(function (b) { b.setAttribute("aria-pressed", String(b === el)); });
    }

    document.querySelectorAll(".thumb").forEach(function (button) {
      button.addEventListener("click", function () { show(button); });
    });

    function fitWidth() {
      var w = Number(stageImg.getAttribute("width")) || zoomImg.naturalWidth || 1;
      var h = Number(stageImg.getAttribute("height")) || zoomImg.naturalHeight || 1;
      return Math.min(pane.clientWidth / w, pane.clientHeight / h, 1) * w;
    }

    function apply() {
      var scale = SCALES[index];
      zoomImg.style.width = Math.round(fitWidth() * scale) + "px";
      zoomImg.style.height = "auto";
      zoomImg.dataset.scale = String(scale);
      level.textContent = Math.round(scale * 100) + "%";
    }

    function zoom(step) {
      index = Math.max(0, Math.min(SCALES.length - 1, step === 0 ? 0 : index + step));
      apply();
    }

    function open() {
      zoomImg.src = stageImg.src;
      zoomImg.alt = stageImg.alt + ", zoomed";
      index = 0;
      dialog.showModal();
      apply();
      pane.focus();
    }

    document.getElementById("stage-open").addEventListener("click", open);
    // the lesion timeline: a photo opens in the zoom (without the script, the link opens the image)
    document.querySelectorAll(".timeline-photo").forEach(function (link) {
      link.addEventListener("click", function (event) {
        event.preventDefault();
        show(link);
        open();
      });
    });
    dialog.querySelectorAll("[data-zoom]").forEach(function (button) {
      button.addEventListener("click", function () {
        var what = button.dataset.zoom;
        if (what === "close") dialog.close();
        else zoom(what === "in" ? 1 : what === "out" ? -1 : 0);
      });
    });
    dialog.addEventListener("keydown", function (event) {
      var keys = { "+": 1, "=": 1, "-": -1, "_": -1, "0": 0 };
      if (event.key in keys) { zoom(keys[event.key]); event.preventDefault(); return; }
      var pan = { ArrowLeft: [-60, 0], ArrowRight: [60, 0], ArrowUp: [0, -60], ArrowDown: [0, 60] }[event.key];
      if (pan && event.target === pane) { pane.scrollBy(pan[0], pan[1]); event.preventDefault(); }
    });
    zoomImg.addEventListener("load", apply);
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
    setupPhotos();
    setupFormulary();
    setupLocalTime();
  });
})();
