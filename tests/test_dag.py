"""The phase graph: layers, topological order, dependents, validation."""

from __future__ import annotations

import pytest

from kfboot.engine.dag import dependents, layers, topological, validate_graph
from kfboot.errors import ConfigError

# the default platform's graph (kfboot/data/catalog.yaml)
PLATFORM = {
    "gpu-operator": (), "cert-manager": (), "istio": ("cert-manager",), "dex": ("istio",),
    "kubeflow": ("dex",), "kuberay": (), "kserve": ("istio", "cert-manager"),
}


def test_layers_of_the_platform_graph() -> None:
    assert layers(PLATFORM) == [
        ["cert-manager", "gpu-operator", "kuberay"],
        ["istio"],
        ["dex", "kserve"],
        ["kubeflow"],
    ]


def test_topological_respects_every_need() -> None:
    order = topological(PLATFORM)
    assert sorted(order) == sorted(PLATFORM)
    for name, needs in PLATFORM.items():
        for dep in needs:
            assert order.index(dep) < order.index(name)


def test_diamond_and_empty() -> None:
    assert layers({"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"]}) == [["a"], ["b", "c"], ["d"]]
    assert layers({}) == []


@pytest.mark.parametrize(("root", "expected"), [
    ("cert-manager", {"istio", "dex", "kubeflow", "kserve"}),
    ("istio", {"dex", "kubeflow", "kserve"}),
    ("dex", {"kubeflow"}),
    ("kubeflow", set()),
    ("gpu-operator", set()),
])
def test_dependents_are_transitive(root: str, expected: set[str]) -> None:
    assert dependents(PLATFORM, root) == expected


def test_validate_accepts_the_platform() -> None:
    validate_graph(PLATFORM)


def test_unknown_needs_are_all_reported() -> None:
    with pytest.raises(ConfigError) as info:
        validate_graph({"a": ["x"], "b": ["a", "y"]})
    assert info.value.problems == ["phase a needs unknown phase x", "phase b needs unknown phase y"]


@pytest.mark.parametrize("graph", [
    {"a": ["a"]},
    {"a": ["b"], "b": ["a"]},
    {"a": ["c"], "b": ["a"], "c": ["b"], "d": []},
])
def test_cycles_are_config_errors(graph: dict[str, list[str]]) -> None:
    with pytest.raises(ConfigError) as info:
        validate_graph(graph)
    assert "cycle" in info.value.message
    assert info.value.message.split(": ", 1)[1].split(" → ")[0] != "d"  # acyclic phases are not blamed
    assert "d" not in info.value.message.split(": ", 1)[1].split(" → ")


def test_cycle_message_names_the_cycle_in_need_order_not_its_dependents() -> None:
    with pytest.raises(ConfigError) as info:
        layers({"a": ["b"], "b": ["c"], "c": ["a"], "x": ["a"], "y": []})
    assert info.value.problems == ["phases depend on each other in a cycle: a → b → c → a"]


def test_layers_alone_reports_an_unknown_need_not_a_cycle() -> None:
    with pytest.raises(ConfigError) as info:
        layers({"b": [], "a": ["b", "ghost"]})
    assert info.value.problems == ["phase a needs unknown phase ghost"]
