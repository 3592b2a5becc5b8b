"""Whole runs as a library, above the faces: what ``nnfast train``, ``eval``, ``book`` and ``baseline`` do.

- ``train``: a chapter 1 or 3 training run (data, network, epochs, saving, resuming);
- ``train_conv``: a chapter 6 ``network3`` run from a ``--layers`` spec;
- ``inference``: whatever network a model file holds, loaded and run;
- ``book``: the book's published runs; ``baselines``: its darkness and SVM baselines.
"""
