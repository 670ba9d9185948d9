/* dermatriage case page: the photos. The page's pane fits the chosen photo (scaled up or down, whole);
   the viewer zooms at the pointer (wheel, pinch), pans (drag, touch, arrow keys), steps through the photos,
   sets brightness and contrast, and compares two photos side by side with linked zoom and pan. Also the
   dark theme for image review and the case page's keyboard shortcuts (listed in the `?` dialog).
   Plain JavaScript under the pages' Content-Security-Policy: no inline style; sizes and positions are CSS
   custom properties set through the CSSOM (style.setProperty). */
(function () {
  "use strict";

  var THEME_KEY = "dermatriage.review-theme";
  //: the zoom steps of the buttons and keys, as multiples of the fitted size
  var STEPS = [1, 1.5, 2, 3, 4, 6, 8, 12, 16];

  function clamp(v, lo, hi) { return Math.max(lo, Math.min(hi, v)); }

  // --- the dark theme for image review, remembered in the browser ---
  function storedDark() {
    try { return localStorage.getItem(THEME_KEY) === "dark"; } catch (e) { return false; }
  }
  function setDark(dark, remember) {
    document.documentElement.classList.toggle("review-dark", dark);
    var toggle = document.getElementById("theme-toggle");
    if (toggle) toggle.setAttribute("aria-pressed", String(dark));
    if (remember) {
      try { localStorage.setItem(THEME_KEY, dark ? "dark" : "light"); } catch (e) { /* private mode */ }
    }
  }
  setDark(storedDark(), false);  // as early as the deferred script runs

  // the size of a w×h photo shown whole in a pw×ph pane (scaled up as well as down)
  function fitScale(pw, ph, w, h) { return w && h && pw && ph ? Math.min(pw / w, ph / h) : 1; }

  /* One pane showing one photo. Its state is relative, so that two panes of different sizes showing
     photos of different sizes can share it: z, the zoom as a multiple of the fitted size (1: fit), and
     (cx, cy), the point of the photo at the pane's centre as fractions of its width and height. */
  function View(pane, img, onChange) {
    this.pane = pane;
    this.img = img;
    this.onChange = onChange;
    this.w = 0;
    this.h = 0;
    this.state = { z: 1, cx: 0.5, cy: 0.5 };
  }
  View.prototype.fit = function () {
    return fitScale(this.pane.clientWidth, this.pane.clientHeight, this.w, this.h);
  };
  View.prototype.scale = function () { return this.fit() * this.state.z; };
  View.prototype.minZ = function () { return Math.min(1, 1 / this.fit()); };   // fit, or 100% if smaller
  View.prototype.maxZ = function () { return Math.max(16, 8 / this.fit()); };  // 8× the photo's pixels at least
  // where the photo's top-left corner is in the pane, and the scale
  View.prototype.placement = function () {
    var s = this.scale(), st = this.state;
    return {
      s: s,
      x: this.pane.clientWidth / 2 - st.cx * this.w * s,
      y: this.pane.clientHeight / 2 - st.cy * this.h * s,
    };
  };
  View.prototype.render = function () {
    var p = this.placement(), style = this.img.style;
    style.setProperty("--w", String(this.w));
    style.setProperty("--h", String(this.h));
    style.setProperty("--tx", p.x.toFixed(2));
    style.setProperty("--ty", p.y.toFixed(2));
    style.setProperty("--s", p.s.toFixed(5));
    this.img.dataset.scale = String(Math.round(this.state.z * 1000) / 1000);
    this.img.dataset.cx = this.state.cx.toFixed(4);
    this.img.dataset.cy = this.state.cy.toFixed(4);
  };
  View.prototype.settle = function () {
    var st = this.state;
    if (st.z <= 1 + 1e-6) { st.cx = 0.5; st.cy = 0.5; }  // at fit or smaller the photo is centred
    st.cx = clamp(st.cx, 0, 1);  // an edge of the photo can come to the pane's centre, no further
    st.cy = clamp(st.cy, 0, 1);
    this.render();
    this.onChange(this);
  };
  // zoom to z keeping the photo's point under (px, py) (pane coordinates) where it is
  View.prototype.zoomAt = function (z, px, py) {
    if (!this.w) return;
    var before = this.placement();
    var ix = (px - before.x) / before.s, iy = (py - before.y) / before.s;
    var st = this.state;
    st.z = clamp(z, this.minZ(), this.maxZ());
    var s = this.scale();
    st.cx = (this.pane.clientWidth / 2 - (px - ix * s)) / (s * this.w);
    st.cy = (this.pane.clientHeight / 2 - (py - iy * s)) / (s * this.h);
    this.settle();
  };
  View.prototype.zoomCentre = function (z) {
    this.zoomAt(z, this.pane.clientWidth / 2, this.pane.clientHeight / 2);
  };
  View.prototype.step = function (direction) {
    var z = this.state.z, next;
    if (direction > 0) next = STEPS.find(function (s) { return s > z + 1e-3; }) || z;
    else next = STEPS.slice().reverse().find(function (s) { return s < z - 1e-3; }) || this.minZ();
    this.zoomCentre(next);
  };
  View.prototype.fitNow = function () { this.state.z = 1; this.settle(); };
  View.prototype.actual = function (px, py) {
    var z = 1 / this.fit();
    if (px === undefined) this.zoomCentre(z); else this.zoomAt(z, px, py);
  };
  View.prototype.panBy = function (dx, dy) {
    var s = this.scale();
    if (!this.w) return;
    this.state.cx -= dx / (this.w * s);
    this.state.cy -= dy / (this.h * s);
    this.settle();
  };
  View.prototype.point = function (event) {
    var r = this.pane.getBoundingClientRect();
    return [event.clientX - r.left, event.clientY - r.top];
  };
  View.prototype.show = function (photo) {
    var view = this;
    this.photo = photo;
    this.w = photo.width || 0;
    this.h = photo.height || 0;
    this.img.alt = photo.alt + ", in the viewer";
    if (this.img.getAttribute("src") !== photo.src) this.img.src = photo.src;
    if (this.img.complete && this.img.naturalWidth) this.loaded();
    this.render();
    this.img.onload = function () { view.loaded(); };
  };
  View.prototype.loaded = function () {
    if (this.img.naturalWidth && (this.img.naturalWidth !== this.w || this.img.naturalHeight !== this.h)) {
      this.w = this.img.naturalWidth;
      this.h = this.img.naturalHeight;
      this.render();
    }
  };
  // pointer handling: wheel zoom at the pointer, drag (mouse, pen, one finger) pans, two fingers pinch
  View.prototype.listen = function (activate) {
    var view = this, pane = this.pane, pointers = new Map(), last = null;
    pane.addEventListener("wheel", function (event) {
      event.preventDefault();
      activate(view);
      var unit = event.deltaMode === 1 ? 0.05 : event.deltaMode === 2 ? 1 : 0.0015;
      var p = view.point(event);
      view.zoomAt(view.state.z * Math.exp(-event.deltaY * unit), p[0], p[1]);
    }, { passive: false });
    function gesture() {
      var pts = Array.from(pointers.values());
      if (pts.length === 1) return { x: pts[0].x, y: pts[0].y, d: 0 };
      return {
        x: (pts[0].x + pts[1].x) / 2,
        y: (pts[0].y + pts[1].y) / 2,
        d: Math.hypot(pts[0].x - pts[1].x, pts[0].y - pts[1].y),
      };
    }
    pane.addEventListener("pointerdown", function (event) {
      if (event.button !== 0 && event.pointerType === "mouse") return;
      activate(view);
      pane.setPointerCapture(event.pointerId);
      var p = view.point(event);
      pointers.set(event.pointerId, { x: p[0], y: p[1] });
      last = gesture();
      pane.classList.add("dragging");
    });
    pane.addEventListener("pointermove", function (event) {
      if (!pointers.has(event.pointerId)) return;
      var p = view.point(event);
      pointers.set(event.pointerId, { x: p[0], y: p[1] });
      var now = gesture();
      if (last && now.d && last.d) view.zoomAt(view.state.z * now.d / last.d, last.x, last.y);
      if (last) view.panBy(now.x - last.x, now.y - last.y);
      last = now;
    });
    function up(event) {
      pointers.delete(event.pointerId);
      last = pointers.size ? gesture() : null;
      if (!pointers.size) pane.classList.remove("dragging");
    }
    pane.addEventListener("pointerup", up);
    pane.addEventListener("pointercancel", up);
    pane.addEventListener("dblclick", function (event) {
      activate(view);
      if (Math.abs(view.state.z - 1) < 0.01) { var p = view.point(event); view.actual(p[0], p[1]); }
      else view.fitNow();
    });
    pane.addEventListener("focus", function () { activate(view); });
    pane.addEventListener("keydown", function (event) {
      var pan = { ArrowLeft: [60, 0], ArrowRight: [-60, 0], ArrowUp: [0, 60], ArrowDown: [0, -60] }[event.key];
      if (pan) { view.panBy(pan[0], pan[1]); event.preventDefault(); }
    });
  };

  // --- the photos of the page: the batches' thumbnails, then the lesion timeline's other photos ---
  function collectPhotos() {
    var photos = [], seen = {};
    document.querySelectorAll(".thumb").forEach(function (el) {
      seen[el.dataset.src] = true;
      photos.push({
        el: el, src: el.dataset.src, width: Number(el.dataset.width), height: Number(el.dataset.height),
        caption: el.dataset.caption, label: el.dataset.label || el.dataset.caption,
        alt: el.querySelector("img").alt.replace(/^Show /, ""),
      });
    });
    document.querySelectorAll(".timeline-photo").forEach(function (el) {
      var img = el.querySelector("img");
      var photo = {
        el: el, src: el.dataset.src, width: 0, height: 0, caption: el.dataset.caption,
        label: "Timeline: " + (img ? img.alt : el.dataset.caption), alt: img ? img.alt : "Photo",
      };
      if (!seen[photo.src]) { seen[photo.src] = true; photos.push(photo); }
      else photos.forEach(function (p) { if (p.src === photo.src) p.timeline = el; });
    });
    return photos;
  }

  function setupPhotos() {
    var stageImg = document.getElementById("stage-img");
    var stagePane = document.getElementById("stage-open");
    var caption = document.getElementById("stage-caption");
    var dialog = document.getElementById("zoom");
    if (!stageImg || !dialog) return null;
    var photos = collectPhotos();
    var current = 0;
    var level = document.getElementById("zoom-level");
    var panes = document.getElementById("viewer-panes");
    var compareToggle = document.getElementById("compare-toggle");
    var link = document.getElementById("compare-link");
    var picks = [document.getElementById("compare-a"), document.getElementById("compare-b")];
    var captions = [document.getElementById("zoom-caption"), document.getElementById("compare-caption")];
    var comparing = false;
    var views = [], active;

    function indexOf(el) {
      for (var i = 0; i < photos.length; i++) if (photos[i].el === el || photos[i].timeline === el) return i;
      return -1;
    }

    // the page's pane: the photo whole, as large as the pane allows
    function fitStage() {
      var photo = photos[current];
      var w = stageImg.naturalWidth || photo.width, h = stageImg.naturalHeight || photo.height;
      if (!w || !h) { stageImg.classList.remove("fitted"); return; }
      var s = fitScale(stagePane.clientWidth, stagePane.clientHeight, w, h);
      stageImg.style.setProperty("--fit-w", (w * s).toFixed(1));
      stageImg.style.setProperty("--fit-h", (h * s).toFixed(1));
      stageImg.classList.add("fitted");
      stageImg.dataset.fit = s.toFixed(4);
    }

    function showOnStage(i) {
      current = (i + photos.length) % photos.length;
      var photo = photos[current];
      stageImg.src = photo.src;
      if (photo.width) { stageImg.width = photo.width; stageImg.height = photo.height; }
      else { stageImg.removeAttribute("width"); stageImg.removeAttribute("height"); }
      stageImg.alt = photo.alt;
      caption.textContent = photo.caption + ". Click or press Enter to zoom.";
      document.querySelectorAll(".thumb").forEach(function (b) { b.setAttribute("aria-pressed", String(b === photo.el)); });
      fitStage();
    }
    stageImg.addEventListener("load", fitStage);

    function showLevel() {
      level.textContent = Math.round(active.scale() * 100) + "%";
    }
    function changed(view) {
      if (comparing && link.checked) {
        views.forEach(function (other) {
          if (other === view) return;
          other.state.z = view.state.z;
          other.state.cx = view.state.cx;
          other.state.cy = view.state.cy;
          other.render();
        });
      }
      if (view === active) showLevel();
    }
    function activate(view) {
      active = view;
      views.forEach(function (v) { v.pane.classList.toggle("active", v === view && comparing); });
      showLevel();
    }
    views = [
      new View(document.getElementById("zoom-pane"), document.getElementById("zoom-img"), changed),
      new View(document.getElementById("compare-pane"), document.getElementById("compare-img"), changed),
    ];
    active = views[0];
    views.forEach(function (v) { v.listen(activate); });

    function put(viewIndex, photoIndex, keepZoom) {
      var view = views[viewIndex], photo = photos[photoIndex];
      view.index = photoIndex;
      view.show(photo);
      picks[viewIndex].value = String(photoIndex);
      captions[viewIndex].textContent = photo.caption;
      captions[viewIndex].title = photo.caption;
      if (!keepZoom) { view.state.z = 1; view.state.cx = 0.5; view.state.cy = 0.5; }
      else if (comparing && link.checked) {
        var other = views[1 - viewIndex].state;
        view.state.z = other.z; view.state.cx = other.cx; view.state.cy = other.cy;
      }
      view.render();
      if (view === active) showLevel();
    }

    picks.forEach(function (select, i) {
      photos.forEach(function (photo, n) { select.add(new Option(photo.label, String(n))); });
      select.addEventListener("change", function () { put(i, Number(select.value), true); });
    });

    function setCompare(on) {
      comparing = on;
      panes.classList.toggle("compare", on);
      dialog.classList.toggle("comparing", on);
      compareToggle.setAttribute("aria-pressed", String(on));
      dialog.querySelectorAll(".compare-only").forEach(function (el) { el.hidden = !on; });
      if (on) {
        // A: the first batch's first photo; B: the photo on the stage, else the last batch's first photo
        var a = 0, b = current;
        if (b === a) {
          var thumbs = photos.filter(function (p) { return p.el.classList.contains("thumb"); });
          var lastBatch = thumbs.length ? thumbs[thumbs.length - 1].el.dataset.batch : null;
          b = photos.findIndex(function (p) { return p.el.dataset.batch === lastBatch; });
          if (b <= 0) b = Math.min(1, photos.length - 1);
        }
        put(0, a, false);
        put(1, b, false);
        activate(views[1]);
      } else {
        put(0, current, false);
        activate(views[0]);
      }
      views.forEach(function (v) { v.render(); });
      showLevel();
    }

    function open(compare) {
      if (!dialog.open) dialog.showModal();
      if (compare !== undefined && compare !== comparing) setCompare(compare);
      else if (!comparing) put(0, current, false);
      else views.forEach(function (v) { v.render(); });
      active.pane.focus();
      showLevel();
    }

    function next(step) {
      if (dialog.open && comparing) {
        var i = views.indexOf(active);
        put(i, (active.index + step + photos.length) % photos.length, true);
        return;
      }
      showOnStage(current + step);
      if (dialog.open) put(0, current, false);
    }

    function zoom(what) {
      if (!dialog.open) open();
      if (what === "in") active.step(1);
      else if (what === "out") active.step(-1);
      else if (what === "fit") active.fitNow();
      else if (what === "actual") active.actual();
    }

    // brightness and contrast: CSS filters on the photos (the page's pane and the viewer's)
    var sliders = ["brightness", "contrast"].map(function (name) {
      var input = document.getElementById("photo-" + name), out = document.getElementById("photo-" + name + "-value");
      function apply() {
        document.documentElement.style.setProperty("--photo-" + name, String(Number(input.value) / 100));
        out.textContent = input.value + "%";
      }
      input.addEventListener("input", apply);
      return { input: input, apply: apply };
    });
    function resetAdjust() { sliders.forEach(function (s) { s.input.value = "100"; s.apply(); }); }

    document.querySelectorAll(".thumb").forEach(function (button) {
      button.addEventListener("click", function () { showOnStage(indexOf(button)); });
    });
    stagePane.addEventListener("click", function () { open(false); });
    document.getElementById("compare-open").addEventListener("click", function () { open(true); });
    // the lesion timeline: a photo opens in the viewer (without the script, the link opens the image)
    document.querySelectorAll(".timeline-photo").forEach(function (link) {
      link.addEventListener("click", function (event) {
        event.preventDefault();
        showOnStage(indexOf(link));
        open(false);
      });
    });
    dialog.querySelectorAll("[data-zoom]").forEach(function (button) {
      button.addEventListener("click", function () {
        var what = button.dataset.zoom;
        if (what === "close") dialog.close();
        else if (what === "prev" || what === "next") next(what === "next" ? 1 : -1);
        else if (what === "compare") setCompare(!comparing);
        else if (what === "reset-adjust") resetAdjust();
        else if (what === "help") openShortcuts();
        else zoom(what);
      });
    });
    link.addEventListener("change", function () { if (link.checked) changed(active); });

    var resize = function () { fitStage(); if (dialog.open) views.forEach(function (v) { v.render(); }); showLevel(); };
    if (window.ResizeObserver) {
      var observer = new ResizeObserver(resize);
      [stagePane, views[0].pane, views[1].pane].forEach(function (el) { observer.observe(el); });
    } else {
      window.addEventListener("resize", resize);
    }
    fitStage();

    return {
      dialog: dialog,
      next: next,
      zoom: zoom,
      open: function () { open(); },
      compare: function () { if (dialog.open) setCompare(!comparing); else open(true); },
    };
  }

  function openShortcuts() {
    var help = document.getElementById("shortcuts");
    if (help && !help.open) help.showModal();
  }

  // --- the case page's keyboard shortcuts ---
  function typing(target) {
    return target && target.closest && target.closest("input, textarea, select, [contenteditable]");
  }
  // a lease form of the page, by its action: claim ("/queue/claim") or release ("/cases/<id>/release")
  function leaseForm(kind) {
    var pattern = kind === "claim" ? /^\/queue\/claim$/ : /^\/cases\/[^/]+\/release$/;
    return Array.from(document.querySelectorAll("form[method=post]")).find(function (form) {
      return pattern.test(form.getAttribute("action") || "");
    });
  }

  function setupShortcuts(photos) {
    var help = document.getElementById("shortcuts");
    if (!help) return;
    document.getElementById("shortcuts-open").addEventListener("click", openShortcuts);
    document.getElementById("theme-toggle").addEventListener("click", function () {
      setDark(!document.documentElement.classList.contains("review-dark"), true);
    });
    document.addEventListener("keydown", function (event) {
      if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
      if (help.open) return;  // Esc closes it
      var key = event.key, done = true;
      if (key === "?") openShortcuts();
      else if (key === "d") setDark(!document.documentElement.classList.contains("review-dark"), true);
      else if (key === "C" && event.shiftKey) { var claim = leaseForm("claim"); if (claim) claim.requestSubmit(); else done = false; }
      else if (key === "R" && event.shiftKey) { var release = leaseForm("release"); if (release) release.requestSubmit(); else done = false; }
      else if (!photos) done = false;
      else if (key === "]") photos.next(1);
      else if (key === "[") photos.next(-1);
      else if (key === "+" || key === "=") photos.zoom("in");
      else if (key === "-" || key === "_") photos.zoom("out");
      else if (key === "0") photos.zoom("fit");
      else if (key === "1") photos.zoom("actual");
      else if (key === "c") photos.compare();
      else if (key === "v" && !photos.dialog.open) photos.open();
      else done = false;
      if (done) event.preventDefault();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setDark(storedDark(), false);
    setupShortcuts(setupPhotos());
  });
})();
