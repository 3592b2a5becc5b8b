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
def url(mnist_home):
    from nnfast.web.models import entries
    offered = entries([], say=lambda m: None)  # the default model, trained on first use in the test's home
    from nnfast import network
    np.random.seed(0)
    offered.append(type(offered[0])("untrained.npz", network.Network([784, 10, 10])))
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
    assert page.locator("[data-testid=probabilities] .bar").count() == 10
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
    assert "not an image" in page.get_by_test_id("error").inner_text()
    page.screenshot(path=os.path.join(shots, "draw-error.png"))
    page.get_by_test_id("clear").click()
    before = page.get_by_test_id("prediction").inner_text()
    _stroke(page, DIGITS["1"][0])  # the page goes on predicting
    assert _answer(page, before).startswith("1")
    assert page.get_by_test_id("error").inner_text() == ""
    page.get_by_test_id("model").select_option("1")  # the picker: the other model reads the same drawing
    page.wait_for_timeout(500)
    page.close()
