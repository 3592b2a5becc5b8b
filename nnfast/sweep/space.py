"""The search space of ``nnfast sweep``: which training parameters vary, and over what.

Each parameter is given as ``nnfast train`` takes it, with two additions: a
comma list is a grid of values (``--eta 0.5,1,3``) and ``LOW:HIGH`` or
``LOW:HIGH:log`` is a range to sample (``--eta 0.1:10:log``). Layer widths
join with ``-`` inside one value (``--hidden 30,100-30``: one hidden layer of
30, or two of 100 and 30; ``--sizes 784-30-10``), since the comma separates
values. A single value fixes the parameter. Nothing here imports Optuna: the
space is plain data that the sweep turns into Optuna distributions.
"""

import dataclasses
import itertools
import json
import math
from typing import Optional

DEFAULTS = {"hidden": (30,), "sizes": None, "eta": 3.0, "batch_size": 10, "epochs": 30, "dtype": "float64",
            "cost": "quadratic", "lmbda": 0.0, "init": "large", "layers": None, "activation": "sigmoid",
            "dropout": 0.0}
CHOICES = {"dtype": ("float64", "float32"), "cost": ("quadratic", "cross-entropy"), "init": ("large", "default"),
           "activation": ("sigmoid", "ReLU", "tanh", "linear")}
FLOATS = ("eta", "lmbda", "dropout")
DENSE_ONLY = ("hidden", "sizes", "dtype", "cost", "init")  # chapters 1 and 3's networks
CONV_ONLY = ("activation", "dropout")  # with --layers: chapter 6's network3
CONV_DEFAULTS = {"eta": 0.1, "epochs": 60}  # the book's chapter 6 runs, as nnfast train --layers
INTS = ("batch_size", "epochs")
WIDTHS = ("hidden", "sizes")
NAMES = tuple(DEFAULTS)


class SpaceError(ValueError):
    """A parameter that cannot be swept as given; the message names the option."""


def option(name):
    return "--" + name.replace("_", "-")


@dataclasses.dataclass(frozen=True)
class Param:
    """One parameter: fixed (one value), a grid (several values) or a range (low, high, log)."""
    name: str
    values: tuple = ()  # fixed or grid values
    low: Optional[float] = None
    high: Optional[float] = None
    log: bool = False

    @property
    def is_range(self):
        return self.low is not None

    @property
    def is_swept(self):
        return self.is_range or len(self.values) > 1

    @property
    def integer(self):
        return self.name in INTS or self.name == "hidden"

    def describe(self):
        if self.is_range:
            return f"{format_value(self.low)}:{format_value(self.high)}{':log' if self.log else ''}"
        return ",".join(format_value(v) for v in self.values)


def format_value(value, digits=12):
    if isinstance(value, tuple):
        return "-".join(map(str, value))
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


@dataclasses.dataclass(frozen=True)
class Space:
    params: tuple  # of Param, in NAMES order

    def __getitem__(self, name):
        return next(p for p in self.params if p.name == name)

    @property
    def swept(self):
        return [p for p in self.params if p.is_swept]

    @property
    def has_ranges(self):
        return any(p.is_range for p in self.params)

    def grid(self):
        """Every point of an all-grid space, in the order the options list their values (the last varies fastest)."""
        if self.has_ranges:
            raise SpaceError("a space with LOW:HIGH ranges has no grid; give --trials to sample it")
        names = [p.name for p in self.params]
        return [dict(zip(names, combo)) for combo in itertools.product(*(p.values for p in self.params))]

    def key(self):
        """A canonical text of the space: a study recorded for another space is refused on resume."""
        return json.dumps({p.name: p.describe() for p in self.params}, sort_keys=True)


def parse(options, n_classes=10):
    """A ``Space`` from ``{name: text or None}`` as the command line gives them (None: the default).

    ``n_classes``: the outputs ``--sizes`` must end in (None: not checked here).
    """
    unknown = sorted(set(options) - set(NAMES))
    if unknown:
        raise SpaceError(f"cannot sweep {', '.join(map(option, unknown))}; sweepable: "
                         f"{', '.join(map(option, NAMES))}")
    if options.get("sizes") is not None and options.get("hidden") is not None:
        raise SpaceError("give --sizes or --hidden, not both")
    conv = options.get("layers") is not None
    wrong = [option(n) for n in (DENSE_ONLY if conv else CONV_ONLY) if options.get(n) is not None]
    if wrong:
        raise SpaceError(f"{', '.join(wrong)} {'do' if len(wrong) > 1 else 'does'} not go with "
                         f"{'--layers (chapter 6 nets)' if conv else 'dense nets: give --layers too (chapter 6)'}")
    params = []
    for name in NAMES:
        text = options.get(name)
        if name == "layers" and text is not None:
            params.append(_parse_layers(text))
            continue
        if text is None:
            if name == "sizes" or name in (DENSE_ONLY if conv else CONV_ONLY + ("layers",)):
                continue
            if name == "hidden" and options.get("sizes") is not None:
                continue
            params.append(Param(name, ((CONV_DEFAULTS if conv else DEFAULTS).get(name, DEFAULTS[name]),)))
            continue
        params.append(_parse_one(name, str(text).strip(), n_classes))
    return Space(tuple(params))


def _parse_layers(specs):
    """Chapter 6 layer specs as ``nnfast train --layers`` takes them, one per alternative (a list, or one text)."""
    from ..runs.train_conv import parse_layers
    specs = [specs] if isinstance(specs, str) else list(specs)
    if not specs:
        raise SpaceError("--layers is empty; e.g. conv20x5,pool2,fc100,softmax")
    values = []
    for spec in specs:
        spec = ",".join(t.strip() for t in str(spec).replace(" ", ",").split(",") if t.strip())
        try:
            parse_layers(spec, 1, "sigmoid", 0.0)  # checks the spec; the layers it draws are thrown away
        except ValueError as exc:
            raise SpaceError(str(exc)) from None
        values.append(spec)
    if len(set(values)) != len(values):
        raise SpaceError("--layers lists a net twice")
    return Param("layers", tuple(values))


def _parse_one(name, text, n_classes):
    hint = option(name)
    if text == "":
        raise SpaceError(f"{hint} is empty; give a value, a list such as a,b,c or a range LOW:HIGH")
    if ":" in text:
        return _parse_range(name, text, hint)
    items = [item.strip() for item in text.split(",")]
    if any(item == "" for item in items):
        raise SpaceError(f"{hint} {text!r} has an empty item (an empty grid is nothing to try)")
    values = tuple(_value(name, item, hint, n_classes) for item in items)
    if len(set(values)) != len(values):
        raise SpaceError(f"{hint} {text!r} lists a value twice")
    return Param(name, values)


def _value(name, item, hint, n_classes):
    if name in CHOICES:
        if item not in CHOICES[name]:
            raise SpaceError(f"{hint} {item!r} is not one of {', '.join(CHOICES[name])}")
        return item
    if name in WIDTHS:
        try:
            widths = tuple(int(w) for w in item.split("-"))
        except ValueError:
            raise SpaceError(f"{hint} {item!r} is not layer widths such as 30 or 100-30") from None
        if any(w < 1 for w in widths):
            raise SpaceError(f"{hint} {item!r}: widths must be positive integers")
        if name == "sizes":
            outputs = n_classes or widths[-1]  # None: checked once the data (and its classes) is loaded
            if len(widths) < 2 or widths[0] != 784 or widths[-1] != outputs:
                raise SpaceError(f"{hint} {item!r} must run from 784 inputs to {n_classes or 'one per class of'} "
                                 f"outputs, e.g. 784-30-{n_classes or 10}")
        return widths
    if name in INTS:
        try:
            value = int(item)
        except ValueError:
            raise SpaceError(f"{hint} {item!r} is not a whole number") from None
        if value < 1:
            raise SpaceError(f"{hint} {item!r} must be at least 1")
        return value
    try:
        value = float(item)
    except ValueError:
        raise SpaceError(f"{hint} {item!r} is not a number") from None
    _check_float(name, value, hint)
    return value


def _check_float(name, value, hint):
    if name == "dropout" and not (math.isfinite(value) and 0 <= value < 1):
        raise SpaceError(f"{hint} {value:g} must be at least 0 and below 1")
    if not math.isfinite(value) or value < 0 or (name == "eta" and value == 0):
        raise SpaceError(f"{hint} {value:g} must be a finite number {'> 0' if name == 'eta' else '>= 0'}")


def _parse_range(name, text, hint):
    if name in CHOICES or name in ("sizes", "layers"):
        raise SpaceError(f"{hint} takes a list of values, not a range")
    parts = text.split(":")
    log = len(parts) == 3 and parts[2].strip() == "log"
    if len(parts) not in (2, 3) or (len(parts) == 3 and not log):
        raise SpaceError(f"{hint} {text!r}: a range is LOW:HIGH or LOW:HIGH:log")
    integer = name in INTS or name == "hidden"
    try:
        low, high = (int(p) if integer else float(p) for p in parts[:2])
    except ValueError:
        raise SpaceError(f"{hint} {text!r}: LOW and HIGH must be {'whole numbers' if integer else 'numbers'}") \
            from None
    if integer and low < 1:
        raise SpaceError(f"{hint} {text!r}: LOW must be at least 1")
    if not integer:
        _check_float(name, low, hint)
        _check_float(name, high, hint)
    if low >= high:
        raise SpaceError(f"{hint} {text!r}: LOW must be below HIGH")
    if log and low <= 0:
        raise SpaceError(f"{hint} {text!r}: a log range cannot reach 0; start it above 0")
    return Param(name, (), low, high, log)


def sizes_of(params, n_classes):
    """The layer widths of a point: ``sizes`` if given, else 784, the hidden widths, one output per class."""
    if params.get("sizes") is not None:
        return list(params["sizes"])
    hidden = params["hidden"]
    hidden = (hidden,) if isinstance(hidden, int) else tuple(hidden)
    return [784, *hidden, n_classes]


# What an epoch of a dense point costs, relative to its weights (measured on 2 cores, process CPU time, 784-{30,100}-10,
# mini-batch 10/20/100, float64/float32): a mini-batch's update costs about ten samples' passes over the weights, and an
# epoch's fixed work (shuffle, slices, evaluation) about 100,000 weights' worth; float32 about 0.7 of float64.
UPDATE_SAMPLES = 10
EPOCH_FIXED_WEIGHTS = 100_000
CONV_WEIGHTS = 2_000_000  # a chapter 6 net, whatever its layers: it outweighs every dense point


def work_of(params, n_classes):
    """The work a point implies, in weight-passes (a number only for ordering points): epochs x (weights x
    (1 + UPDATE_SAMPLES / batch) + EPOCH_FIXED_WEIGHTS), times 0.7 in float32."""
    epochs, batch = int(params["epochs"]), int(params["batch_size"])
    if params.get("layers"):
        weights = CONV_WEIGHTS
    else:
        sizes = sizes_of(params, n_classes)
        weights = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    work = epochs * (weights * (1 + UPDATE_SAMPLES / batch) + EPOCH_FIXED_WEIGHTS)
    return work * (0.7 if params.get("dtype") == "float32" else 1.0)


def longest_first(points, n_classes):
    """``points`` in order of the work each implies, most first (ties in their given order): the longest trials
    start while every worker is busy, and the short ones fill the gaps at the end, so the workers finish
    together (a grid in the options' order left its widest nets for last, and one worker running them alone)."""
    return sorted(points, key=lambda p: -work_of(p, n_classes))


def as_json(params):
    """A point with tuples as lists and without absent keys (JSON and Optuna user attributes)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in params.items() if v is not None}


def label(params, names):
    """``eta=3 hidden=100`` for the swept parameters of a point."""
    return " ".join(f"{n}={format_value(tuple(params[n]) if isinstance(params[n], list) else params[n], 4)}"
                    for n in names)
