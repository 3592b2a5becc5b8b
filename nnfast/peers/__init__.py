"""The engines a user might pick instead, for tests and benchmarks: a numpy matrix-batch port, PyTorch, JAX.

``peers.engines`` is the one table of implementations (nnfast's faces, the
twins and these peers) that feeds both the tests and ``make bench``.
"""
