"""The package layering of docs/architecture.md, enforced: a lower layer never imports a higher one,
and no two modules import each other, directly or round a longer circle.

Every ``import modist.X`` / ``from modist.X import`` in every module counts, including
imports inside functions and ``TYPE_CHECKING`` blocks (they would hide a cycle, not remove it).
"""

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

import modist

SRC = Path(modist.__file__).parent

# Lowest first. A package may import its own modules and any package of a lower layer;
# packages within one layer are independent of each other.
LAYERS: list[set[str]] = [
    {"errors", "atomic", "choices"},
    {"runtime", "schedules", "configs", "serialization"},
    {"config", "distributed"},
    {"viz"},
    {"data"},
    {"flow", "synth"},
    {"models", "losses"},
    {"methods"},
    {"training"},
    {"evaluation"},
    {"demo", "bench"},
    {"cli"},
    {"__main__"},  # python -m modist: runs the cli
]
LAYER_OF = {pkg: i for i, layer in enumerate(LAYERS) for pkg in layer}


def _package(module_path: Path) -> str:
    rel = module_path.relative_to(SRC)
    return rel.parts[0].removesuffix(".py")


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names if node.module == "modist"]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "modist" and len(parts) > 1:
                found.append((node.lineno, parts[1]))
    return found


MODULES = sorted(p for p in SRC.rglob("*.py") if p.name != "__init__.py" or p.parent != SRC)


def test_every_package_has_a_layer():
    packages = {_package(p) for p in MODULES}
    assert packages <= set(LAYER_OF), f"add to LAYERS: {sorted(packages - set(LAYER_OF))}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_no_module_imports_a_higher_or_sibling_layer(path):
    own = _package(path)
    bad = [f"line {line}: modist.{target} (layer {LAYER_OF.get(target)}) from {own} (layer {LAYER_OF[own]})"
           for line, target in _imports(path)
           if target != own and target in LAYER_OF and LAYER_OF[target] >= LAYER_OF[own]]
    assert not bad, "; ".join(bad)


def test_the_checker_sees_function_local_imports(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from modist.training.trainer import pretrain\n")
    assert _imports(module) == [(2, "training")]


# Module-level import cycles. Layering orders packages; within a package (and through a package's
# ``__init__`` re-exporting its submodules) two modules may still need each other, which makes the
# import order decide what works. The graph is module -> modules it names, without the parent
# packages Python also runs: those always finish first, so they close no circle by themselves.


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(root: Path) -> dict[str, dict[str, int]]:
    """Module -> {module of the same tree it imports: first line}, for every ``*.py`` under ``root``.

    ``root`` is the folder holding the top package (``src`` for ``src/modist``). ``from p.m import y``
    is an edge to ``p.m.y`` when that is a module, else to ``p.m``; relative imports resolve the
    same way; names that are no module of the tree resolve to their longest module prefix.
    """
    files = {_module_name(path, root): path for path in sorted(root.rglob("*.py"))}

    def known(name: str) -> str | None:
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, dict[str, int]] = {}
    for module, path in files.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        edges = graph.setdefault(module, {})
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [known(alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # from . import x: level 1 is this module's own package
                    parts = package.split(".")
                    base = ".".join([*parts[: len(parts) - node.level + 1], *filter(None, [node.module])])
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in files else known(base)
                           for alias in node.names]
            else:
                continue
            for target in targets:
                if target is not None and target != module:
                    edges.setdefault(target, node.lineno)
    return graph


def strongly_connected(graph: Mapping[str, Mapping[str, object]]) -> list[list[str]]:
    """Sets of nodes that all reach each other (Tarjan's algorithm, iterative), sorted; size > 1 only."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    work: list[tuple[str, Iterator[str]]] = []  # the DFS path: node, its children not yet visited

    def enter(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        work.append((node, iter(sorted(graph.get(node, ())))))

    for start in sorted(graph):
        if start in index:
            continue
        enter(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    enter(child)
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return sorted(found)


def _describe(component: list[str], graph: Mapping[str, Mapping[str, int]]) -> str:
    inside = set(component)
    edges = [f"{a} -> {b} (line {line})" for a in component for b, line in sorted(graph[a].items()) if b in inside]
    return f"{{{', '.join(component)}}}: {'; '.join(edges)}"


def test_no_import_cycles_between_modules():
    graph = import_graph(SRC.parent)
    cycles = strongly_connected(graph)
    assert not cycles, "modules that import each other (break each circle):\n" + "\n".join(
        _describe(c, graph) for c in cycles)


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_the_cycle_check_finds_a_two_module_circle_and_passes_a_dag(tmp_path):
    circle = _tree(tmp_path / "circle", {
        "pkg/__init__.py": "",
        "pkg/a.py": "from pkg import b\n",
        "pkg/b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import thing\n",
        "pkg/c.py": "import pkg.a\n",
    })
    graph = import_graph(circle)
    assert graph["pkg.a"] == {"pkg.b": 1} and graph["pkg.b"] == {"pkg.a": 3} and graph["pkg.c"] == {"pkg.a": 1}
    assert strongly_connected(graph) == [["pkg.a", "pkg.b"]]
    assert _describe(["pkg.a", "pkg.b"], graph) == "{pkg.a, pkg.b}: pkg.a -> pkg.b (line 1); pkg.b -> pkg.a (line 3)"

    dag = _tree(tmp_path / "dag", {
        "pkg/__init__.py": "from pkg.a import thing\n",
        "pkg/a.py": "def f():\n    from pkg.sub.b import other\n",
        "pkg/sub/__init__.py": "",
        "pkg/sub/b.py": "import os\nfrom .. import c\n",
        "pkg/c.py": "",
    })
    graph = import_graph(dag)
    assert graph["pkg"] == {"pkg.a": 1} and graph["pkg.a"] == {"pkg.sub.b": 2} and graph["pkg.sub.b"] == {"pkg.c": 2}
    assert strongly_connected(graph) == []


def test_a_package_and_a_module_importing_a_name_it_re_exports_are_a_cycle(tmp_path):
    root = _tree(tmp_path, {
        "pkg/__init__.py": "from .a import f\nfrom .b import g\n",
        "pkg/a.py": "def f():\n    pass\n",
        "pkg/b.py": "from pkg import f\n",  # f is a name of pkg, not a module: the edge goes to pkg
    })
    assert strongly_connected(import_graph(root)) == [["pkg", "pkg.b"]]
