"""The draw page in a real browser: Chromium (the system's, Debian's chromium package) driven by Playwright.

Mouse strokes draw a 1, a 0 and a 7 on the canvas; a photo and a text file are uploaded; the page must
predict, show every class's bar and the 28x28 preview, show the error, and go on predicting. Screenshots
go to NNFAST_SCREENSHOTS (a folder) when set, else the test's own folder.

Where no Chromium is found the tests are skipped with the reason, except under CI (CI=true), where
that is a failure: CI installs Chromium (.ci/run) so that these tests run.
"""

import math
import os
import shutil

import numpy as np
import pytest
from PIL import Image

from draw_server import serving

pytestmark = pytest.mark.network  # the default model trains on real MNIST


def _chromium():
    for name in (os.environ.get("NNFAST_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        path = name and shutil.which(name)
        if path:
            return path
    return None


def _need(reason):
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the browser tests, but {reason} (.ci/run installs Chromium)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _need("Playwright for Python is not installed (pip install -e '.[test]')")
    path = _chromium()
    if path is None:
        _need("no Chromium found (apt-get install chromium, or set NNFAST_CHROMIUM)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def url(draw_default):
    from nnfast.web.models import named
    offered = [draw_default]  # entries([]): the default model, trained on first use in the test's home
    from nnfast import network
    np.random.seed(0)
    offered.append(named(network.Network([784, 10, 10]), "untrained.npz"))
    with serving(offered) as base:
        yield base


@pytest.fixture
def shots(tmp_path):
    folder = os.environ.get("NNFAST_SCREENSHOTS") or str(tmp_path)
    os.makedirs(folder, exist_ok=True)
    return folder


def _stroke(page, points):
    box = page.get_by_test_id("canvas").bounding_box()
    x0, y0 = box["x"], box["y"]
    page.mouse.move(x0 + points[0][0], y0 + points[0][1])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(x0 + x, y0 + y, steps=3)
    page.mouse.up()


def _answer(page, before):
    """Wait for the prediction to change from ``before``; return its text."""
    page.wait_for_function("b => document.querySelector('[data-testid=prediction]').textContent !== b", arg=before,
                           timeout=15000)
    return page.get_by_test_id("prediction").inner_text()


DIGITS = {
    "1": [[(150, 40), (140, 240)]],
    "0": [[(140 + 60 * math.sin(t), 140 - 95 * math.cos(t)) for t in np.linspace(0, 2 * math.pi, 40)]],
    "7": [[(70, 50), (210, 50), (120, 245)]],
}


@pytest.mark.parametrize("digit", ["1", "0", "7"])
def test_a_drawn_digit_is_read(browser, url, shots, digit):
    page = browser.new_page(viewport={"width": 900, "height": 650})
    page.goto(url)
    page.wait_for_function("document.querySelectorAll('[data-testid=model] option').length === 2")
    for points in DIGITS[digit]:
        before = page.get_by_test_id("prediction").inner_text()
        _stroke(page, points)
        text = _answer(page, before)
    assert text.startswith(digit), text
    assert page.locator("[data-testid=outputs] .bar").count() == 10
    assert page.get_by_test_id("certainty").inner_text().startswith(("output ", "not sure"))
    assert page.get_by_test_id("preview").get_attribute("src").startswith("data:image/png;base64,")
    assert page.get_by_test_id("error").inner_text() == ""
    page.screenshot(path=os.path.join(shots, f"draw-{digit}.png"))
    page.get_by_test_id("clear").click()
    assert page.get_by_test_id("prediction").inner_text() == "–"
    page.close()


def test_an_upload_is_read_and_a_text_file_is_an_error_the_page_survives(browser, url, shots, tmp_path):
    from mnist_fixtures import small_digits  # noqa: F401  (the fixtures' folder is importable)
    photo = np.full((400, 300), 225, np.uint8)
    photo[60:340, 140:170] = 30  # a "1" in dark ink on light paper
    Image.fromarray(photo).save(tmp_path / "one.jpg")
    (tmp_path / "notes.txt").write_text("not an image")
    page = browser.new_page(viewport={"width": 900, "height": 650})
    page.goto(url)
    page.wait_for_function("document.querySelectorAll('[data-testid=model] option').length === 2")
    before = page.get_by_test_id("prediction").inner_text()
    page.get_by_test_id("upload").set_input_files(str(tmp_path / "one.jpg"))
    assert _answer(page, before).startswith("1")
    page.get_by_test_id("upload").set_input_files(str(tmp_path / "notes.txt"))
    page.wait_for_function("document.querySelector('[data-testid=error]').textContent.length > 0", timeout=15000)
    assert "not an image nnfast can read (PNG, JPEG" in page.get_by_test_id("error").inner_text()
    _shows_a_placeholder_not_a_broken_image(page)
    page.screenshot(path=os.path.join(shots, "draw-error.png"))
    page.get_by_test_id("clear").click()
    before = page.get_by_test_id("prediction").inner_text()
    _stroke(page, DIGITS["1"][0])  # the page goes on predicting
    assert _answer(page, before).startswith("1")
    assert page.get_by_test_id("error").inner_text() == ""
    before = page.get_by_test_id("certainty").inner_text()
    page.get_by_test_id("model").select_option("1")  # the picker: the other model reads the same drawing
    page.wait_for_function("b => document.querySelector('[data-testid=certainty]').textContent !== b", arg=before,
                           timeout=15000)
    assert page.get_by_test_id("certainty").inner_text().startswith(("output ", "not sure"))
    page.screenshot(path=os.path.join(shots, "draw-other-model.png"))
    page.close()


def _shows_a_placeholder_not_a_broken_image(page):
    assert not page.get_by_test_id("preview").is_visible()  # no src: hidden, never a broken-image icon
    assert page.get_by_test_id("preview-empty").is_visible()


def test_the_first_view_looks_finished(browser, url, shots):
    """Before any reading: a placeholder where the 28x28 image goes, an icon (no 404), the models named by what they
    are and shown whole in the picker."""
    missing = []
    page = browser.new_page(viewport={"width": 900, "height": 650})
    page.on("response", lambda r: missing.append(r.url) if r.status >= 400 else None)
    page.goto(url)
    page.wait_for_function("document.querySelectorAll('[data-testid=model] option').length === 2")
    _shows_a_placeholder_not_a_broken_image(page)
    assert page.get_by_test_id("prediction").inner_text() == "–"
    assert "Draw a digit" in page.get_by_test_id("certainty").inner_text()
    options = page.locator("[data-testid=model] option").all_inner_texts()
    assert options == ["784-100-10, chapter 3 (default)", "784-10-10, chapter 1 (untrained.npz)"], options
    picker = page.get_by_test_id("model")
    assert picker.evaluate("s => s.scrollWidth <= s.clientWidth + 1")  # the chosen name is not cut off
    icon = page.evaluate("fetch('/favicon.ico').then(r => r.status)")
    assert icon == 200 and page.evaluate("document.querySelector('link[rel=icon]').href").endswith("favicon.svg")
    page.wait_for_timeout(300)
    assert missing == [], missing  # nothing the page asked for was missing (the icon included)
    page.screenshot(path=os.path.join(shots, "draw-start.png"))
    page.close()


def test_a_photo_uploaded_after_drawing_replaces_the_drawing(browser, url, shots, tmp_path):
    photo = np.full((400, 300), 225, np.uint8)
    photo[60:340, 140:170] = 30  # a "1" in dark ink on light paper
    Image.fromarray(photo).save(tmp_path / "one.png")
    page = browser.new_page(viewport={"width": 900, "height": 650})
    page.goto(url)
    page.wait_for_function("document.querySelectorAll('[data-testid=model] option').length === 2")
    before = page.get_by_test_id("prediction").inner_text()
    _stroke(page, DIGITS["7"][0])
    _answer(page, before)
    before = page.get_by_test_id("prediction").inner_text()
    page.get_by_test_id("upload").set_input_files(str(tmp_path / "one.png"))
    assert _answer(page, before).startswith("1")
    page.wait_for_timeout(300)  # the photo is drawn once the browser has decoded it
    # The canvas shows the photo: its stroke dark, its paper (225) where the 7's bar was, white beside it.
    grey = page.evaluate(_PIXELS)
    assert grey[0] < 80 and 215 <= grey[1] <= 235 and grey[2] == 255, grey
    page.screenshot(path=os.path.join(shots, "draw-photo-after-drawing.png"))
    _stroke(page, DIGITS["1"][0])  # drawing again starts a new drawing, not ink over the photo
    assert page.evaluate(_PIXELS)[1] == 255
    page.close()


_PIXELS = """() => {
    const c = document.querySelector('[data-testid=canvas]').getContext('2d');
    const at = (x, y) => c.getImageData(x, y, 1, 1).data[0];
    return [at(143, 140), at(200, 50), at(20, 50)];
}"""
