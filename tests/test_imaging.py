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
