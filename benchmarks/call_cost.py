"""Call-cost rows of `make bench`: what one call costs, nnfast against the book's own per-sample code.

A learner's script does not only train for thirty epochs. The book's
``fig/generate_gradient.py`` calls ``backprop(x, y)`` a thousand times and then
``SGD(td, 1, 1000, 0.1, lmbda=5.0)`` on a 1,000-image slice, five hundred
times over; other scripts call ``feedforward`` on one image, or ``SGD`` again
and again. Each row times one such call for nnfast and for the twin
(``nnfast.twins``, the book's code), alternating them, and gives the medians
and the ratio twin / nnfast (above 1: nnfast is quicker).

``python -m benchmarks.call_cost`` prints the rows alone.
"""

import contextlib
import io
import random
import statistics
import sys
import time

import numpy as np

from nnfast import network, network2
from nnfast.twins import network as twin1
from nnfast.twins import network2 as twin2

GRADIENT_SIZES = [784, 30, 30, 10]  # fig/generate_gradient.py's first net


def _seconds_per_call(fn, repeat):
    """Seconds per call over ``repeat`` calls in a row (as a script makes them: allocation and
    garbage collection included)."""
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def _side_by_side(make_calls, rounds, repeat):
    """Medians over rounds of the seconds per call (``repeat`` calls a round) for (nnfast, twin), rounds alternating which goes first."""
    fast, book = make_calls()
    fast(), book()  # compile / warm caches
    f_times, b_times = [], []
    for r in range(rounds):
        order = ((fast, f_times), (book, b_times)) if r % 2 == 0 else ((book, b_times), (fast, f_times))
        for fn, out in order:
            out.append(_seconds_per_call(fn, repeat))
    return statistics.median(f_times), statistics.median(b_times)


def _plain_sigmoid(z):
    """The sigmoid exactly as the book's network.py writes it: 1 over 1 plus exp of minus z (it overflows, with a
    warning, below z = -709; the twins' sigmoid does not, and costs more on one column)."""
    return 1.0/(1.0+np.exp(-z))


class _AsWritten:
    """A twin's weights and biases, fed forward exactly as the book's network.py does it: per layer its sigmoid of
    ``np.dot(w, a) + b``."""

    def __init__(self, twin_class, sizes, seed):
        np.random.seed(seed)
        twin = twin_class(sizes)
        self.weights, self.biases = twin.weights, twin.biases

    def feedforward(self, a):
        for b, w in zip(self.biases, self.weights):
            a = _plain_sigmoid(np.dot(w, a)+b)
        return a


def _nets(sizes, dtype=np.float64):
    np.random.seed(1)
    fast = network2.Network(sizes, dtype=dtype)
    np.random.seed(1)
    return fast, twin2.Network(sizes)


def _quiet(fn):
    def run():
        with contextlib.redirect_stdout(io.StringIO()):
            fn()
    return run


def run(training, rounds=5):
    td = training[:1000]
    x, y = td[0]
    rows = []

    def row(what, calls, rounds=rounds, repeat=1):
        f, b = _side_by_side(calls, rounds, repeat)
        rows.append({"call": what, "nnfast_s": f, "book_s": b, "vs_book": b / f})
        print(f"  {what:58s} nnfast {1e3 * f:9.3f} ms  book {1e3 * b:9.3f} ms  {b / f:6.2f}x",
              file=sys.stderr, flush=True)

    print(f"[call costs: nnfast against the book's code, {rounds} rounds alternating]", file=sys.stderr, flush=True)

    def one_column():
        f, b = _nets([784, 30, 10])
        return (lambda: f.feedforward(x)), (lambda: b.feedforward(x))
    row("feedforward(x), one image, 784-30-10", one_column, repeat=200)

    def one_column_as_written():  # the twins' sigmoid is overflow-safe, dearer on one column than the book's
        np.random.seed(1)
        f = network.Network([784, 30, 10])
        b = _AsWritten(twin1.Network, [784, 30, 10], seed=1)
        return (lambda: f.feedforward(x)), (lambda: b.feedforward(x))
    row("  the same, chapter 1, against network.py as written (its plain sigmoid)", one_column_as_written, repeat=200)

    def per_sample_backprop():
        f, b = _nets(GRADIENT_SIZES)
        return (lambda: f.backprop(x, y)), (lambda: b.backprop(x, y))
    row("backprop(x, y), one image, 784-30-30-10", per_sample_backprop, repeat=200)

    def slice_sgd():
        f, b = _nets(GRADIENT_SIZES)
        data_f, data_b = list(td), list(td)
        return (_quiet(lambda: f.SGD(data_f, 1, 1000, 0.1, lmbda=5.0)),
                _quiet(lambda: b.SGD(data_b, 1, 1000, 0.1, lmbda=5.0)))
    row("SGD(td[:1000], 1, 1000, 0.1, lmbda=5.0), 784-30-30-10", slice_sgd)

    def generate_gradient_epoch():  # one pass of generate_gradient.py's training loop
        f, b = _nets(GRADIENT_SIZES)
        data_f, data_b = list(td), list(td)

        def epoch(net, data):
            def go():
                [net.backprop(x, y)[0] for x, y in data]
                net.SGD(data, 1, 1000, 0.1, lmbda=5.0)
            return _quiet(go)
        return epoch(f, data_f), epoch(b, data_b)
    row("fig/generate_gradient.py, one epoch (1,000 backprops + SGD)", generate_gradient_epoch, rounds=3)

    def sgd_one_off():  # SGD for no epochs: the one-off work of a call on the loader's whole list
        f, b = _nets([784, 30, 10])
        data_f, data_b = list(training), list(training)
        return (_quiet(lambda: f.SGD(data_f, 0, 10, 0.5)), _quiet(lambda: b.SGD(data_b, 0, 10, 0.5)))
    row(f"SGD one-off on the loader's list ({len(training):,} images, 0 epochs)", sgd_one_off, rounds=3)

    own = {}
    for dtype in (np.float64, np.float32):
        data = own_loader_list(training, dtype)
        name = np.dtype(dtype).name

        def own_one_off(data=data, dtype=dtype):  # the same list, call after call (SGD leaves it shuffled)
            f, b = _nets([784, 30, 10], dtype)
            f.SGD(data, 0, 10, 3.0)  # the first call stacks and prepares the list: not what is measured here
            return (_quiet(lambda: f.SGD(data, 0, 10, 3.0)), _quiet(lambda: b.SGD(data, 0, 10, 3.0)))
        row(f"SGD one-off, a list built by the learner's own loader ({len(data):,} {name} columns, 0 epochs)",
            own_one_off, rounds=3)

        def own_new_list(data=data, dtype=dtype):  # a new list of the same arrays each call
            f, b = _nets([784, 30, 10], dtype)
            f.SGD(data, 0, 10, 3.0)
            return (_quiet(lambda: f.SGD(list(data), 0, 10, 3.0)), _quiet(lambda: b.SGD(list(data), 0, 10, 3.0)))
        row(f"  the same, a new list of the same arrays ({name})", own_new_list, rounds=3)

        def own_slice(data=data, dtype=dtype):  # a slice of the list (as SGD left it shuffled), each call anew
            f, b = _nets([784, 30, 10], dtype)
            f.SGD(data, 0, 10, 3.0)
            part = 4 * len(data) // 5
            return (_quiet(lambda: f.SGD(data[:part], 0, 10, 3.0)), _quiet(lambda: b.SGD(data[:part], 0, 10, 3.0)))
        row(f"  the same, a slice of four fifths of it ({name})", own_slice, rounds=3)
        own[name] = own_list_against_epoch(data, dtype, rounds=3)
    random.seed(0)
    return {"rounds": rounds, "rows": rows, "own_list": own, "draw": draw_page_work()}


def own_loader_list(training, dtype):
    """The training list as a learner's own loader builds it: a fresh ``(784, 1)`` array of ``dtype`` per image
    (byte / 256, the same pixels as nnfast's loader's) and a fresh one-hot ``(10, 1)`` per label."""
    return [(np.array(x, dtype=dtype), np.array(y, dtype=np.float64)) for x, y in training]


def own_list_against_epoch(data, dtype, rounds=3):
    """Process CPU seconds of ``SGD``'s one-off on the learner's own list (a call of 0 epochs, the list as the
    last call left it) against one epoch inside a call (a 3-epoch call less a 1-epoch call, halved), 784-30-10,
    mini-batch 10, a network of ``dtype``; medians of ``rounds``, the two alternating."""
    np.random.seed(1)
    net = network2.Network([784, 30, 10], dtype=dtype)
    call = _quiet(lambda: net.SGD(data, 0, 10, 3.0))
    call()  # stacks and prepares the list once, as a script's first call does

    def cpu(fn):
        start = time.process_time()
        fn()
        return time.process_time() - start
    one_off, epoch = [], []
    for r in range(rounds):
        for what in ((0, 1) if r % 2 == 0 else (1, 0)):
            if what == 0:
                one_off.append(cpu(call))
            else:
                three, one = cpu(_quiet(lambda: net.SGD(data, 3, 10, 3.0))), cpu(_quiet(lambda: net.SGD(data, 1, 10, 3.0)))
                epoch.append((three - one) / 2)
    out = {"one_off_cpu_s": statistics.median(one_off), "epoch_cpu_s": statistics.median(epoch)}
    out["one_off_per_epoch"] = out["one_off_cpu_s"] / max(out["epoch_cpu_s"], 1e-9)  # a tiny test set: ~0
    print(f"  own {np.dtype(dtype).name} list: one-off {1e3 * out['one_off_cpu_s']:.0f} ms CPU against an epoch's "
          f"{1e3 * out['epoch_cpu_s']:.0f} ms CPU inside a call ({out['one_off_per_epoch']:.2f} of an epoch)",
          file=sys.stderr, flush=True)
    return out


def draw_page_work(strokes=40):
    """The draw page's server work per stroke (decode the canvas PNG, prepare, predict, draw the preview):
    median and 90th percentile in ms over ``strokes`` drawings, on a 784-100-10 net."""
    import base64
    import io

    from PIL import Image, ImageDraw

    from nnfast.web.reading import Entry, predict_image
    np.random.seed(3)
    entry = Entry("bench", network2.Network([784, 100, 10]))
    rng = np.random.default_rng(0)
    times = []
    for i in range(strokes + 3):
        img = Image.new("L", (280, 280), 255)
        pts = [tuple(rng.uniform(40, 240, 2)) for _ in range(4)]
        ImageDraw.Draw(img).line(pts, fill=0, width=18, joint="curve")
        blob = io.BytesIO()
        img.save(blob, format="PNG")
        ms = predict_image(entry, base64.b64decode(base64.b64encode(blob.getvalue())))["ms"]
        if i >= 3:  # the first calls warm numpy's and Pillow's caches
            times.append(ms)
    times.sort()
    out = {"strokes": strokes, "median_ms": statistics.median(times), "p90_ms": times[int(0.9 * (len(times) - 1))]}
    print(f"  draw page, server work per stroke (280x280 canvas, 784-100-10): median {out['median_ms']:.1f} ms, "
          f"90th percentile {out['p90_ms']:.1f} ms", file=sys.stderr, flush=True)
    return out


if __name__ == "__main__":
    from nnfast import mnist_loader
    run(mnist_loader.load_data_wrapper()[0])
