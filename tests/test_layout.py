"""The package reads top-down: imports go one way (README, Layout) and no two modules import each other."""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"ase_deeph2": ROOT / "ase_deeph2", "ase_deeph2.training": ROOT / "training"}

BOTTOM = {"basis", "bloch_layout", "blocks", "files", "io", "rotations", "pao", "overlap", "graph"}
ROOT_PACKAGE = "root"  # ase_deeph2/__init__.py: version constants, calculators imported lazily
#: component -> the components it may import (besides itself)
ALLOWED = {
    **{name: BOTTOM | {ROOT_PACKAGE} for name in BOTTOM},
    "parallel": BOTTOM | {ROOT_PACKAGE},
    "model": BOTTOM | {"parallel", ROOT_PACKAGE},
    "electronic": BOTTOM | {ROOT_PACKAGE},
    "training": None,  # beside the top: anything in ase_deeph2
}
TOP = {"calculator", "hamiltonian_calculator", "trajectory", "plotting", "pretrained", "ase_plugin",
       "commands", "cli"}


@lru_cache(maxsize=1)
def modules() -> dict[str, Path]:
    out = {}
    for package, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join([package, *parts])] = path
    return out


def imported(name: str, path: Path, top_level_only: bool) -> set[str]:
    """ase_deeph2 modules imported by module ``name`` (at module level only, or anywhere)."""
    tree = ast.parse(path.read_text(), str(path))
    is_package = path.name == "__init__.py"
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("ase_deeph2")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[:len(base) - node.level + (1 if is_package else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("ase_deeph2"):
                children = {f"{target}.{a.name}" for a in node.names}
                found |= children if children <= set(modules()) else {target} | (children & set(modules()))
    return found


def component(module: str) -> str:
    if module.startswith("ase_deeph2.training"):
        return "training"
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ROOT_PACKAGE


def test_imports_go_one_way():
    known = modules()
    wrong = []
    for name, path in known.items():
        mine = component(name)
        allowed = ALLOWED.get(mine, "top")
        for target in imported(name, path, top_level_only=False):
            if target not in known:
                continue  # a name imported from a module, not a module
            theirs = component(target)
            if theirs == mine or allowed is None:
                continue
            if allowed == "top":
                if theirs == "training" and name not in ("ase_deeph2.cli",):
                    wrong.append(f"{name} imports {target}")
                continue
            if theirs not in allowed:
                wrong.append(f"{name} ({mine}) imports {target} ({theirs})")
    assert not wrong, "\n".join(wrong)


def test_the_package_root_imports_nothing_of_its_own_at_import():
    assert not imported("ase_deeph2", PACKAGES["ase_deeph2"] / "__init__.py", top_level_only=True)


def test_no_import_cycles_between_modules():
    known = modules()
    graph = {name: {t for t in imported(name, path, top_level_only=True) if t in known and t != name}
             for name, path in known.items()}
    # a package's __init__ re-exports its modules: edges into a package's own children are not cycles
    for name in graph:
        graph[name] = {t for t in graph[name] if not t.startswith(name + ".")}
    state, cycle = {}, []

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycle.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycle, "\n".join(cycle)


@pytest.mark.parametrize("component_name", sorted(BOTTOM))
def test_the_bottom_needs_no_torch(component_name):
    """Readers, blocks, the overlap and rotations are numpy/scipy only (torch stays above them)."""
    known = modules()
    for name, path in known.items():
        if component(name) == component_name:
            tree = ast.parse(path.read_text(), str(path))
            names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
            names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
            assert not {m for m in names if m.split(".")[0] in ("torch", "e3nn")}, name
