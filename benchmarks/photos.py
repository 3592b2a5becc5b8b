"""Phone photos of digits under shadows: how many a trained net reads right, and the time per photo.

``phone_photo`` makes the synthetic photos (tests/test_imaging_shadows.py uses it too): a 28x28 digit drawn
large in dark ink on grey paper under uneven light (a slope and a vignette), sensor noise, saved as a JPEG,
with a shadow laid over paper and ink alike (light is multiplied): ``hard`` (a straight edge), ``soft`` (the
edge blurred over ``blur`` px) or ``graded`` (darkening across the whole photo), at any angle and strength.
``run`` reads MNIST test digits photographed so, under each kind of shadow, with the draw page's default net
(784-100-10, chapter 3), as `nnfast predict` reads photos.
"""

import contextlib
import io
import random
import sys
import time
from typing import NamedTuple

import numpy as np


class Shadow(NamedTuple):
    kind: str          # "hard", "soft" or "graded"
    angle: float       # degrees: the direction, across the photo, in which it gets darker
    strength: float    # the share of the light it takes away at its darkest: 0.3 is 30% darker
    offset: float = 0  # px: the edge's distance from the photo's centre, along that direction
    blur: float = 0    # px: the width over which a soft edge goes from light to shadow


def shade(shape, shadow):
    """The light's factor at every pixel of ``shape`` (h, w): 1 in the light, 1 - strength in the shadow."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    t = np.deg2rad(shadow.angle)
    d = (xx - w / 2) * np.cos(t) + (yy - h / 2) * np.sin(t) - shadow.offset  # signed distance from the edge
    if shadow.kind == "graded":
        reach = abs(w * np.cos(t)) / 2 + abs(h * np.sin(t)) / 2
        depth = np.clip((d + shadow.offset + reach) / (2 * reach), 0, 1)
    elif shadow.kind == "soft":
        depth = np.clip(0.5 + d / shadow.blur, 0, 1)
    else:
        depth = (d > 0).astype(np.float64)
    return 1 - shadow.strength * depth


def edge_distance(shape, shadow):
    """Each pixel's distance (px) from the shadow's edge line (h, w)."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    t = np.deg2rad(shadow.angle)
    return np.abs((xx - w / 2) * np.cos(t) + (yy - h / 2) * np.sin(t) - shadow.offset)


def phone_photo(ink28, path, shadow=None, sd=8, seed=0, scale=18, size=(900, 700), quality=85):
    """Write the photo of ``ink28`` (28x28, 0 paper .. 1 ink) to ``path``; returns the digit's ink (h, w) bool,
    where the drawn digit is (for checking what was found against it)."""
    from PIL import Image
    rng = np.random.default_rng(seed)
    big = np.asarray(Image.fromarray((np.clip(ink28, 0, 1) * 255).astype(np.uint8)).resize(
        (28 * scale, 28 * scale), Image.BICUBIC), dtype=np.float64) / 255
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    img = 175 + 40 * (xx / w - 0.5) + 25 * (yy / h - 0.5) - 30 * ((xx / w - 0.3) ** 2 + (yy / h - 0.6) ** 2)
    top, left = (h - big.shape[0]) // 2 + 20, (w - big.shape[1]) // 2 - 40
    img[top:top + big.shape[0], left:left + big.shape[1]] *= 1 - 0.85 * big
    digit = np.zeros((h, w), dtype=bool)
    digit[top:top + big.shape[0], left:left + big.shape[1]] = big > 0.05
    if shadow is not None:
        img *= shade((h, w), shadow)
    img += rng.normal(0, sd, img.shape)
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(path, quality=quality)
    return digit


def shadows():
    """The shadows measured: hard, soft over 40 and 100 px, and graded, at several angles, 30% and 50% dark."""
    out = []
    for strength in (0.3, 0.5):
        for angle in (0, 35, 90, 150, 240):
            offset = 60 if angle % 2 else -60  # the edge across the digit on one side or the other
            out.append(Shadow("hard", angle, strength, offset))
            out.append(Shadow("soft", angle, strength, offset, 40))
            out.append(Shadow("soft", angle + 20, strength, -offset, 100))
        for angle in (0, 45, 200):
            out.append(Shadow("graded", angle, strength))
    return out


def default_net(training):
    """The draw page's default network: 784-100-10, cross-entropy, lmbda 5.0, 8 epochs at eta 0.1, seed 1."""
    from nnfast import network2
    random.seed(1)
    np.random.seed(1)
    net = network2.Network([784, 100, 10], cost=network2.CrossEntropyCost)
    with contextlib.redirect_stdout(io.StringIO()):
        net.SGD(training, 8, 10, 0.1, lmbda=5.0)
    return net


def run(training, test, digits=20, net=None, cases=None):
    """Read-right rates (clean photo, and each kind of shadow) and CPU time per photo for ``digits`` test digits,
    by ``net`` (default: ``default_net(training)``) under ``cases`` (default: no shadow, then ``shadows()``)."""
    import tempfile

    from nnfast.imaging import digit_column
    net = net or default_net(training)
    cases = cases or [None] + shadows()
    right, photos, seconds = {}, {}, []
    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/photo.jpg"
        for shadow in cases:
            kind = shadow.kind if shadow else "none"
            for i in range(digits):
                x, label = test[i]
                phone_photo(x.reshape(28, 28), path, shadow, sd=8 + i % 5, seed=i)
                start = time.process_time()
                column = digit_column(path)
                seconds.append(time.process_time() - start)
                right[kind] = right.get(kind, 0) + int(int(np.argmax(net.feedforward(column))) == label)
                photos[kind] = photos.get(kind, 0) + 1
    rows = [{"shadow": k, "photos": photos[k], "read_right": right[k] / photos[k]} for k in photos]
    shaded = [r for r in rows if r["shadow"] != "none"]
    out = {"digits": digits, "rows": rows, "size": "900x700 JPEG",
           "read_right_shadowed": sum(r["read_right"] * r["photos"] for r in shaded) / sum(r["photos"] for r in shaded),
           "cpu_ms_per_photo": 1000 * float(np.median(seconds)),
           "digits_read_right": _accuracy(net, test)}
    for r in rows:
        print(f"  photos, {r['shadow']:6s} shadow: {100 * r['read_right']:5.1f}% of {r['photos']} read right",
              file=sys.stderr, flush=True)
    print(f"  photos: {out['cpu_ms_per_photo']:.0f} ms CPU per 900x700 photo (median)", file=sys.stderr, flush=True)
    return out


def _accuracy(net, test):
    return sum(int(int(np.argmax(net.feedforward(x))) == y) for x, y in test) / len(test)


if __name__ == "__main__":
    from nnfast import mnist_loader
    tr, _, te = mnist_loader.load_data_wrapper()
    print(run(tr, te, digits=int(sys.argv[1]) if len(sys.argv) > 1 else 20))
