"""Every numba function of the engine, one file per job; nothing compiles at import.

- ``batches``: ``run_batches``, the one entry point of the dense nets (training epochs, evaluation);
- ``forward``: blocked dense layers with the sigmoid, skipping blank input columns;
- ``gradient``: output and hidden deltas, each layer's gradient fused with decay and update;
- ``activation``: the sigmoid on matrices, with an exp that vectorises;
- ``costs``: the cost codes and ``cost_sum``; ``shuffle``: the book's ``random.shuffle`` replayed;
- ``conv``: chapter 6's im2col, col2im and pooling;
- ``jit``: the compiler flags and the cache (invalidated when any file here changes);
- ``by_address``: one kernel calling another by its address, so that the callee is not compiled again in it;
- ``background``: a first compile on two cores (a helper process compiles half of ``run_batches``'s callees);
- ``parallel_kernels``: chapter 6's ``parallel=True`` kernels and their signatures, one list;
  ``parallel_helper``: the process that compiles them into the cache while a first run trains on one thread.

Kernels write into arrays the caller preallocates; the engine's Python checks shapes first.
"""
