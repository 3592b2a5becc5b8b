"""The engine under the book's faces: flat-buffer networks and every numba kernel.

No I/O, no printing, no click, no face: the faces (``nnfast.network``,
``network2``, ``network3``) validate and convert, then call in here. Importing
this package imports no numba; kernels compile on first use and are cached.

- ``dense``: the flat-buffer network behind chapters 1 and 3 (epochs, evaluation);
- ``convert``: the book's lists of columns to matrices and back;
- ``input_layout``: where each training row is nonzero (zero skipping);
- ``rng``: the book's ``random.shuffle`` replayed;
- ``kernels``, ``conv_kernels``: the numba functions (``jit``: their flags and cache).
"""
