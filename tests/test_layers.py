"""The house rule: imports flow one way (cli → session → command cores → phases → base → errors), no circles.

Every import of every kfboot module counts, including imports inside functions and under
TYPE_CHECKING: a lazy import is still a dependency. There are no exemptions; a new edge means
changing the table below on purpose.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "kfboot"

# Layers, top to bottom. A unit may import its own modules and any unit of a LOWER layer; within a
# layer only the edges listed in SIDEWAYS. A unit is a package or a single module.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("entry point", ("kfboot.__main__",)),
    ("cli", ("kfboot.cli",)),  # typer commands and terminal rendering; nothing imports cli
    ("session", ("kfboot.session",)),  # options + config + sources → platform, kube client, phases, runner
    # command cores: orchestration over the layers below (packages other branches add: placed here already)
    ("command cores", ("kfboot.doctor", "kfboot.verify", "kfboot.kind")),
    ("phases", ("kfboot.phases",)),
    ("base", ("kfboot.engine", "kfboot.k8s", "kfboot.helm", "kfboot.sources", "kfboot.gpu", "kfboot.config",
              "kfboot.tools", "kfboot.junit", "kfboot.yaml_positions")),
    # `kfboot` itself: the package root, only __version__; kfboot.data: scripts shipped into pods (they
    # run there, never in kfboot, so they may import nothing of kfboot)
    ("foundation", ("kfboot.errors", "kfboot", "kfboot.data")),
]

SIDEWAYS: dict[str, set[str]] = {
    "kfboot.engine": set(),  # the phase engine knows no component and no Kubernetes type
    "kfboot.k8s": set(),
    "kfboot.tools": set(),
    "kfboot.junit": set(),
    "kfboot.yaml_positions": set(),
    "kfboot.helm": {"kfboot.k8s", "kfboot.tools"},
    "kfboot.gpu": {"kfboot.yaml_positions"},  # pure: profiles, MIG, time-slicing, parsers, verdicts
    "kfboot.config": {"kfboot.gpu", "kfboot.yaml_positions"},  # the Platform holds a `gpu:` section
    "kfboot.sources": {"kfboot.config", "kfboot.k8s", "kfboot.helm", "kfboot.tools", "kfboot.yaml_positions"},
}


def unit_of(module: str) -> str:
    """The most specific unit of the table that holds `module`."""
    best = ""
    for _, units in LAYERS:
        for unit in units:
            inside = module == unit or (unit != "kfboot" and module.startswith(unit + "."))
            if inside and len(unit) > len(best):
                best = unit
    assert best, f"{module} is in no layer: add it to LAYERS in {Path(__file__).name}"
    return best


def layer_of(unit: str) -> int:
    return next(i for i, (_, units) in enumerate(LAYERS) if unit in units)


def allowed(importer: str, imported: str) -> bool:
    a, b = unit_of(importer), unit_of(imported)
    if a == b:
        return True
    if layer_of(b) > layer_of(a):
        return True
    return layer_of(a) == layer_of(b) and b in SIDEWAYS.get(a, set())


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """kfboot modules `path` imports anywhere in its body (top level, functions, TYPE_CHECKING)."""

    def resolve(target: str) -> str:
        while target not in known and "." in target:
            target = target.rpartition(".")[0]
        return target

    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(resolve(alias.name) for alias in node.names if alias.name.split(".")[0] == "kfboot")
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            if base.split(".")[0] != "kfboot":
                continue
            for alias in node.names:  # `from kfboot.cli import render` imports the module kfboot.cli.render
                full = f"{base}.{alias.name}"
                found.add(full if full in known else resolve(base))
    found.discard(name)
    return found


def import_graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports_of(name, path, known) for name, path in known.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_every_import_follows_the_layers() -> None:
    graph = import_graph()
    assert "kfboot.session" in graph and "kfboot.cli.app" in graph  # the walk sees the package
    wrong = sorted(f"{a} → {b}" for a, targets in graph.items() for b in targets if not allowed(a, b))
    assert wrong == [], "imports against the layering:\n" + "\n".join(wrong)


def test_no_import_circles() -> None:
    assert cycles(import_graph()) == []


def test_nothing_imports_the_cli_but_the_entry_point() -> None:
    graph = import_graph()
    outside = sorted(f"{a} → {b}" for a, targets in graph.items() if unit_of(a) not in ("kfboot.cli", "kfboot.__main__")
                     for b in targets if unit_of(b) == "kfboot.cli")
    assert outside == []


# -- the checker itself: it must catch what it is meant to catch ----------------------------------------
@pytest.mark.parametrize(("importer", "imported", "ok"), [
    ("kfboot.cli.platform", "kfboot.session", True),
    ("kfboot.session", "kfboot.cli.context", False),  # upwards
    ("kfboot.verify.gpu", "kfboot.phases.build", True),  # a command core over phases
    ("kfboot.doctor.rules", "kfboot.session", False),  # command cores never import the session
    ("kfboot.kind.cluster", "kfboot.doctor.rules", False),  # nor each other
    ("kfboot.sources.build", "kfboot.phases.build", False),  # the edge this house removed
    ("kfboot.config.platform", "kfboot.phases.credentials", False),
    ("kfboot.engine.state", "kfboot.k8s.refs", False),  # engine imports nothing of kfboot but errors
    ("kfboot.engine.runner", "kfboot.errors", True),
    ("kfboot.gpu.profiles", "kfboot.config.platform", False),
    ("kfboot.gpu.profiles", "kfboot.yaml_positions", True),
    ("kfboot.k8s.client", "kfboot.engine.state", False),
    ("kfboot.phases.helm_phase", "kfboot.helm", True),
])
def test_the_rule_table(importer: str, imported: str, ok: bool) -> None:
    assert allowed(importer, imported) is ok


def test_the_walk_sees_imports_inside_functions_and_type_checking(tmp_path: Path) -> None:
    source = tmp_path / "kfboot" / "k8s" / "sample.py"
    source.parent.mkdir(parents=True)
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from kfboot.engine.state import PhaseRecord\n"
        "def later():\n    from ..phases import build\n    import kfboot.cli.app\n",
        encoding="utf-8",
    )
    known = {"kfboot.k8s.sample": source, "kfboot.engine.state": source, "kfboot.phases.build": source,
             "kfboot.phases": source, "kfboot.cli.app": source}
    assert imports_of("kfboot.k8s.sample", source, known) == {"kfboot.engine.state", "kfboot.phases.build",
                                                              "kfboot.cli.app"}


def test_a_module_outside_the_table_is_refused() -> None:
    with pytest.raises(AssertionError, match="in no layer"):
        unit_of("kfboot.newthing")


def test_circles_are_found() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
