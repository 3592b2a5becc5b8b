"""Shadows in phone photos: the paper's own light is divided out before finding ink, so a shadow's edge is never
ink and the digit reaches the network as the clean photo's does (hard, soft and graded shadows, several angles and
strengths). The photos are benchmarks/photos.py's, which `make bench` reads with a trained net."""

import numpy as np
import pytest
from PIL import Image, ImageDraw

from benchmarks.photos import Shadow, edge_distance, phone_photo
from nnfast.imaging import digit_column, ink, read_grey


def _four():
    """A 28x28 handwritten-like 4 (0 paper .. 1 ink), drawn at 8x and reduced as MNIST's were."""
    img = Image.new("L", (224, 224), 0)
    d = ImageDraw.Draw(img)
    d.line([(120, 30), (50, 140), (180, 140)], fill=255, width=22, joint="curve")
    d.line([(140, 70), (135, 200)], fill=255, width=22)
    return np.asarray(img.resize((28, 28), Image.BOX), dtype=np.float64) / 255


def _box(column):
    rows, cols = np.nonzero(column.reshape(28, 28))
    return np.array([rows.min(), rows.max(), cols.min(), cols.max()])


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    path = tmp_path_factory.mktemp("clean") / "clean.jpg"
    phone_photo(_four(), path, None, seed=1)
    return digit_column(path)


SHADOWS = [
    Shadow("hard", 0, 0.3, -60), Shadow("hard", 35, 0.5, 60), Shadow("hard", 150, 0.3, 60),
    Shadow("soft", 90, 0.3, -60, 40), Shadow("soft", 35, 0.3, 60, 100), Shadow("soft", 260, 0.5, -60, 100),
    Shadow("soft", 200, 0.3, 0, 70),  # the photo: a 30%-dark shadow whose edge crosses the digit
    Shadow("graded", 0, 0.5), Shadow("graded", 120, 0.3),
]


@pytest.mark.parametrize("shadow", SHADOWS, ids=lambda s: f"{s.kind}-{s.angle}deg-{int(100 * s.strength)}pc")
def test_a_shadow_leaves_the_digit_as_the_clean_photo_gives_it(tmp_path, clean, shadow):
    path = tmp_path / "shadowed.jpg"
    digit = phone_photo(_four(), path, shadow, seed=1)
    column = digit_column(path)
    assert np.abs(_box(column) - _box(clean)).max() <= 2, (_box(column), _box(clean))
    blur = lambda c: np.asarray(Image.fromarray(c.reshape(28, 28) * 255).resize((14, 14), Image.BOX))  # noqa: E731
    assert np.corrcoef(blur(column).ravel(), blur(clean).ravel())[0, 1] > 0.9
    if shadow.kind != "graded":  # no pixel along the shadow's edge is ink, away from the digit's own strokes
        found = ink(read_grey(path))
        from scipy import ndimage
        near_digit = ndimage.binary_dilation(digit, iterations=12)
        edge = (edge_distance(found.shape, shadow) <= shadow.blur / 2 + 4) & ~near_digit
        assert edge.sum() > 500 and np.count_nonzero(found[edge]) == 0


def test_the_old_way_kept_the_shadow_as_ink(tmp_path, clean):
    """The geometric check above fails for a fitted smooth surface (what nnfast did): the test can fail."""
    from nnfast import imaging
    path = tmp_path / "shadowed.jpg"
    phone_photo(_four(), path, Shadow("soft", 200, 0.3, 0, 70), seed=1)
    grey = read_grey(path)
    a = 255.0 - grey
    a = np.clip((a - imaging.paper_level(a)) / 100, 0, 1)
    a[a < imaging.NOISE_FLOOR] = 0
    assert np.count_nonzero(a[edge_distance(a.shape, Shadow("soft", 200, 0.3, 0, 70)) <= 20]) > 1000


def test_clean_vignette_and_noise_cases_are_unchanged(tmp_path, clean):
    """Without a shadow the division changes nothing the network sees: the same box, nearly the same pixels."""
    quiet = tmp_path / "quiet.jpg"
    phone_photo(_four(), quiet, None, sd=0, seed=2)
    column = digit_column(quiet)
    assert np.abs(_box(column) - _box(clean)).max() <= 1 and max(_box(column)[[1, 3]] - _box(column)[[0, 2]]) == 19


@pytest.mark.network
def test_shadowed_photos_of_mnist_digits_are_read_right(mnist_home, draw_default, tmp_path):
    """A trained 784-100-10 net (the draw page's default) reads >= 90% of shadowed phone photos of MNIST test
    digits right (make bench measures more: benchmarks/photos.py)."""
    from nnfast import mnist_loader
    _, _, test = mnist_loader.load_data_wrapper()
    net = draw_default.net  # benchmarks.photos.default_net's recipe; trained once per session for tests/web too
    kinds = [Shadow("hard", 35, 0.3, 60), Shadow("soft", 200, 0.3, 0, 70), Shadow("soft", 90, 0.5, -60, 100),
             Shadow("graded", 45, 0.5)]
    read = []
    for i in range(24):
        x, label = test[i]
        column = digit_column(tmp_path / f"{i}.jpg") if phone_photo(
            x.reshape(28, 28), tmp_path / f"{i}.jpg", kinds[i % 4], sd=8, seed=i) is not None else None
        read.append(int(np.argmax(net.feedforward(column))) == label)
    assert sum(read) >= 22, read  # 90%: before, 2-9 of 10 per kind


@pytest.mark.network
def test_an_mnist_digit_inverted_to_dark_on_light_reads_as_the_digit(mnist_home):
    """A 28x28 scan, dark ink on white: its paper is found around even bold strokes (the closing's square is at
    least 15 px), so the digit comes back as MNIST's own."""
    import io

    from nnfast import mnist_loader
    _, _, (X, _) = mnist_loader.load_data()
    for i in range(20):
        digit = np.round(X[i] * 256).clip(0, 255).astype(np.uint8).reshape(28, 28)
        blob = io.BytesIO()
        Image.fromarray(255 - digit).save(blob, format="PNG")
        inverted = digit_column(io.BytesIO(blob.getvalue()))
        blob = io.BytesIO()
        Image.fromarray(digit).save(blob, format="PNG")
        as_is = digit_column(io.BytesIO(blob.getvalue()))
        assert np.abs(inverted - as_is).max() <= 0.02, i
