"""Notes to a learner whose change to the book's code moved a step off the compiled kernels.

One note per change per process, shown where the learner's code is: the
warning carries the file and line of the function they wrote (their
``backprop``, their cost's ``delta``), or, for a function with no Python
source (``np.tanh``), of the first line outside nnfast on the stack — the
script that called ``SGD``. Python's own "once per location" filter cannot
give that (the location would be this file, the same for every change), so
the changes already noted are kept here.
"""

import inspect
import os
import sys
import warnings

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # .../nnfast
_said = set()


class OverridePath(UserWarning):
    """A learner's change moved a step off nnfast's compiled kernels (it is honoured, more slowly)."""


def is_new(key):
    """True the first time ``key`` (any hashable naming a change) is asked about in this process."""
    if key in _said:
        return False
    _said.add(key)
    return True


def forget():
    """Forget every note given (tests that look for a note call it first)."""
    _said.clear()
    _last_told.clear()


def say(key, message, where=None):
    """``message`` as an ``OverridePath`` warning, unless ``key`` was said before in this process.

    ``message`` may be a callable that returns the text (built only when it is said). ``where``: the
    learner's function the note is about; its source line is the warning's location when it has one.
    ``warnings.filterwarnings`` can silence the category as usual.
    """
    if not is_new(key):
        return
    text = message() if callable(message) else message
    filename, lineno = _location(where)
    warnings.warn_explicit(text, OverridePath, filename, lineno, module=_module_name(filename))


def _location(where):
    """``(filename, line)``: ``where``'s definition when it is Python code outside nnfast, else the
    innermost frame outside nnfast (the learner's call)."""
    code = getattr(getattr(where, "__func__", where), "__code__", None)
    if code is not None and not _inside(code.co_filename):
        return code.co_filename, _def_line(code)
    frame = sys._getframe(1)
    while frame is not None and _inside(frame.f_code.co_filename):
        frame = frame.f_back
    if frame is None:
        return "<unknown>", 0
    return frame.f_code.co_filename, frame.f_lineno


def _def_line(code):
    """The line of the ``def`` itself (a code object's first line is its first decorator's)."""
    try:
        lines, start = inspect.getsourcelines(code)
    except (OSError, TypeError):
        return code.co_firstlineno
    for offset, line in enumerate(lines):
        if line.lstrip().startswith(("def ", "async def ", "lambda")) or "lambda" in line:
            return start + offset
    return code.co_firstlineno


def _inside(filename):
    return os.path.abspath(filename).startswith(_PACKAGE + os.sep)


def _module_name(filename):
    base = os.path.basename(filename)
    return base[:-3] if base.endswith(".py") else base


# -- what each change makes of a step, said once --------------------------------------------------------

_ACTIVATIONS = ("sigmoid", "sigmoid_prime")
_last_told = {}  # module -> the (sigmoid, sigmoid_prime) pair last told about: per-sample calls ask every time


def activation_replaced(module, namespace, originals):
    """``module.sigmoid`` and/or ``sigmoid_prime`` (the learner's ``namespace`` against ``originals``) replaced:
    the compiled kernels know only the sigmoid, so the book's formulas run in numpy through the learner's."""
    current = (namespace.get("sigmoid"), namespace.get("sigmoid_prime"))
    if _last_told.get(module) == current:
        return
    _last_told[module] = current
    replaced = [name for name, f in zip(_ACTIVATIONS, current) if f is not originals[name]]
    if not replaced:
        return

    def text():
        names = " and ".join(f"{module}.{name}" for name in replaced)
        message = (f"nnfast: {names} replaced: feedforward and backprop run the book's formulas in numpy through "
                   f"your function{'s' if len(replaced) > 1 else ''} on whole mini-batches, instead of the compiled "
                   f"kernels, which compute only the sigmoid (exact, slower).")
        if replaced == ["sigmoid"]:
            message += (f" {module}.sigmoid_prime is still the book's, sigmoid(z) * (1 - sigmoid(z)) through your "
                        f"sigmoid, as in the book's code: for tanh that is tanh(z) * (1 - tanh(z)), not tanh's slope. "
                        f"Replace it too (for tanh: {module}.sigmoid_prime = lambda z: 1 - np.tanh(z) ** 2).")
        elif replaced == ["sigmoid_prime"]:
            message += f" {module}.sigmoid is still the book's sigmoid: replace it too if you meant another activation."
        return message
    say(("activation", module, *map(_ident, current)), text, where=namespace.get(replaced[0]))


def own_cost(cost, name):
    """A cost of the learner's own (``name`` its class's): backprop through its ``delta`` in numpy."""
    say(("cost", _ident(getattr(cost, "delta", None))), lambda: (
        f"nnfast: cost {name} is not one of the book's QuadraticCost and CrossEntropyCost, which the compiled "
        f"kernels compute: backprop runs the book's formulas in numpy, calling its delta on whole mini-batches "
        f"(each column a sample), and monitoring calls its fn one sample at a time, as the book does (exact, "
        f"slower)."), where=getattr(cost, "delta", None))


# What a learner's own method makes of training, for ``own_method`` (both faces say the same).
OWN_BACKPROP = (
    "each mini-batch's gradient sums its calls one sample at a time, as the book's update_mini_batch does (exact, "
    "slower than the compiled kernels). If it works on a whole mini-batch (x (n_in, m), y (n_out, m), each column "
    "a sample), also define mini_batch_gradient(self, mini_batch) as "
    "self.backprop(*matrix_path.columns(mini_batch)), as examples/tanh.py does.")
SAMPLE_LOOP = (
    "it calls backprop one sample at a time, as the book's does (exact; each call pays the compiled kernels' "
    "set-up). To stay fast, build it on self.mini_batch_gradient(mini_batch), the whole mini-batch's gradient in "
    "one call (README, 'Changing the book's code'; examples/momentum.py).")


def own_method(obj, name, what):
    """The learner's ``type(obj).name`` (or an instance attribute) makes a step slower: ``what`` says how."""
    cls = type(obj)
    function = getattr(obj, "__dict__", {}).get(name) or getattr(cls, name, None)
    say(("method", cls, name, _ident(function)), lambda: f"nnfast: {cls.__name__}.{name} is your own: {what}",
        where=function)


def _ident(obj):
    """``obj`` as a set member: itself when hashable, else its id."""
    try:
        hash(obj)
        return obj
    except TypeError:
        return id(obj)
