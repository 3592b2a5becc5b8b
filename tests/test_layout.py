"""The package layout keeps itself: no import circles, imports flow one way between the wings.

Every ``import`` of every module of ``nnfast`` is read with ``ast`` (imports inside
functions included: a deferred import is still a dependency), resolved to the
module it names, and checked:

- no circle among modules, a package counting as its ``__init__``;
- the engine imports nothing of nnfast outside itself and no click, nor any I/O wing;
- no CLI command module imports another command module;
- ``models`` (file formats) imports no face.
"""

import ast
import os

import pytest

import nnfast

PACKAGE_DIR = os.path.dirname(os.path.abspath(nnfast.__file__))


def _module_name(path):
    rel = os.path.relpath(path, os.path.dirname(PACKAGE_DIR))[:-3].replace(os.sep, ".")
    return rel[: -len(".__init__")] if rel.endswith(".__init__") else rel


def _modules():
    found = {}
    for folder, dirs, files in os.walk(PACKAGE_DIR):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                found[_module_name(path)] = path
    return found


MODULES = _modules()


def _resolve(importer, node):
    """The nnfast modules (and external top-level names) an import node brings in."""
    is_package = MODULES[importer].endswith("__init__.py")
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level == 0:
        base = node.module or ""
    else:
        parts = importer.split(".")
        parts = parts if is_package else parts[:-1]
        parts = parts[: len(parts) - (node.level - 1)]
        base = ".".join(parts + ([node.module] if node.module else []))
    names = [base]
    for alias in node.names:  # 'from pkg import mod' imports the module pkg.mod
        candidate = f"{base}.{alias.name}"
        if candidate in MODULES:
            names.append(candidate)
    return names


def import_graph():
    """{module: {imported nnfast module or external top-level package}}, packages' parents included."""
    graph = {}
    for name, path in MODULES.items():
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
        targets = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for target in _resolve(name, node):
                    if target.startswith("nnfast"):
                        while target not in MODULES:  # an attribute of a module: 'from .x import y'
                            target = target.rsplit(".", 1)[0]
                        # importing a.b.c runs a/__init__ and a/b/__init__ first, but the packages that
                        # hold the importer itself are loaded before it, and so are no dependency of it
                        parts = target.split(".")
                        own = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
                        targets.update({".".join(parts[:i]) for i in range(1, len(parts) + 1)} - own)
                    else:
                        targets.add(target.split(".")[0])
        targets.discard(name)
        graph[name] = targets
    return graph


GRAPH = import_graph()


def _cycle(graph):
    """One import circle as a list of modules, or None."""
    state = {}

    def visit(node, stack):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt, stack)
                if found:
                    return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node, [])
            if found:
                return found
    return None


def test_the_walker_sees_what_the_code_imports():
    # deferred (function-level) and relative imports are both seen
    assert "nnfast.engine.kernels.batches" in GRAPH["nnfast.engine.dense_kernels"]
    assert "nnfast.engine.dense" in GRAPH["nnfast.network"]
    assert "nnfast.network3" in GRAPH["nnfast.runs.inference"]
    assert "numba" in GRAPH["nnfast.engine.kernels.jit"]
    assert "click" in GRAPH["nnfast.cli.common"]


def test_the_cycle_finder_finds_a_circle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_circles():
    assert _cycle(GRAPH) is None, "import circle: " + " -> ".join(_cycle(GRAPH))


ENGINE = "nnfast.engine"
FACES = {"nnfast.network", "nnfast.network2", "nnfast.network3", "nnfast.mnist_loader"}


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith(ENGINE)))
def test_the_engine_imports_only_itself_numpy_and_numba(module):
    inside = {t for t in GRAPH[module] if t.startswith("nnfast")}
    outside = {t for t in inside if not t.startswith(ENGINE)}
    assert not outside, f"{module} imports {sorted(outside)}: the engine must not know faces, files or the CLI"
    assert "click" not in GRAPH[module]


def test_no_command_module_imports_another():
    commands = {m for m in MODULES if m.startswith("nnfast.cli.") and m not in ("nnfast.cli.main", "nnfast.cli.common")}
    assert commands, "the CLI wing has command modules"
    for module in commands:
        assert not GRAPH[module] & commands, f"{module} imports {sorted(GRAPH[module] & commands)}"


def test_model_files_know_no_face():
    assert not GRAPH["nnfast.models"] & (FACES | {"nnfast.runs", "nnfast.cli"}), GRAPH["nnfast.models"]


def test_faces_import_no_numba_and_no_cli():
    for face in FACES:
        assert not {"numba", "click", "nnfast.cli"} & GRAPH[face], face


def test_the_top_of_the_package_stays_small():
    entries = [e for e in os.listdir(PACKAGE_DIR) if e != "__pycache__"]
    assert len(entries) <= 20, sorted(entries)
