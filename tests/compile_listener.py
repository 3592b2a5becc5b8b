"""Where the suite's time goes: numba compiles and CPU per test, recorded when ``NNFAST_TEST_COMPILES`` names a
folder (off otherwise; conftest registers the plugin only then).

    NNFAST_TEST_COMPILES=/tmp/prof NUMBA_CACHE_DIR=$(mktemp -d) .venv/bin/python -m pytest -q
    .venv/bin/python -m tests.compile_listener /tmp/prof      # the tables

Each ``numba:compile`` event (numba fires it only for a real compile, never for a cache load) becomes one line of
``compiles-<pid>.jsonl``: the kernel (module.qualname), its argument types, the CPU it spent on itself (nested
compiles subtracted, as ``benchmarks/compile_profile.py`` counts) and the test running. Python processes the tests
start (the CLI, compile helpers, cold-cache scripts) record theirs too: the plugin puts ``compile_listener_site`` on
their ``PYTHONPATH``, whose ``sitecustomize`` registers the same listener once the process imports numba (never
before: a process that never imports numba stays free of it) and names the test from ``NNFAST_TEST_NODEID``.
``tests-<pid>.jsonl`` holds each test's CPU: this process's and its waited-for children's (``RUSAGE_CHILDREN``).
CPU seconds, not wall: the machine is shared.
"""

import collections
import json
import os
import re
import resource
import sys
import time

SITE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "compile_listener_site")


def _signature(args):
    """``(f8[1d], i8, ...)``: numba's argument types, arrays shortened (``array(float64, 1d, C)`` -> ``f8[1d]``)."""
    short = {"float64": "f8", "float32": "f4", "int64": "i8", "int32": "i4", "uint8": "u1", "bool": "b1"}

    def one(a):
        text = str(a)
        match = re.fullmatch(r"(?:readonly )?array\((\w+), (\d)d, (\w)\)", text)
        if match:
            dtype, dims, layout = match.groups()
            return f"{short.get(dtype, dtype)}[{dims}d{'' if layout == 'C' else ',' + layout}]"
        return short.get(text, text)
    return "(" + ", ".join(one(a) for a in args) + ")"


def make_listener(folder, test_name, main):
    """A numba ``event.Listener`` that appends each compile to ``folder/compiles-<pid>.jsonl``; ``test_name()``
    says which test is running, ``main`` whether this is pytest's own process."""
    from numba.core import event

    path = os.path.join(folder, f"compiles-{os.getpid()}.jsonl")
    opened = []  # [name, signature, cpu at start, nested cpu]

    class Compiles(event.Listener):
        def on_start(self, ev):
            py_func = ev.data["dispatcher"].py_func
            name = f"{py_func.__module__}.{py_func.__qualname__}"
            opened.append([name, _signature(ev.data["args"]), time.process_time(), 0.0])

        def on_end(self, ev):
            name, signature, since, nested = opened.pop()
            spent = time.process_time() - since
            if opened:
                opened[-1][3] += spent
            record = {"kernel": name, "signature": signature, "own_cpu": round(spent - nested, 4),
                      "total_cpu": round(spent, 4), "nested": bool(opened), "test": test_name(),
                      "pid": os.getpid(), "main": main}
            with open(path, "a") as out:
                out.write(json.dumps(record) + "\n")

    return Compiles()


# chapter 6's big kernels that only Python calls (a kernel that compiled code calls too, as ``conv_stack.forward_part``,
# must stay the dispatcher): with ``NNFAST_TEST_CALLS=1`` each is wrapped to note which tests call it, and with what
WATCHED = [("nnfast.engine.kernels.step_region", "step_region"), ("nnfast.engine.kernels.net_step", "steps_one"),
           ("nnfast.engine.kernels.conv_stack", "forward"), ("nnfast.engine.kernels.conv_stack", "backward")]


class _Watch:
    """A kernel that notes (kernel, dtype, conv layers) at each call, and answers for the dispatcher otherwise."""

    def __init__(self, kernel, name, note):
        self.kernel, self.name, self.note = kernel, name, note

    def __call__(self, *args):
        layers = next((len(a) for a in args if isinstance(a, tuple)), 0)
        dtype = next((a.dtype.name for a in args if getattr(a, "dtype", None) is not None and a.dtype.kind == "f"),
                     "?")
        self.note((self.name, dtype, layers))
        return self.kernel(*args)

    def __getattr__(self, name):
        return getattr(self.kernel, name)


class Plugin:
    """pytest hooks: the listener in this process, the site folder for child processes, CPU per test."""

    def __init__(self, folder):
        self.folder = folder
        os.makedirs(folder, exist_ok=True)
        self.test = "(collection)"
        self.tests_path = os.path.join(folder, f"tests-{os.getpid()}.jsonl")
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in [SITE, os.environ.get("PYTHONPATH")] if p)
        os.environ["NNFAST_TEST_COMPILES"] = folder
        from numba.core import event
        event.register("numba:compile", make_listener(folder, lambda: self.test, main=True))
        self.called = collections.defaultdict(set)  # test -> {(kernel, dtype, layers)}
        if os.environ.get("NNFAST_TEST_CALLS"):
            import importlib
            for module, name in WATCHED:
                module = importlib.import_module(module)
                setattr(module, name, _Watch(getattr(module, name), name, lambda key: self.called[self.test].add(key)))

    def pytest_runtest_protocol(self, item, nextitem):
        self.test = item.nodeid
        os.environ["NNFAST_TEST_NODEID"] = item.nodeid
        own, children = time.process_time(), resource.getrusage(resource.RUSAGE_CHILDREN)
        self._start = (own, children.ru_utime + children.ru_stime, time.perf_counter())

    def pytest_runtest_logfinish(self, nodeid, location):
        own, children_cpu, wall = self._start
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        record = {"test": nodeid, "own_cpu": round(time.process_time() - own, 4),
                  "children_cpu": round(children.ru_utime + children.ru_stime - children_cpu, 4),
                  "wall": round(time.perf_counter() - wall, 4),
                  "called": sorted(self.called.pop(nodeid, ()))}
        with open(self.tests_path, "a") as out:
            out.write(json.dumps(record) + "\n")
        self.test = "(between tests)"


def _read(folder, prefix):
    for name in sorted(os.listdir(folder)):
        if name.startswith(prefix) and name.endswith(".jsonl"):
            with open(os.path.join(folder, name)) as lines:
                for line in lines:
                    if line.strip():
                        yield json.loads(line)


def report(folder, top=40, out=sys.stdout):
    """The tables: compile CPU by (kernel, signature) with the tests that triggered it; tests by CPU."""
    compiles = list(_read(folder, "compiles-"))
    tests = list(_read(folder, "tests-"))
    by_sig = collections.defaultdict(lambda: [0.0, 0, set(), 0])  # cpu, count, tests, in children
    by_kernel = collections.defaultdict(lambda: [0.0, set()])
    by_test = collections.defaultdict(float)
    for c in compiles:
        entry = by_sig[(c["kernel"], c["signature"])]
        entry[0] += c["own_cpu"]
        entry[1] += 1
        entry[2].add(c["test"])
        entry[3] += not c["main"]
        by_kernel[c["kernel"]][0] += c["own_cpu"]
        by_kernel[c["kernel"]][1].add(c["signature"])
        by_test[c["test"]] += c["own_cpu"]
    total = sum(c["own_cpu"] for c in compiles)
    main = sum(c["own_cpu"] for c in compiles if c["main"])
    print(f"compile CPU: {total:.1f} s in {len(compiles)} compiles ({main:.1f} s in pytest's process, "
          f"{total - main:.1f} s in child processes)", file=out)
    test_cpu = sum(t["own_cpu"] + t["children_cpu"] for t in tests)
    print(f"tests: {len(tests)}, CPU {test_cpu:.1f} s (own {sum(t['own_cpu'] for t in tests):.1f}, children "
          f"{sum(t['children_cpu'] for t in tests):.1f}), wall {sum(t['wall'] for t in tests):.1f} s", file=out)
    print(f"\n(kernel, signature) by compile CPU, top {top}: cpu s, compiles (in children), tests", file=out)
    for (kernel, sig), (cpu, count, names, children) in sorted(by_sig.items(), key=lambda kv: -kv[1][0])[:top]:
        shown = sorted(names)
        more = f" +{len(shown) - 3} more" if len(shown) > 3 else ""
        print(f"{cpu:7.2f} {count:3d} ({children:2d})  {kernel} {sig}\n          {'; '.join(shown[:3])}{more}",
              file=out)
    print(f"\nkernels by compile CPU, top {top}: cpu s, signatures", file=out)
    for kernel, (cpu, sigs) in sorted(by_kernel.items(), key=lambda kv: -kv[1][0])[:top]:
        print(f"{cpu:7.2f} {len(sigs):3d}  {kernel}", file=out)
    print(f"\ntests by CPU (own + children), top {top}: cpu, of it compiling in any process, wall", file=out)
    for t in sorted(tests, key=lambda t: -(t["own_cpu"] + t["children_cpu"]))[:top]:
        print(f"{t['own_cpu'] + t['children_cpu']:7.2f} {by_test.get(t['test'], 0.0):7.2f} {t['wall']:7.2f}  "
              f"{t['test']}", file=out)
    users = collections.defaultdict(list)
    for t in tests:
        for key in t.get("called", ()):
            users[tuple(key)].append(t["test"])
    if users:
        print("\nwatched kernels (NNFAST_TEST_CALLS): (kernel, dtype, conv layers) -> the tests that call it", file=out)
        for key, names in sorted(users.items()):
            print(f"  {key}: {len(names)} tests\n          " + "\n          ".join(names), file=out)
    print("\nsignatures compiled for one or two tests only, by CPU (top):", file=out)
    few = [(k, v) for k, v in by_sig.items() if len(v[2]) <= 2]
    for (kernel, sig), (cpu, count, names, children) in sorted(few, key=lambda kv: -kv[1][0])[:top]:
        print(f"{cpu:7.2f}  {kernel} {sig}\n          {'; '.join(sorted(names))}", file=out)


if __name__ == "__main__":
    report(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 40)
