"""The phase graph: validation, topological layers and dependents (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from kfboot.errors import ConfigError


def validate_graph(needs: Mapping[str, Iterable[str]]) -> None:
    """Every need names a known phase and there is no cycle; errors say which."""
    problems = []
    for name, deps in needs.items():
        for dep in deps:
            if dep not in needs:
                problems.append(f"phase {name} needs unknown phase {dep}")
    if problems:
        raise ConfigError(problems)
    layers(needs)


def layers(needs: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Phases grouped so each layer only needs earlier layers (what can run concurrently)."""
    remaining = {name: set(deps) for name, deps in needs.items()}
    done: set[str] = set()
    out: list[list[str]] = []
    while remaining:
        layer = sorted(n for n, deps in remaining.items() if deps <= done)
        if not layer:
            raise ConfigError([_stuck(remaining, done)])
        out.append(layer)
        done.update(layer)
        for n in layer:
            del remaining[n]
    return out


def _stuck(remaining: dict[str, set[str]], done: set[str]) -> str:
    """Why no phase of `remaining` can run: the cycle itself (a → b → a), not what merely waits on it."""
    path: list[str] = []
    node = min(remaining)
    while node not in path:
        path.append(node)
        inside = sorted(d for d in remaining[node] if d in remaining)
        if not inside:
            unknown = sorted(remaining[node] - done)
            return f"phase {node} needs unknown phase {', '.join(unknown)}"
        node = inside[0]
    cycle = [*path[path.index(node):], node]
    return f"phases depend on each other in a cycle: {' → '.join(cycle)}"


def topological(needs: Mapping[str, Iterable[str]]) -> list[str]:
    return [name for layer in layers(needs) for name in layer]


def dependents(needs: Mapping[str, Iterable[str]], root: str) -> set[str]:
    """Every phase that (transitively) needs `root`."""
    out: set[str] = set()
    frontier = {root}
    while frontier:
        nxt = {n for n, deps in needs.items() if set(deps) & frontier and n not in out}
        out |= nxt
        frontier = nxt
    return out


def dependencies(needs: Mapping[str, Iterable[str]], root: str) -> set[str]:
    """Every phase `root` (transitively) needs: what uninstall must keep if `root` cannot be removed."""
    out: set[str] = set()
    frontier = set(needs.get(root, ()))
    while frontier:
        out |= frontier
        frontier = {d for n in frontier for d in needs.get(n, ())} - out
    return out
