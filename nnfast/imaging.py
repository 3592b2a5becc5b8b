"""Turn a photo or scan of one handwritten digit into an MNIST-style input column.

MNIST was made by taking each digit's ink, scaling it to fit a 20x20 box
(keeping its aspect ratio) and placing that box in a 28x28 field so that the
ink's centre of mass sits at the centre; ink is bright on a black background.
``digit_column`` repeats those steps for any image Pillow can read: dark ink on
light paper (inverted), a shadow or uneven light across the paper (divided out:
``paper_light``), a noisy background (removed), any size, not centred.
"""

import struct

import numpy as np

FIELD = 28
BOX = 20
NOISE_FLOOR = 0.25  # after background removal, ink weaker than this share of the strongest is noise


class ImageError(ValueError):
    """The image cannot be read or holds no digit; the message says which."""


class BlankImage(ImageError):
    """The image was read, and nothing on it stands out from the paper."""


WORK_SIDE = 1024  # images are reduced (by area averaging) to at most this many pixels a side
MAX_PIXELS = 200_000_000  # larger images are refused before decoding: a 200 MP phone photo still fits


def read_grey(path, name=None):
    """The image at ``path`` (a file name or a binary file object) as float greyscale (h, w), 0 black ..
    255 white, at most ``WORK_SIDE`` a side; messages name it ``name`` (default: ``path``).

    Any bit depth (16-bit scans are scaled, not clipped); transparency becomes
    white paper; JPEGs are decoded at a reduced scale when large, other
    formats reduced after decoding, so a 48 MP photo costs tens of MB, not GB.
    """
    import warnings

    from PIL import Image, ImageOps, UnidentifiedImageError

    where = path if name is None else name
    old_limit = Image.MAX_IMAGE_PIXELS
    try:
        Image.MAX_IMAGE_PIXELS = None  # nnfast's own bound below, with its own message
        with warnings.catch_warnings(), Image.open(path) as img:
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            w, h = img.size
            if w * h > MAX_PIXELS:
                raise ImageError(f"{where}: {w}x{h} is {w * h / 1e6:.0f} megapixels; nnfast reads images up to "
                                 f"{MAX_PIXELS / 1e6:.0f} megapixels: scale it down first")
            img.draft("L", (WORK_SIDE, WORK_SIDE))  # JPEG: decode at 1/2, 1/4 or 1/8 scale; others: no-op
            img = ImageOps.exif_transpose(img)
            if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
                rgba = img.convert("RGBA")
                paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                img = Image.alpha_composite(paper, rgba)
            grey = _as_float_grey(img)
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError(f"{where}: no such file") from None
    except UnidentifiedImageError:
        raise ImageError(f"{where}: not an image nnfast can read (PNG, JPEG, GIF, BMP, TIFF, WebP, ...)") from None
    except (OSError, ValueError, MemoryError, EOFError, SyntaxError, struct.error) as exc:
        # Pillow reports some damaged files as SyntaxError ("broken PNG file") or struct.error
        raise ImageError(f"{where}: cannot read the image ({exc})") from None
    finally:
        Image.MAX_IMAGE_PIXELS = old_limit
    return _reduced(grey)


def _as_float_grey(img):
    """Greyscale float64 0..255 from any Pillow mode: 16- and 32-bit greys are scaled by their bit depth."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        a = np.asarray(img, dtype=np.float64)
        full = 65535.0 if img.mode.startswith("I;16") or a.max() <= 65535 else float(a.max())
        return a * (255.0 / full) if a.max() > 255 or img.mode.startswith("I;16") else a
    if img.mode == "F":
        a = np.asarray(img, dtype=np.float64)
        top = float(a.max())
        return a * (255.0 / top) if top > 255 else a
    return np.asarray(img.convert("L"), dtype=np.float64)


def _reduced(grey):
    """``grey`` averaged down so its longer side is at most ``WORK_SIDE`` (unchanged when already small)."""
    from PIL import Image
    h, w = grey.shape
    if max(h, w) <= WORK_SIDE:
        return grey
    scale = WORK_SIDE / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(grey.astype(np.float32), mode="F").resize(size, Image.BOX), dtype=np.float64)


def _border(a):
    """The pixels of the outer frame (about 5% of each side): the paper, in a photo of one digit."""
    h, w = a.shape
    bh, bw = max(1, h // 20), max(1, w // 20)
    return np.concatenate([a[:bh].ravel(), a[-bh:].ravel(), a[:, :bw].ravel(), a[:, -bw:].ravel()])


def paper_level(a, rounds=3, keep=0.6, samples=40_000):
    """The paper's level at every pixel of ``a`` (ink bright, paper dark): a quadratic surface fitted to
    the darkest ``keep`` share of the pixels, refitted ``rounds`` times, so an even page is a constant
    and a shadow or vignette across the page is followed instead of being read as ink."""
    h, w = a.shape
    ys, xs = np.mgrid[0:h, 0:w]
    y, x = ys.ravel() / max(h - 1, 1) - 0.5, xs.ravel() / max(w - 1, 1) - 0.5
    basis = np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], axis=1)
    values = a.ravel()
    pick = np.linspace(0, values.size - 1, min(samples, values.size)).astype(np.int64)
    chosen = pick
    for _ in range(rounds):
        coef, *_ = np.linalg.lstsq(basis[chosen], values[chosen], rcond=None)
        residual = values[pick] - basis[pick] @ coef
        chosen = pick[residual <= np.quantile(residual, keep)]  # ink lies above the paper: drop it
    return (basis @ coef).reshape(h, w)


def light_paper(grey):
    """True when ``grey`` (h, w) is dark ink on light paper, False for light ink on a dark ground (MNIST's).

    The paper is the outer frame's upper quartile, not its median: a shadow over half the frame then leaves
    the lit paper to be measured. It is light when it is over the middle of the image's range (the 1st to
    99th percentile) or over mid-grey (128): a small digit on a large page barely moves the percentiles."""
    low, high = np.percentile(grey, [1, 99])
    return float(np.percentile(_border(grey), 75)) >= min(128.0, (low + high) / 2)


PAPER_WINDOW = 4  # the paper's light is the brightest level over squares of 1/PAPER_WINDOW of the longer side
MIN_PAPER = 16.0  # grey levels: the paper's light is taken as at least this (no division by black)


def paper_light(grey):
    """The light falling on the paper at every pixel of ``grey`` (h, w), dark ink on light paper: a grey
    morphological closing with a square of a quarter of the longer side (at every pixel, the darkest of the
    brightest values over each such square holding it), on a 3x3 median (sensor noise does not lift it).

    Ink narrower than the square is filled with the paper around it, while a shadow is kept exactly: a
    closing leaves any ramp or step running one way unchanged (a straight shadow edge at any angle, hard or
    blurred, a graded shadow, a vignette's slope), where a smooth fitted surface cuts across a shadow's edge
    and leaves it as ink. The squares may reach past the image's edge, and only their part on the image
    counts: a shadow's edge meeting the image's edge at a slant would otherwise leave a wedge of shadow
    that no whole square fits in, taken for ink."""
    from PIL import Image, ImageFilter
    from scipy import ndimage
    longer = max(grey.shape)
    # odd (centred squares); at least 15 px: a small scan's strokes (MNIST's are 2-6 px of 28) never fill one
    side = max(longer // PAPER_WINDOW, min(15, longer)) | 1
    smooth = np.asarray(Image.fromarray(grey.astype(np.float32), mode="F").filter(ImageFilter.MedianFilter(3)),
                        dtype=np.float64)
    reach = side // 2
    padded = np.pad(smooth, reach, constant_values=-np.inf)  # off the image: no value at all
    brightest = ndimage.maximum_filter(padded, size=side, mode="constant", cval=-np.inf)
    brightest[np.isneginf(brightest)] = np.inf  # squares that miss the image do not count
    darkest = ndimage.minimum_filter(brightest, size=side, mode="constant", cval=np.inf)
    return darkest[reach:reach + grey.shape[0], reach:reach + grey.shape[1]]


def ink(grey):
    """Ink strength in [0, 1] (h, w). On light paper: how much darker than the paper's own light each pixel
    is, as a share of that light (a shadow dims paper and ink alike, so the share is the same inside and
    outside it, and the shadow itself is not ink); on a dark ground the pixels as they are. Then a residual
    level removed, scaled by the ink's own strength, faint noise removed."""
    from PIL import Image, ImageFilter
    a = 255.0 * (1.0 - grey / np.maximum(paper_light(grey), MIN_PAPER)) if light_paper(grey) else grey
    a = a - paper_level(a)
    # The ink's strength: the brightest pixel after a 3x3 median (a few stray bright pixels do not set it,
    # and a small digit on a large page, 0.05% of its pixels, still does), or the 99.9th percentile when
    # higher (strokes one pixel thin vanish under a median).
    smooth = np.asarray(Image.fromarray(a.astype(np.float32), mode="F").filter(ImageFilter.MedianFilter(3)))
    peak = max(float(smooth.max()), float(np.percentile(a, 99.9)))
    if peak < 32:  # nothing stands out from the paper by even an eighth of the range
        raise BlankImage("no ink found: the image looks blank")
    a = np.clip(a / peak, 0.0, 1.0)
    a[a < NOISE_FLOOR] = 0.0
    # Sensor noise on a phone photo (sd 8-12 of 255) puts single pixels over the floor all over the page,
    # and the crop to the ink would then take the whole page. Ink is where the median-smoothed image is
    # over the floor; of that, only the strokes are kept: connected pieces at least MIN_PIECE of the
    # largest (a 5's separate bar stays, specks of noise and grain go).
    strokes = _strokes(np.clip(smooth / peak, 0.0, 1.0) >= NOISE_FLOOR)
    if strokes.any():
        a[~strokes] = 0.0
    return a


MIN_PIECE = 0.08  # a piece of ink smaller than this share of the largest piece is noise
LABEL_SIDE = 256  # connected pieces are found on the mask reduced to at most this many pixels a side
GROW = 2  # cells of that reduced mask around the strokes kept as theirs


def _strokes(mask):
    """Where the strokes of ``mask`` (h, w) bool are: its 8-connected pieces of at least ``MIN_PIECE`` of
    the largest, found on a max-reduced copy (a thin stroke stays connected), grown by ``GROW`` cells of that
    copy, twice (so a stroke's ends and faint edges, worn by the smoothing, stay)."""
    h, w = mask.shape
    f = max(1, -(-max(h, w) // LABEL_SIDE))
    hs, ws = -(-h // f), -(-w // f)
    padded = np.zeros((hs * f, ws * f), dtype=bool)
    padded[:h, :w] = mask
    small = padded.reshape(hs, f, ws, f).any(axis=(1, 3))
    labels, sizes = _pieces(small)
    if not sizes:
        return mask
    keep = np.flatnonzero(np.asarray(sizes) >= MIN_PIECE * max(sizes))
    grown = np.isin(labels, keep)
    for _ in range(GROW):  # the smoothing wears a stroke's ends and edges down: take them back
        grown = _grown(grown)
    return np.repeat(np.repeat(grown, f, axis=0), f, axis=1)[:h, :w]


def _grown(m):
    """``m`` grown by one cell in all eight directions."""
    out = m.copy()
    out[1:] |= m[:-1]
    out[:-1] |= m[1:]
    rows = out.copy()
    out[:, 1:] |= rows[:, :-1]
    out[:, :-1] |= rows[:, 1:]
    return out


def _pieces(mask):
    """``(labels, sizes)``: each 8-connected piece of ``mask`` numbered 0, 1, ... (-1 off the mask), and
    the number of cells of each."""
    h, w = mask.shape
    labels = np.full(h * w, -1, dtype=np.int64)
    on = mask.ravel()
    sizes = []
    for start in np.flatnonzero(on).tolist():
        if labels[start] >= 0:
            continue
        label = len(sizes)
        labels[start] = label
        stack, count = [start], 0
        while stack:
            p = stack.pop()
            count += 1
            r, c = divmod(p, w)
            for rr in (r - 1, r, r + 1):
                if 0 <= rr < h:
                    for cc in (c - 1, c, c + 1):
                        q = rr * w + cc
                        if 0 <= cc < w and on[q] and labels[q] < 0:
                            labels[q] = label
                            stack.append(q)
        sizes.append(count)
    return labels.reshape(h, w), sizes


def mnist_field(strength):
    """Crop to the ink, scale to fit 20x20 keeping the aspect ratio, centre by mass in 28x28.

    Returns (28, 28) float64 in [0, 255].
    """
    from PIL import Image

    rows = np.flatnonzero(strength.any(axis=1))
    cols = np.flatnonzero(strength.any(axis=0))
    if rows.size == 0:
        raise BlankImage("no ink found")
    crop = strength[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    h, w = crop.shape
    scale = BOX / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    box = np.asarray(Image.fromarray((crop * 255).astype(np.float32), mode="F").resize(size, Image.LANCZOS))
    box = np.clip(box, 0, 255)
    total = box.sum()
    if total <= 0:
        raise BlankImage("no ink found")
    ys, xs = np.indices(box.shape)
    cy, cx = (ys * box).sum() / total, (xs * box).sum() / total
    top = int(np.clip(round(FIELD / 2 - cy), 0, FIELD - box.shape[0]))
    left = int(np.clip(round(FIELD / 2 - cx), 0, FIELD - box.shape[1]))
    field = np.zeros((FIELD, FIELD))
    field[top:top + box.shape[0], left:left + box.shape[1]] = box
    return field


def digit_column(path, name=None):
    """The image at ``path`` (a file name or a binary file object) as the network's input: a (784, 1)
    float32 column of byte / 256 values. Messages name the image ``name`` (default: ``path``)."""
    where = str(path if name is None else name)
    try:
        field = mnist_field(ink(read_grey(path, where)))
    except ImageError as exc:
        message = str(exc)
        raise type(exc)(message if message.startswith(where) else f"{where}: {message}") from None
    return (np.round(field) / 256).astype(np.float32).reshape(FIELD * FIELD, 1)
