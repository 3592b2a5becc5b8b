"""Which of the book's methods and module functions a learner's code has replaced.

The faces ask before each fast call: the kernels stand in for the book's
``update_mini_batch``, ``backprop``, ``feedforward``, the sigmoid, ... and may
only do so while the user's class and module still hold the book's versions.
Answers are names, never I/O: the faces decide what to say.
"""


def replaced_methods(obj, base, names):
    """The ``names`` whose method on ``obj`` is not ``base``'s own: a subclass's override or an
    attribute set on the instance (``net.backprop = my_backprop``)."""
    cls = type(obj)
    instance = getattr(obj, "__dict__", {})
    return [name for name in names
            if name in instance or getattr(cls, name, None) is not getattr(base, name, None)]


def replaced_functions(namespace, originals):
    """The names of ``originals`` ({name: function}) that ``namespace`` (a module's globals) no longer holds."""
    return [name for name, function in originals.items() if namespace.get(name) is not function]
