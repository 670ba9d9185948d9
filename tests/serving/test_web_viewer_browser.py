"""The case page's photo viewer in a real browser (Debian's chromium, as ``test_web_browser``): small PAD-like
photos (320×240) fitted to fill the page's pane and the viewer (scaled up, not shown at their own size),
wheel zoom at the pointer (the photo's point under it stays put), drag to pan, double-click for fit and
100%, the keys, brightness and contrast, two batches side by side with linked zoom and pan (mouse at laptop
size, touch at tablet size, where the panes stack), the keyboard shortcuts (the `?` dialog, claim and
release, never while typing) and the dark theme for image review, remembered across a reload. Screenshots
in var/test-artifacts/screenshots/, axe-core on each state. Skips without chromium (fails under CI)."""

from __future__ import annotations

import pytest
from browser_support import LAPTOP, TABLET, browser, live_service, shot, sign_in, until  # noqa: F401 (a fixture)
from consults_support import claim, send_photo, submit
from factories import good_jpeg

SIZE = (320, 240)  # the size of a PAD-UFES-20 photo, far smaller than the panes


@pytest.fixture
def live(sqlite_url, tmp_path):
    with live_service(sqlite_url, tmp_path) as s:
        yield s.base, s.org, s.api


def _case_with_a_retake(api, org) -> str:
    """Two photos, a retake asked for, one new photo sent: two batches; the case is back in the queue."""
    case = submit(api, org, photos=[("a.jpg", good_jpeg(1, size=SIZE)), ("b.jpg", good_jpeg(2, size=SIZE))])
    assert claim(api, org, case["id"]).status_code == 200
    r = api.post(
        f"/v1/cases/{case['id']}/retake-request",
        json={"instructions": "Closer, in daylight, please."},
        headers=org.headers("dermatologist"),
    )
    assert r.status_code == 201, r.text
    assert send_photo(api, org, case["id"], good_jpeg(3, size=SIZE))["status"] == "queued"
    return case["id"]


def box(page, selector: str) -> dict:
    return page.locator(selector).bounding_box()


def inner(page, selector: str) -> dict:
    """The inner box (inside the border) of an element, in the viewport."""
    return page.evaluate(
        """s => { const e = document.querySelector(s), r = e.getBoundingClientRect();
        return {x: r.left + e.clientLeft, y: r.top + e.clientTop,
                width: e.clientWidth, height: e.clientHeight}; }""",
        selector,
    )


def assert_fills(image: dict, pane: dict) -> None:
    """The image is whole in the pane and touches two opposite sides of it (contain)."""
    assert image["width"] <= pane["width"] + 2 and image["height"] <= pane["height"] + 2, (image, pane)
    assert abs(image["width"] - pane["width"]) <= 2 or abs(image["height"] - pane["height"]) <= 2, (
        image,
        pane,
    )
    centre = (image["x"] + image["width"] / 2, image["y"] + image["height"] / 2)
    assert centre == pytest.approx((pane["x"] + pane["width"] / 2, pane["y"] + pane["height"] / 2), abs=2)


def photo_point_at(page, selector: str, x: float, y: float) -> tuple[float, float]:
    """The photo's point (in its own pixels) shown at viewport point (x, y)."""
    b = box(page, selector)
    return ((x - b["x"]) / b["width"] * SIZE[0], (y - b["y"]) / b["height"] * SIZE[1])


def screen_point(page, selector: str, point: tuple[float, float]) -> tuple[float, float]:
    """Where the photo's point is shown, in the viewport."""
    b = box(page, selector)
    return (b["x"] + point[0] / SIZE[0] * b["width"], b["y"] + point[1] / SIZE[1] * b["height"])


def wheel(page, selector: str, x: float, y: float, dy: float) -> None:
    before = page.get_attribute(selector, "data-scale")
    page.mouse.move(x, y)
    page.mouse.wheel(0, dy)
    until(page, f"document.querySelector('{selector}').dataset.scale !== '{before}'")
    page.wait_for_timeout(100)  # the wheel may come in several events


def drag(page, x: float, y: float, dx: float, dy: float) -> None:
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx / 2, y + dy / 2, steps=4)
    page.mouse.move(x + dx, y + dy, steps=4)
    page.mouse.up()


def transforms(page) -> list[str]:
    return page.evaluate(
        "['zoom-img', 'compare-img'].map(id => getComputedStyle(document.getElementById(id)).transform)"
    )


def linked(page) -> None:
    """Both panes show their photo the same way: same zoom, same photo point at the centre."""
    a, b = (
        page.evaluate(f"(({{...document.getElementById('{i}').dataset}}))")
        for i in ("zoom-img", "compare-img")
    )
    assert (a["scale"], a["cx"], a["cy"]) == (b["scale"], b["cx"], b["cy"])
    ta, tb = transforms(page)
    assert ta == tb and ta != "none"


def test_the_photo_viewer_fits_zooms_pans_and_compares(browser, live):  # noqa: F811
    base, org, api = live
    case_id = _case_with_a_retake(api, org)
    context = browser.new_context(viewport=LAPTOP, device_scale_factor=1)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, base, org)
    page.goto(f"{base}/cases/{case_id}")
    assert page.locator(".batch h3").count() == 2

    # the page's pane: the 320 px photo scaled up to fill it
    until(page, "document.getElementById('stage-img').classList.contains('fitted')")
    stage, pane = box(page, "#stage-img"), inner(page, "#stage-open")
    assert_fills(stage, pane)
    assert stage["width"] > 1.8 * SIZE[0], stage

    # the viewer: fitted too, its level in % of the photo's own size
    page.locator("#stage-open").click()
    assert page.locator("dialog#zoom").is_visible()
    until(page, "document.getElementById('zoom-img').naturalWidth > 0")
    image, pane = box(page, "#zoom-img"), inner(page, "#zoom-pane")
    assert_fills(image, pane)
    fit = image["width"] / SIZE[0]
    assert fit > 2.5 and page.inner_text("#zoom-level") == f"{round(fit * 100)}%"
    shot(page, "case-viewer-fit-laptop.png", full_page=False)

    # wheel zoom at a point: the photo's point under the pointer stays there
    x, y = pane["x"] + pane["width"] * 0.35, pane["y"] + pane["height"] * 0.6
    point = photo_point_at(page, "#zoom-img", x, y)
    wheel(page, "#zoom-img", x, y, -400)
    zoomed = box(page, "#zoom-img")
    assert zoomed["width"] > image["width"] * 1.3
    assert screen_point(page, "#zoom-img", point) == pytest.approx((x, y), abs=2)

    # drag pans, by as much as the pointer moved
    drag(page, x, y, -150, -90)
    moved = box(page, "#zoom-img")
    assert (moved["x"] - zoomed["x"], moved["y"] - zoomed["y"]) == pytest.approx((-150, -90), abs=2)
    assert moved["width"] == pytest.approx(zoomed["width"], abs=0.5)

    # double-click: fit, then 100% (the photo's own size); the keys + - 0 and [ ]
    page.mouse.dblclick(x, y)
    assert page.get_attribute("#zoom-img", "data-scale") == "1"
    page.mouse.dblclick(x, y)
    assert page.inner_text("#zoom-level") == "100%"
    assert box(page, "#zoom-img")["width"] == pytest.approx(SIZE[0], abs=1)
    page.keyboard.press("0")
    assert page.get_attribute("#zoom-img", "data-scale") == "1"
    page.keyboard.press("+")
    page.keyboard.press("+")
    assert page.get_attribute("#zoom-img", "data-scale") == "2"
    assert box(page, "#zoom-img")["width"] == pytest.approx(2 * image["width"], abs=1)
    page.keyboard.press("-")
    assert page.get_attribute("#zoom-img", "data-scale") == "1.5"
    first_src = page.get_attribute("#zoom-img", "src")
    page.keyboard.press("]")
    assert page.get_attribute("#zoom-img", "src") != first_src
    assert "photo 2" in page.inner_text("#zoom-caption") and "photo 2" in page.inner_text("#stage-caption")
    page.get_by_role("button", name="Previous photo").click()
    assert page.get_attribute("#zoom-img", "src") == first_src

    # brightness and contrast: CSS filters on the photo, and a reset
    filter_of = "getComputedStyle(document.getElementById('zoom-img')).filter"
    assert page.evaluate(filter_of) == "brightness(1) contrast(1)"
    page.get_by_label("Brightness", exact=True).focus()
    for _ in range(6):
        page.keyboard.press("ArrowRight")
    page.get_by_label("Contrast", exact=True).focus()
    page.keyboard.press("ArrowLeft")
    assert page.evaluate(filter_of) == "brightness(1.3) contrast(0.95)"
    assert page.inner_text("#photo-brightness-value") == "130%"
    assert page.evaluate("getComputedStyle(document.getElementById('stage-img')).filter") == page.evaluate(
        filter_of
    )
    page.locator("dialog#zoom").get_by_role("button", name="Reset").click()
    assert page.evaluate(filter_of) == "brightness(1) contrast(1)"

    # compare: the first batch beside the retake, zoom and pan linked
    page.keyboard.press("c")
    assert page.get_attribute("#compare-toggle", "aria-pressed") == "true"
    assert page.locator("#compare-pane").is_visible()
    until(page, "document.getElementById('compare-img').naturalWidth > 0")
    a, b = inner(page, "#zoom-pane"), inner(page, "#compare-pane")
    assert abs(a["y"] - b["y"]) < 1 and b["x"] >= a["x"] + a["width"]  # side by side
    assert "Batch 1" in page.inner_text("#zoom-caption") and "Batch 2" in page.inner_text("#compare-caption")
    assert_fills(box(page, "#zoom-img"), a)
    assert_fills(box(page, "#compare-img"), b)
    x, y = a["x"] + a["width"] * 0.4, a["y"] + a["height"] * 0.45
    wheel(page, "#zoom-img", x, y, -500)
    assert float(page.get_attribute("#compare-img", "data-scale")) > 1.5
    linked(page)
    before = box(page, "#compare-img")
    drag(page, b["x"] + b["width"] / 2, b["y"] + b["height"] / 2, 80, -60)  # pan the other pane
    after = box(page, "#compare-img")
    assert (after["x"] - before["x"], after["y"] - before["y"]) == pytest.approx((80, -60), abs=2)
    linked(page)
    page.keyboard.press("+")  # the keys zoom the pane last used, and the other follows
    linked(page)
    shot(page, "case-compare-laptop.png", full_page=False)
    # unlinked, a pane moves alone
    page.get_by_label("Link zoom and pan").uncheck()
    drag(page, x, y, 40, 40)
    assert transforms(page)[0] != transforms(page)[1]
    page.get_by_label("Link zoom and pan").check()
    linked(page)
    page.keyboard.press("Escape")
    assert not page.locator("dialog#zoom").is_visible()

    # the shortcuts: `?` lists them; never while typing
    page.keyboard.press("?")
    help_dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    assert help_dialog.is_visible()
    listed = help_dialog.inner_text()
    for what in (
        "Next / previous photo",
        "Zoom in / out",
        "Fit the photo",
        "Compare two photos",
        "Claim this case",
        "Release the case",
    ):
        assert what in listed, what
    shot(page, "case-shortcuts-laptop.png", full_page=False)
    page.keyboard.press("Escape")
    assert not help_dialog.is_visible()
    page.get_by_role("button", name="Keyboard shortcuts").click()
    assert help_dialog.is_visible()
    help_dialog.get_by_role("button", name="Close").click()
    assert not help_dialog.is_visible()

    # claim with Shift+C, then release with Shift+R
    page.locator("body").press("Shift+C")
    page.wait_for_url(f"{base}/cases/{case_id}?done=claimed")
    stage_src = page.get_attribute("#stage-img", "src")
    field = page.get_by_label("Assessment (for the record)")
    field.fill("")
    field.press_sequentially("c]?+d")
    assert field.input_value() == "c]?+d"
    assert page.get_attribute("#stage-img", "src") == stage_src
    assert not page.locator("dialog#zoom").is_visible() and not help_dialog.is_visible()
    assert "review-dark" not in (page.get_attribute("html", "class") or "")
    page.locator("#main").focus()  # out of the field: the keys work again
    page.keyboard.press("]")
    assert page.get_attribute("#stage-img", "src") != stage_src
    page.locator("body").press("Shift+R")
    page.wait_for_url(f"{base}/queue?notice=released")

    # the dark theme for image review: on, remembered across a reload, off with `d`
    page.goto(f"{base}/cases/{case_id}")
    page.get_by_role("button", name="Dark theme").click()
    dark_bg = "getComputedStyle(document.querySelector('.photos-card')).backgroundColor"
    assert page.evaluate(dark_bg) == "rgb(22, 27, 34)"
    assert page.get_attribute("#theme-toggle", "aria-pressed") == "true"
    page.reload()
    assert page.evaluate("document.documentElement.classList.contains('review-dark')")
    assert page.evaluate(dark_bg) == "rgb(22, 27, 34)"
    assert page.get_attribute("#theme-toggle", "aria-pressed") == "true"
    until(page, "document.getElementById('stage-img').classList.contains('fitted')")
    shot(page, "case-dark-laptop.png")
    page.locator("body").press("d")
    page.reload()
    assert page.evaluate(dark_bg) == "rgb(255, 255, 255)"
    assert errors == []
    context.close()


def test_compare_on_a_tablet_stacks_the_panes_and_pans_by_touch(browser, live):  # noqa: F811
    base, org, api = live
    case_id = _case_with_a_retake(api, org)
    context = browser.new_context(viewport=TABLET, device_scale_factor=1, has_touch=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, base, org)
    page.goto(f"{base}/cases/{case_id}")
    until(page, "document.getElementById('stage-img').classList.contains('fitted')")
    assert_fills(box(page, "#stage-img"), inner(page, "#stage-open"))

    page.get_by_role("button", name="Compare side by side").click()
    until(
        page,
        "['zoom-img', 'compare-img'].every(i => document.getElementById(i).naturalWidth > 0)",
    )
    a, b = inner(page, "#zoom-pane"), inner(page, "#compare-pane")
    assert abs(a["x"] - b["x"]) < 1 and b["y"] >= a["y"] + a["height"]  # one above the other
    assert_fills(box(page, "#zoom-img"), a)
    assert_fills(box(page, "#compare-img"), b)
    for pane in (a, b):
        assert pane["x"] >= 0 and pane["x"] + pane["width"] <= TABLET["width"]
        assert pane["y"] >= 0 and pane["y"] + pane["height"] <= TABLET["height"]

    # zoom with the button, then pan the lower photo with a finger: the upper one follows
    page.get_by_role("button", name="Zoom in").click()
    page.get_by_role("button", name="Zoom in").click()
    linked(page)
    cdp = context.new_cdp_session(page)
    start = (b["x"] + b["width"] / 2, b["y"] + b["height"] / 2)
    before = box(page, "#zoom-img")

    def touch(kind: str, x: float, y: float) -> None:
        points = [] if kind == "touchEnd" else [{"x": x, "y": y, "id": 1}]
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    touch("touchStart", *start)
    for i in range(1, 6):
        touch("touchMove", start[0] - 20 * i, start[1] + 12 * i)
    touch("touchEnd", 0, 0)
    after = box(page, "#zoom-img")
    assert (after["x"] - before["x"], after["y"] - before["y"]) == pytest.approx((-100, 60), abs=2)
    linked(page)
    shot(page, "case-compare-tablet.png", full_page=False)
    assert errors == []
    context.close()
