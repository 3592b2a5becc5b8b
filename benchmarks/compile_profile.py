"""Where a first compile's time goes: process CPU seconds by kernel and by compiler phase.

    python -m benchmarks.compile_profile [float64|float32]

Runs chapter 1's first ``SGD`` + ``evaluate`` (784-30-10, the code of ``benchmarks.startup``) in a fresh
process with an empty ``NUMBA_CACHE_DIR`` and no compile helper, and prints

- by kernel: the CPU each compiled function spends on itself (numba's ``numba:compile`` events, nested
  compiles subtracted), ``impl`` being numba's own library overloads;
- by phase: numba's typing, lowering and other passes, and LLVM's parsing, function passes, module
  optimisation and machine code, cache look-ups and writes (the compiler's methods wrapped with CPU timers,
  each second counted once, in the innermost phase running).

CPU seconds, not wall: on a shared machine wall time also counts the other processes.
"""

import os
import subprocess
import sys
import tempfile

_PROFILE = r'''
import collections, contextlib, functools, io, sys, time
import numpy as np
from numba.core import caching, codegen, compiler_machinery, event, typed_passes
from nnfast import network

own = collections.defaultdict(float)  # phase -> CPU seconds, innermost phase only
stack = []


def timed(cls, name, label):
    original = getattr(cls, name)

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        now = time.process_time()
        if stack:
            stack[-1][1] += now - stack[-1][2]
        stack.append([label, 0.0, now])
        try:
            return original(*args, **kwargs)
        finally:
            now = time.process_time()
            label_, spent, since = stack.pop()
            own[label_] += spent + now - since
            if stack:
                stack[-1][2] = now
    setattr(cls, name, wrapper)


timed(compiler_machinery.PassManager, "run", "numba: other passes (inlining, rewrites, SSA)")
timed(typed_passes.BaseTypeInference, "run_pass", "numba: typing")
timed(typed_passes.NativeLowering, "run_pass", "numba: lowering to LLVM IR")
timed(codegen.CPUCodeLibrary, "add_ir_module", "LLVM: parsing IR")
timed(codegen.CPUCodeLibrary, "_optimize_functions", "LLVM: function passes")
timed(codegen.CPUCodeLibrary, "_optimize_final_module", "LLVM: module optimisation")
timed(codegen.JITCodeLibrary, "_finalize_specific", "LLVM: machine code")
timed(caching.Cache, "save_overload", "cache: writes")
timed(caching.Cache, "load_overload", "cache: look-ups")

kernels = collections.defaultdict(float)
opened = []


class Compiles(event.Listener):
    def on_start(self, ev):
        opened.append([ev.data["dispatcher"].py_func.__name__, time.process_time(), 0.0])

    def on_end(self, ev):
        name, since, nested = opened.pop()
        spent = time.process_time() - since
        kernels[name] += spent - nested
        if opened:
            opened[-1][2] += spent


event.register("numba:compile", Compiles())
rng = np.random.default_rng(0)
data = [(rng.random((784, 1)).astype(np.float32), np.eye(10)[:, [i % 10]]) for i in range(40)]
test = [(x, i % 10) for i, (x, _) in enumerate(data)]
net = network.Network([784, 30, 10], dtype=np.DTYPE)
cpu = time.process_time()
with contextlib.redirect_stdout(io.StringIO()):
    net.SGD(data, 1, 10, 3.0, test_data=test)
cpu = time.process_time() - cpu
print(f"first SGD + evaluate, DTYPE: {cpu:.2f} s CPU (numba imported before)")
print("by kernel (CPU on itself):")
for name, s in sorted(kernels.items(), key=lambda kv: -kv[1]):
    print(f"  {name:24s} {s:6.2f}")
print("by phase:")
for name, s in sorted(own.items(), key=lambda kv: -kv[1]):
    print(f"  {name:48s} {s:6.2f}")
print(f"  {'outside the compiler':48s} {cpu - sum(own.values()):6.2f}")
'''


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    dtype = argv[0] if argv else "float64"
    if dtype not in ("float64", "float32"):
        raise SystemExit(f"dtype must be float64 or float32, got {dtype!r}")
    with tempfile.TemporaryDirectory(prefix="nnfast-numba-") as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache, "NNFAST_COMPILE_HELPER": "0"}
        subprocess.run([sys.executable, "-c", _PROFILE.replace("DTYPE", dtype)], env=env, check=True)


if __name__ == "__main__":
    main()
