"""The per-sample yardsticks: the book's own algorithms, one column at a time, for tests and benchmarks.

``twins.network`` is chapter 1's ``network.py``, ``twins.network2`` chapter 3's,
``twins.network3`` chapter 6's layers in plain numpy; ``twins.book_files`` writes the book's data files as
its Python 2 code did and keeps nnfast's earlier whole-file reader of them as a yardstick. The fast faces are tested
against them; nothing in the product imports them but ``nnfast book``'s run of
the book's own loop.
"""
