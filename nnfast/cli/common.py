"""What every command shares: exit codes, signals, library errors as one line, option checks, paths."""

import contextlib
import math
import os
import re
import signal

import click

EXIT_SIGINT = 130
EXIT_SIGTERM = 143


class Terminated(Exception):
    """SIGTERM arrived; raised from the signal handler so training stops at a safe point."""


@contextlib.contextmanager
def library_errors():
    """Turn the library's expected failures into click's one-line error and exit status 1."""
    from ..datasets import DataError
    from ..imaging import ImageError
    from ..models import ModelError
    try:
        yield
    except (DataError, ModelError, ImageError) as exc:
        raise click.ClickException(str(exc)) from None
    except (ValueError, TypeError) as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        raise click.ClickException(f"{where}{exc.strerror or exc}") from None


def echo_err(message):
    click.echo(message, err=True)


# -- option parsing --------------------------------------------------------------------

def int_list(text, what):
    """Layer widths separated by commas or spaces ("100,30", "100 30", "100, 30"); an empty item is refused."""
    parts = re.split(r"\s*,\s*|\s+", str(text).strip())
    if any(part == "" for part in parts):
        raise click.BadParameter(f"{text!r} has an empty item; give widths such as 100 or 100,30", param_hint=what)
    try:
        values = [int(part) for part in parts]
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a list of integers such as 100,30", param_hint=what) from None
    if any(v < 1 for v in values):
        raise click.BadParameter(f"{text!r}: widths must be positive integers", param_hint=what)
    return values


def finite_non_negative(ctx, param, value):
    if value is not None and (not math.isfinite(value) or value < 0):
        raise click.BadParameter(f"must be a finite number >= 0, got {value}")
    return value


def finite_positive(ctx, param, value):
    if value is not None and (not math.isfinite(value) or value <= 0):
        raise click.BadParameter(f"must be a finite number > 0, got {value}")
    return value


def check_save_path(path, hint="--save", example="model.npz"):
    """Fail before training if the file could not be written there."""
    if path is None:
        return None
    path = os.path.abspath(path)
    folder = os.path.dirname(path)
    if os.path.isdir(path):
        raise click.BadParameter(f"{path} is a folder; give a file name such as {example}", param_hint=hint)
    if not os.path.isdir(folder):
        raise click.BadParameter(f"folder {folder} does not exist", param_hint=hint)
    if not os.access(folder, os.W_OK):
        raise click.BadParameter(f"folder {folder} is not writable", param_hint=hint)
    return path


def check_plot_path(path, example, option="--plot"):
    """A PNG to draw (``option``: --plot, --errors, --confusion): matplotlib must be there and the file
    writable, before any training or evaluation; a problem names the option that was given."""
    if path is None:
        return None
    from ..plotting import PlotUnavailable, require_matplotlib
    try:
        require_matplotlib(option)
    except PlotUnavailable as exc:
        raise click.UsageError(str(exc)) from None
    return check_save_path(path, option, example)


def pick(validation, test, on):
    return validation if on == "validation" else test


@contextlib.contextmanager
def signals_as_exceptions():
    """SIGTERM raises Terminated (like Ctrl-C raises KeyboardInterrupt), so both stop training cleanly."""
    def handler(signum, frame):
        raise Terminated()
    try:
        old = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (e.g. some test runners): leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)
