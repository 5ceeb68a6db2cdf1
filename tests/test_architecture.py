"""The package layering of docs/architecture.md, enforced: a lower layer never imports a higher one.

Every ``import modist.X`` / ``from modist.X import`` in every module counts, including
imports inside functions (they would hide a cycle, not remove it).
"""

import ast
from pathlib import Path

import pytest

import modist

SRC = Path(modist.__file__).parent

# Lowest first. A package may import its own modules and any package of a lower layer;
# packages within one layer are independent of each other.
LAYERS: list[set[str]] = [
    {"errors", "atomic", "choices"},
    {"runtime", "schedules", "configs"},
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
