"""What ``nnfast draw``'s server does with a request, apart from any web framework: read it, predict, answer.

A request is JSON, ``{"model": i, "image": "data:image/png;base64,..."}``: the
drawing (the canvas as a PNG) or a photo the page read. The image goes through
``nnfast.imaging.digit_column``, exactly what ``nnfast predict`` does, and the
answer holds the prediction, the winning output (the unit's activation, the
figure ``nnfast predict`` shows) and whether the network is sure, every output,
and the 28x28 image the network saw. Every failure a request can cause is a ``RequestError`` with the
HTTP status to answer and a message for the page's error area.
"""

import base64
import binascii
import io
import json
import threading
import time

import numpy as np

from ..imaging import BlankImage, ImageError, digit_column

MAX_BODY = 16 * 2**20  # bytes of JSON: a 12 MB photo as base64


class RequestError(ValueError):
    """A request the server answers with ``status`` and this message."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class Entry:
    """A loaded model the page offers: its name, its class names (the model file's, else 0..K-1: letters
    for an EMNIST model, clothes for Fashion-MNIST) and a lock (one prediction at a time)."""

    def __init__(self, name, net):
        self.name, self.net = name, net
        names = (getattr(net, "metadata", None) or {}).get("classes")
        n_out = net.sizes[-1] if hasattr(net, "sizes") else net.layers[-1].n_out
        self.classes = ([str(c) for c in names] if isinstance(names, list) and len(names) == n_out
                        else [str(k) for k in range(n_out)])
        self.lock = threading.Lock()


def read_request(body, n_models):
    """``(model index, image bytes)`` from a request body, or ``RequestError``."""
    if len(body) > MAX_BODY:
        raise RequestError(413, f"the request is {len(body) / 2**20:.1f} MB; the page sends at most "
                                f"{MAX_BODY / 2**20:.0f} MB (a smaller photo, please)")
    try:
        request = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise RequestError(400, "the request is not JSON") from None
    if not isinstance(request, dict) or not isinstance(request.get("image"), str):
        raise RequestError(400, 'the request needs {"image": "data:image/...;base64,..."}')
    model = request.get("model", 0)
    if isinstance(model, bool) or not isinstance(model, int) or not 0 <= model < n_models:
        raise RequestError(400, f"no model {model!r}: there are {n_models}")
    image = request["image"]
    if image.startswith("data:"):
        header, _, image = image.partition(",")
        if ";base64" not in header:
            raise RequestError(400, "the image must be a base64 data URL")
    try:
        data = base64.b64decode(image, validate=True)
    except (binascii.Error, ValueError):
        raise RequestError(400, "the image is not valid base64") from None
    if not data:
        raise RequestError(400, "the image is empty")
    return model, data


def predict_image(entry, data, name="the image"):
    """The answer for image bytes ``data``: prediction, its output and certainty (``nnfast.runs.inference.certainty``),
    every output, the 28x28 preview, the server's time."""
    start = time.perf_counter()
    try:
        column = digit_column(io.BytesIO(data), name=name)
    except BlankImage:
        raise RequestError(422, "nothing drawn yet: no ink found") from None
    except ImageError as exc:
        message = str(exc)
        raise RequestError(422, message[len(name) + 2:] if message.startswith(f"{name}: ") else message) from None
    with entry.lock:
        out = _outputs(entry.net, column)
    best, output, sure = _certainty(out)
    return {"prediction": entry.classes[best], "index": best, "output": round(output, 4), "sure": sure,
            "outputs": [round(float(v), 4) for v in out], "classes": entry.classes,
            "preview": preview_png(column), "ms": round(1000 * (time.perf_counter() - start), 1)}


def _certainty(out):
    from ..runs.inference import certainty
    return certainty(out)


def _outputs(net, column):
    from ..runs.inference import outputs
    return np.asarray(outputs(net, column), dtype=np.float64)


def preview_png(column):
    """The 28x28 input the network sees, as a PNG data URL (ink bright on black, as MNIST's)."""
    from PIL import Image
    pixels = np.clip(np.round(column.reshape(28, 28) * 256), 0, 255).astype(np.uint8)
    blob = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(blob, format="PNG")
    return "data:image/png;base64," + base64.b64encode(blob.getvalue()).decode("ascii")
