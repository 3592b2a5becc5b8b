"""nnfast.imaging prepares a photo as MNIST's digits were prepared."""

import numpy as np
import pytest
from PIL import Image

from nnfast.imaging import ImageError, digit_column


def _save(array, path):
    Image.fromarray(np.clip(array, 0, 255).astype(np.uint8)).save(path)
    return path


def test_dark_ink_on_light_paper_becomes_a_centred_mnist_digit(tmp_path):
    paper = np.full((300, 200), 230.0)
    paper[40:160, 20:50] = 20.0  # a tall bar, far from the centre
    column = digit_column(_save(paper, tmp_path / "bar.png"))
    assert column.shape == (784, 1) and column.dtype == np.float32
    field = column.reshape(28, 28)
    assert field.max() <= 255 / 256 and field[0].max() == 0  # ink bright on black, values byte / 256
    rows, cols = np.nonzero(field)
    assert rows.max() - rows.min() + 1 == 20  # the long side fits the 20x20 box
    ys, xs = np.indices(field.shape)
    assert abs((ys * field).sum() / field.sum() - 14) <= 1 and abs((xs * field).sum() / field.sum() - 14) <= 1
    np.testing.assert_array_equal(np.round(column * 256), column * 256)


def test_light_ink_on_black_is_not_inverted(tmp_path):
    img = np.zeros((28, 28))
    img[6:22, 12:16] = 255
    field = digit_column(_save(img, tmp_path / "mnist.png")).reshape(28, 28)
    assert field[14, 14] > 0.9 and field[0, 0] == 0


def test_noise_on_the_paper_is_removed(tmp_path):
    rng = np.random.default_rng(0)
    paper = 225 + rng.normal(0, 6, (120, 120))
    paper[30:90, 55:65] = 30
    field = digit_column(_save(paper, tmp_path / "noisy.png")).reshape(28, 28)
    assert np.count_nonzero(field[:, :8]) == 0  # nothing left where there was only noisy paper


def test_transparent_png_reads_as_ink_on_white(tmp_path):
    rgba = np.zeros((60, 60, 4), dtype=np.uint8)
    rgba[10:50, 25:35] = (0, 0, 0, 255)  # black strokes, the rest transparent
    path = tmp_path / "alpha.png"
    Image.fromarray(rgba, "RGBA").save(path)
    field = digit_column(path).reshape(28, 28)
    assert field.max() > 0.9 and field[0, 0] == 0


def test_blank_and_unreadable_images_are_refused_by_name(tmp_path):
    with pytest.raises(ImageError, match="blank.png: no ink"):
        digit_column(_save(np.full((50, 50), 200.0), tmp_path / "blank.png"))
    (tmp_path / "x.png").write_bytes(b"not an image")
    with pytest.raises(ImageError, match="x.png: not an image"):
        digit_column(tmp_path / "x.png")


def _seven(size=190):
    """Ink (0 paper .. 1 ink) of a digit-like 7 in a size x size box: a bar and a slanted stroke."""
    from PIL import ImageDraw
    img = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(img)
    w = max(2, size // 12)
    draw.line([(size * 0.2, size * 0.15), (size * 0.8, size * 0.15)], fill=255, width=w)
    draw.line([(size * 0.8, size * 0.15), (size * 0.4, size * 0.9)], fill=255, width=w)
    return np.asarray(img, dtype=np.float64) / 255


def _page(shape, top_left, size=190, paper=235.0, ink=30.0):
    """A page of ``shape`` with the 7 drawn at ``top_left``: dark ink on light paper, 0..255 floats."""
    page = np.full(shape, paper)
    s = _seven(size)
    y, x = top_left
    page[y:y + size, x:x + size] = paper - s * (paper - ink)
    return page


def _similar(a, b):
    """Correlation of two 784-pixel columns, each slightly blurred: strokes a pixel thicker or one pixel
    over are the same digit (the network sees them so), a smear or an empty field is not."""
    def blur(c):
        f = np.pad(c.reshape(28, 28).astype(np.float64), 1)
        return sum(f[dy:dy + 28, dx:dx + 28] for dy in range(3) for dx in range(3)).ravel()
    return float(np.corrcoef(blur(a), blur(b))[0, 1])


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    path = tmp_path_factory.mktemp("clean") / "seven.png"
    return digit_column(_save(_page((260, 240), (30, 25)), path))


def test_a_16_bit_scan_reads_like_its_8_bit_copy(tmp_path, clean):
    page16 = np.round(_page((260, 240), (30, 25)) * 257).astype(np.uint16)  # 0..65535
    path = tmp_path / "scan16.png"
    Image.fromarray(page16).save(path)
    with Image.open(path) as img:
        assert img.mode in ("I;16", "I")  # really a 16-bit file
    assert _similar(digit_column(path), clean) > 0.98


def test_a_small_digit_on_a_12_megapixel_page_is_found(tmp_path, clean):
    page = _page((3000, 4000), (1400, 1900))
    path = tmp_path / "page.jpg"
    Image.fromarray(page.astype(np.uint8)).save(path, quality=92)
    column = digit_column(path)
    assert _similar(column, clean) > 0.9


def test_a_shadow_across_the_paper_is_not_ink(tmp_path, clean):
    page = _page((260, 240), (30, 25))
    shade = np.linspace(0, 120, 240)[None, :]  # light on the left, a shadow to the right
    shaded = np.clip(page - shade * (page > 100) - shade * 0.3 * (page <= 100), 0, 255)
    column = digit_column(_save(shaded, tmp_path / "shaded.png"))
    assert _similar(column, clean) > 0.9


def test_an_image_beyond_the_bound_is_refused_plainly(tmp_path, monkeypatch):
    from nnfast import imaging
    monkeypatch.setattr(imaging, "MAX_PIXELS", 1_000_000)
    path = _save(_page((1000, 1200), (100, 100)), tmp_path / "big.png")
    with pytest.raises(ImageError, match=r"big.png: 1200x1000 is 1 megapixels; nnfast reads images up to 1 meg"):
        digit_column(path)


def test_pillows_own_bomb_limit_does_not_stop_a_large_photo(tmp_path, monkeypatch):
    from PIL import Image as PILImage
    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", 1_000_000)  # as if the photo were past Pillow's 89 MP
    path = tmp_path / "photo.jpg"
    PILImage.fromarray(_page((1500, 2000), (600, 900)).astype(np.uint8)).save(path)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not even Pillow's raw warning reaches the user
        assert digit_column(path).max() > 0.9
    assert PILImage.MAX_IMAGE_PIXELS == 1_000_000  # and its setting is left as it was


def noisy_photo(ink28, path, sd, seed, scale=18, size=(900, 700), quality=85):
    """A phone photo of a digit: ``ink28`` (28x28, 0..1) drawn large in dark ink on grey paper, under uneven
    light (a slope and a vignette), with sensor noise of ``sd`` (of 255), saved as a JPEG."""
    rng = np.random.default_rng(seed)
    big = np.asarray(Image.fromarray((ink28 * 255).astype(np.uint8)).resize((28 * scale, 28 * scale),
                                                                             Image.BICUBIC), dtype=np.float64) / 255
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    img = 175 + 40 * (xx / w - 0.5) + 25 * (yy / h - 0.5) - 30 * ((xx / w - 0.3) ** 2 + (yy / h - 0.6) ** 2)
    top, left = (h - big.shape[0]) // 2 + 20, (w - big.shape[1]) // 2 - 40
    img[top:top + big.shape[0], left:left + big.shape[1]] *= 1 - 0.85 * big
    img += rng.normal(0, sd, img.shape)
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(path, quality=quality)
    return path


def _ink_box(column):
    rows, cols = np.nonzero(column.reshape(28, 28))
    return rows.max() - rows.min() + 1, cols.max() - cols.min() + 1


@pytest.mark.parametrize("sd", [4, 8, 10, 12])
def test_a_noisy_phone_photo_is_cropped_to_its_digit(tmp_path, sd):
    seven = np.asarray(Image.fromarray((_seven(28 * 8) * 255).astype(np.uint8)).resize((28, 28), Image.BOX),
                       dtype=np.float64) / 255
    quiet = digit_column(noisy_photo(seven, tmp_path / "quiet.jpg", sd=0, seed=0))
    column = digit_column(noisy_photo(seven, tmp_path / f"noisy{sd}.jpg", sd=sd, seed=sd))
    assert max(_ink_box(column)) == 20  # the digit fills the 20x20 box, as in MNIST (7-13 px before)
    assert _similar(column, quiet) > 0.9


@pytest.mark.network
def test_noisy_photos_of_mnist_digits_read_as_well_as_the_digits(mnist_home, tmp_path):
    import contextlib
    import io
    import random

    from nnfast import mnist_loader, network
    training, _, test = mnist_loader.load_data_wrapper()
    random.seed(1)
    np.random.seed(1)
    net = network.Network([784, 30, 10])
    with contextlib.redirect_stdout(io.StringIO()):
        net.SGD(training, 5, 10, 3.0)
    read = []
    for i in range(12):
        x, label = test[i]
        column = digit_column(noisy_photo(x.reshape(28, 28), tmp_path / f"{i}.jpg", sd=8 + i % 5, seed=i))
        assert max(_ink_box(column)) == 20
        read.append(int(np.argmax(net.feedforward(column))) == label)
    assert sum(read) >= 10, read  # 3 of 12 before the strokes were found under the noise
