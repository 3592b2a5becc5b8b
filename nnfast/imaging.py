"""Turn a photo or scan of one handwritten digit into an MNIST-style input column.

MNIST was made by taking each digit's ink, scaling it to fit a 20x20 box
(keeping its aspect ratio) and placing that box in a 28x28 field so that the
ink's centre of mass sits at the centre; ink is bright on a black background.
``digit_column`` repeats those steps for any image Pillow can read: dark ink on
light paper (inverted), a slightly noisy background (removed), any size, not
centred.
"""

import numpy as np

FIELD = 28
BOX = 20
NOISE_FLOOR = 0.25  # after background removal, ink weaker than this share of the strongest is noise


class ImageError(ValueError):
    """The image cannot be read or holds no digit; the message says which."""


def read_grey(path):
    """The image at ``path`` as float greyscale (h, w), 0 black .. 255 white; transparency becomes white."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img = ImageOps.exif_transpose(img)
            if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
                rgba = img.convert("RGBA")
                paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                img = Image.alpha_composite(paper, rgba)
            return np.asarray(img.convert("L"), dtype=np.float64)
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image Pillow can read") from None
    except (OSError, ValueError) as exc:
        raise ImageError(f"{path}: cannot read the image ({exc})") from None


def _border(a):
    """The pixels of the outer frame (about 5% of each side): the paper, in a photo of one digit."""
    h, w = a.shape
    bh, bw = max(1, h // 20), max(1, w // 20)
    return np.concatenate([a[:bh].ravel(), a[-bh:].ravel(), a[:, :bw].ravel(), a[:, -bw:].ravel()])


def ink(grey):
    """Ink strength in [0, 1] (h, w): inverted when the paper is light, background and noise removed."""
    a = grey if np.median(_border(grey)) < 128 else 255.0 - grey
    a = a - np.median(_border(a))  # the paper's own level
    peak = np.percentile(a, 99.9)
    if peak < 32:  # nothing stands out from the paper by even an eighth of the range
        raise ImageError("no ink found: the image looks blank")
    a = np.clip(a / peak, 0.0, 1.0)
    a[a < NOISE_FLOOR] = 0.0
    return a


def mnist_field(strength):
    """Crop to the ink, scale to fit 20x20 keeping the aspect ratio, centre by mass in 28x28.

    Returns (28, 28) float64 in [0, 255].
    """
    from PIL import Image

    rows = np.flatnonzero(strength.any(axis=1))
    cols = np.flatnonzero(strength.any(axis=0))
    if rows.size == 0:
        raise ImageError("no ink found")
    crop = strength[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    h, w = crop.shape
    scale = BOX / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    box = np.asarray(Image.fromarray((crop * 255).astype(np.float32), mode="F").resize(size, Image.LANCZOS))
    box = np.clip(box, 0, 255)
    total = box.sum()
    if total <= 0:
        raise ImageError("no ink found")
    ys, xs = np.indices(box.shape)
    cy, cx = (ys * box).sum() / total, (xs * box).sum() / total
    top = int(np.clip(round(FIELD / 2 - cy), 0, FIELD - box.shape[0]))
    left = int(np.clip(round(FIELD / 2 - cx), 0, FIELD - box.shape[1]))
    field = np.zeros((FIELD, FIELD))
    field[top:top + box.shape[0], left:left + box.shape[1]] = box
    return field


def digit_column(path):
    """The image at ``path`` as the network's input: a (784, 1) float32 column of byte / 256 values."""
    try:
        field = mnist_field(ink(read_grey(path)))
    except ImageError as exc:
        message = str(exc)
        raise ImageError(message if message.startswith(str(path)) else f"{path}: {message}") from None
    return (np.round(field) / 256).astype(np.float32).reshape(FIELD * FIELD, 1)
