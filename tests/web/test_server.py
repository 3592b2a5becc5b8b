"""nnfast draw's server: the page, its files, and every bad request a 4xx with a message; it keeps serving."""

import base64
import io
import json
import struct
import urllib.error
import urllib.request
import zlib

import numpy as np
import pytest
from PIL import Image

from nnfast import network
from nnfast.web.reading import MAX_BODY, Entry, predict_image

from draw_server import serving


def _png(array):
    blob = io.BytesIO()
    Image.fromarray(array.astype(np.uint8)).save(blob, format="PNG")
    return blob.getvalue()


def _digit_png():
    img = np.full((280, 280), 255, np.uint8)
    img[50:230, 130:150] = 0  # a "1"
    return _png(img)


def _huge_png(width=20_000, height=20_000):
    """A valid PNG header stating 400 megapixels (the pixels themselves are never reached)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 10)) + chunk(b"IEND", b"")


def _post(url, body, content_type="application/json"):
    request = urllib.request.Request(url + "/api/predict", data=body, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def _image_body(data, kind="image/png", model=0):
    return json.dumps({"model": model, "image": f"data:{kind};base64," + base64.b64encode(data).decode()}).encode()


@pytest.fixture(scope="module")
def url():
    np.random.seed(0)
    entries = [Entry("a.npz", network.Network([784, 20, 10])), Entry("b.npz", network.Network([784, 10, 26]))]
    with serving(entries) as base:
        yield base


def test_the_page_and_its_files_are_served(url):
    page = urllib.request.urlopen(url + "/").read().decode()
    for testid in ("canvas", "clear", "prediction", "certainty", "outputs", "preview", "preview-empty", "upload", "model",
                   "error"):
        assert f'data-testid="{testid}"' in page
    assert "http" not in page.replace('name="viewport"', "")  # no CDN: everything comes from this server
    for name in ("draw.js", "draw.css", "favicon.svg"):
        assert urllib.request.urlopen(f"{url}/static/{name}").status == 200
    assert 'rel="icon" href="/static/favicon.svg"' in page
    icon = urllib.request.urlopen(f"{url}/favicon.ico")  # for whatever asks there: no 404 in the server's log
    assert icon.status == 200 and icon.headers["Content-Type"] == "image/svg+xml" and b"<svg" in icon.read()
    models = json.load(urllib.request.urlopen(url + "/api/models"))["models"]
    assert [m["name"] for m in models] == ["a.npz", "b.npz"] and len(models[1]["classes"]) == 26


def test_a_drawing_gets_a_prediction_every_share_and_the_image_the_network_sees(url):
    status, answer = _post(url, _image_body(_digit_png()))
    assert status == 200 and answer["prediction"] == answer["classes"][answer["index"]]
    assert len(answer["outputs"]) == 10 and answer["output"] == max(answer["outputs"]) == answer["outputs"][answer["index"]]
    assert answer["sure"] == (answer["output"] > 0.5 and sum(v > 0.5 for v in answer["outputs"]) == 1)
    preview = np.asarray(Image.open(io.BytesIO(base64.b64decode(answer["preview"].split(",", 1)[1]))))
    rows = np.flatnonzero(preview.any(axis=1))
    assert preview.shape == (28, 28) and rows[-1] - rows[0] + 1 == 20  # MNIST's 20x20 box, as predict makes it
    status, other = _post(url, _image_body(_digit_png(), model=1))
    assert status == 200 and len(other["outputs"]) == 26


@pytest.mark.parametrize("body, status, message", [
    (b"{not json", 400, "not JSON"),
    (json.dumps({"image": 5}).encode(), 400, "needs"),
    (json.dumps({"model": 7, "image": "data:image/png;base64,AA=="}).encode(), 400, "no model 7"),
    (json.dumps({"image": "data:image/png;base64,@@@"}).encode(), 400, "not valid base64"),
    (_image_body(b"just some text, not an image", "text/plain"), 422, "not an image nnfast can read (PNG, JPEG"),
    (_image_body(_png(np.full((60, 60), 255))), 422, "nothing drawn"),
    (_image_body(_huge_png()), 422, "megapixels"),
])
def test_a_bad_request_is_a_4xx_with_a_message_and_the_server_goes_on(url, body, status, message):
    got, answer = _post(url, body)
    assert got == status and message in answer["error"]
    assert _post(url, _image_body(_digit_png()))[0] == 200  # still serving


def test_no_path_reaches_outside_the_pages_files(url):
    for path in ("/static/..%2F..%2Fserver.py", "/static/%2e%2e%2fserver.py", "/static/reading.py", "/nope"):
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(url + path)
        assert caught.value.code == 404


def test_an_oversized_body_is_refused_from_its_stated_length_before_it_is_read(url):
    import http.client
    host, port = url.split("//")[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.putrequest("POST", "/api/predict")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", str(200 * 2**20))  # 200 MB announced, none sent
    conn.endheaders()
    response = conn.getresponse()
    assert response.status == 413 and "at most" in json.load(response)["error"]
    conn.close()
    assert _post(url, _image_body(_digit_png()))[0] == 200


def test_a_body_over_the_limit_without_a_stated_length_is_refused_too():
    from nnfast.web.reading import RequestError, read_request
    with pytest.raises(RequestError) as caught:
        read_request(b"x" * (MAX_BODY + 1), 1)
    assert caught.value.status == 413


def test_every_kind_of_model_file_is_offered_and_predicts(tmp_path):
    """Chapter 1's .npz, the book's network2 JSON and a chapter 6 network3 .npz, as `nnfast draw` loads them."""
    from nnfast import network2, network3
    from nnfast.runs.inference import load_network
    from nnfast.web.models import entries
    np.random.seed(1)
    network.Network([784, 12, 10]).save(tmp_path / "c1.npz")
    network2.Network([784, 12, 10]).save(tmp_path / "c3.json")
    network2.Network([784, 12, 10]).save(tmp_path / "c3.npz")  # as nnfast train --chapter 3 and draw's default
    network3.Network([network3.FullyConnectedLayer(784, 12), network3.SoftmaxLayer(12, 10)], 10).save(tmp_path / "c6.npz")
    files = ["c1.npz", "c3.json", "c3.npz", "c6.npz"]
    offered = entries([tmp_path / f for f in files])
    assert [e.name for e in offered] == ["784-12-10, chapter 1 (c1.npz)", "784-12-10, chapter 3 (c3.json)",
                                         "784-12-10, chapter 3 (c3.npz)",
                                         "chapter 6: fc12 (c6.npz)"]  # what each is, not only its file name
    for entry, path in zip(offered, files):
        answer = predict_image(entry, _digit_png())
        from nnfast.imaging import digit_column
        column = digit_column(io.BytesIO(_digit_png()))
        net = load_network(tmp_path / path)
        want = int(np.argmax(net.feedforward(column) if hasattr(net, "sizes") else net.feedforward(column.T)[0]))
        assert answer["index"] == want and len(answer["outputs"]) == 10
    assert abs(sum(predict_image(offered[3], _digit_png())["outputs"]) - 1) < 1e-3  # softmax: probabilities


def test_a_model_is_named_by_what_it_is():
    from nnfast import network2, network3
    from nnfast.web.models import describe, named
    np.random.seed(2)
    conv = network3.Network([network3.ConvPoolLayer((20, 1, 5, 5), (10, 1, 28, 28)),
                             network3.FullyConnectedLayer(20 * 12 * 12, 100), network3.SoftmaxLayer(100, 10)], 10)
    assert named(conv, "conv.npz").name == "chapter 6: conv20x5, pool2, fc100 (conv.npz)"
    relu = network3.Network([network3.FullyConnectedLayer(784, 30, activation_fn=network3.ReLU, p_dropout=0.5),
                             network3.SoftmaxLayer(30, 10, p_dropout=0.5)], 10)
    assert describe(relu) == "chapter 6: fc30, ReLU, dropout 0.5"
    assert describe(network.Network([784, 30, 10])) == "784-30-10, chapter 1"
    assert describe(network2.Network([784, 100, 10])) == "784-100-10, chapter 3"
    letters = [chr(ord("a") + k) for k in range(26)]
    assert describe(network2.Network([784, 50, 26]), letters) == "784-50-26, chapter 3, 26 classes (a..z)"
