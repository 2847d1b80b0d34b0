"""Property-based targets over everything a user hands kfboot: configs, profiles, geometries,
kubeconfigs and saved verification logs.

Each target is a hypothesis strategy plus a check of one example. The properties: kfboot answers
with its own error (KfbootError: an `error:` line, a documented exit code) or a result, never
another exception (a traceback); config errors are positioned, one line each; every example is
answered in bounded time. tests/test_fuzz.py runs each target a few hundred times in CI;
benchmarks/fuzz.py runs many more and prints the figures.
"""

from __future__ import annotations

import functools
import json
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from kfboot.errors import ConfigError, KfbootError

ROOT = Path(__file__).resolve().parents[1]
NCCL_LOGS = sorted((ROOT / "tests" / "gpu" / "fixtures" / "nccl").glob("*.log"))
PROFILE = ROOT / "kfboot" / "data" / "profiles" / "A100-80GB.yaml"
SECONDS_PER_EXAMPLE = 2.0  # far above the few milliseconds an answer takes; a hang or blow-up trips it
POSITIONED = re.compile(r"^[^\n]+?:\d+:\d+: [^\n]*$")


@dataclass(frozen=True)
class Target:
    name: str
    strategy: st.SearchStrategy[Any]
    check: Callable[[Any, Path], None]  # raises AssertionError (or anything but KfbootError) on a failure


# -- values a hand-edited YAML file can hold --------------------------------------------------------------
odd_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
numbers = st.one_of(st.integers(min_value=-(10**30), max_value=10**30),
                    st.floats(allow_nan=True, allow_infinity=True), st.booleans())
names = st.sampled_from(["kfboot", "Bad_NS!!", "a" * 300, "", "node-1", "ok.example.com", "x\ny", "\x1b[31m"])
scalars = st.one_of(st.none(), numbers, odd_text, names)
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(odd_text, inner, max_size=4)), max_leaves=12)
geometry_strings = st.text(alphabet="0123456789gbc.=,+me ", max_size=24) | st.sampled_from(
    ["disabled", "all-disabled", "1g.10gb=0", "1g.10gb=7", "3g.40gb=2", "7g.80gb", "1g.10gb+me=1",
     "1c.3g.40gb=2", "2g.20gb=99999999999999"])
gpu_selectors = st.text(alphabet="0123456789-, all", max_size=16) | st.sampled_from(
    ["all", "0-99999999999", "0-3,6", "7-0", "0,0", "63", "64"])
sharing = st.one_of(
    st.fixed_dictionaries({"mode": st.just("mig"), "mig": st.fixed_dictionaries(
        {"geometry": st.dictionaries(gpu_selectors, geometry_strings | st.dictionaries(
            geometry_strings, numbers, max_size=3), min_size=1, max_size=3)})}),
    st.fixed_dictionaries({"mode": st.just("mig"), "mig": st.fixed_dictionaries(
        {"config": st.sampled_from(["all-balanced", "all-disabled", "all-1g.10gb", "all-enabled", "nope"])})}),
    st.fixed_dictionaries({"mode": st.just("time-slicing"), "timeSlicing": st.fixed_dictionaries(
        {"replicas": numbers})}),
    values,
)
pools = st.fixed_dictionaries(
    {"name": names | st.just("pool-a"), "profile": st.sampled_from(["A100-80GB", "H100-80GB-SXM", "L4", "nope"])},
    optional={"gpusPerNode": numbers, "nodeCount": numbers, "nodes": st.lists(names, max_size=3),
              "nodeSelector": st.dictionaries(odd_text | names, scalars, max_size=2), "sharing": sharing})
configs = st.fixed_dictionaries({}, optional={
    "apiVersion": st.sampled_from(["kfboot.io/v1alpha1", "v2"]),
    "metadata": st.fixed_dictionaries({}, optional={"name": names | odd_text}),
    "install": st.fixed_dictionaries({}, optional={"parallel": numbers, "timeout": numbers}),
    "components": st.dictionaries(st.sampled_from(["kuberay", "dex", "gpu-operator", "kserve", "bogus"]),
                                  values, max_size=3),
    "gpu": st.fixed_dictionaries({}, optional={"pools": st.lists(pools, max_size=2)}),
    "extra": values,
})


def _yaml(data: Any) -> str:
    return json.dumps(data, default=str, allow_nan=True).replace("NaN", ".nan").replace("Infinity", ".inf")


# text-level damage to a valid document: truncation, a stray byte, an alias bomb, deep nesting
def _damaged(text: str) -> st.SearchStrategy[str]:
    return st.one_of(
        st.just(text),
        st.integers(0, max(0, len(text))).map(lambda n: text[:n]),
        st.tuples(st.integers(0, max(0, len(text))), odd_text).map(lambda t: text[:t[0]] + t[1] + text[t[0]:]),
        st.integers(1, 40).map(lambda n: "a: &a [1]\n" + "".join(
            f"a{i}: &a{i} [{', '.join(['*a' if i == 0 else f'*a{i - 1}'] * 9)}]\n" for i in range(n))),
        st.integers(1, 300).map(lambda n: "x: " + "[" * n + "]" * n + "\n"),
    )


config_texts = st.one_of(configs.map(_yaml), configs.map(_yaml).flatmap(_damaged),
                         st.binary(max_size=200).map(lambda b: b.decode("latin-1")))


def _bounded(fn: Callable[[], Any]) -> Any:
    started = time.monotonic()
    try:
        return fn()
    finally:
        assert time.monotonic() - started < SECONDS_PER_EXAMPLE, "took too long"


def _positioned(exc: ConfigError) -> None:
    for line in exc.problems:
        assert POSITIONED.match(line), f"not file:line:col, or not one line: {line!r}"
        assert line.isprintable(), f"unescaped control character in {line!r}"


def check_config(text: str, tmp: Path) -> None:
    from kfboot.config.platform import load_platform

    path = tmp / "kfboot.yaml"
    path.write_bytes(text.encode("utf-8", errors="surrogateescape"))
    try:
        _bounded(lambda: load_platform(path))
    except ConfigError as exc:
        _positioned(exc)


def check_profile(text: str, tmp: Path) -> None:
    from kfboot.gpu.profiles import load_profile_file, profile_problems

    path = tmp / "profile.yaml"
    path.write_bytes(text.encode("utf-8", errors="surrogateescape"))
    try:
        profile = _bounded(lambda: load_profile_file(path))
    except ConfigError as exc:
        _positioned(exc)
        return
    _bounded(lambda: profile_problems(profile))


def _profile_variants() -> st.SearchStrategy[str]:
    from ruamel.yaml import YAML

    base = YAML(typ="safe").load(PROFILE.read_text())

    def mutate(changes: dict[str, Any]) -> str:
        data = json.loads(json.dumps(base))
        for key, value in changes.items():
            target = data.get("mig") if key.startswith("mig.") and isinstance(data.get("mig"), dict) else data
            target[key.removeprefix("mig.")] = value
        return _yaml(data)

    keys = st.sampled_from([*base.keys(), *(f"mig.{k}" for k in (base.get("mig") or {})), "bogus"])
    return st.dictionaries(keys, values, max_size=3).map(mutate).flatmap(_damaged)


def check_geometry(example: tuple[str, Any], tmp: Path) -> None:
    from kfboot.gpu.config import geometry_value, parse_gpu_indices

    selector, value = example
    for fn in (lambda: parse_gpu_indices(selector), lambda: geometry_value(value)):
        try:
            _bounded(fn)
        except ValueError as exc:
            assert str(exc), "empty message"
    check_config(_yaml({"gpu": {"pools": [{"name": "p", "profile": "A100-80GB", "sharing": {
        "mode": "mig", "mig": {"geometry": {selector: value}}}}]}}), tmp)


geometries = st.tuples(gpu_selectors, geometry_strings | st.dictionaries(geometry_strings, numbers, max_size=3))

servers = st.one_of(st.sampled_from(["https://127.0.0.1:6443", "http://h", "not a url", "ftp://x:21", "",
                                     "https://h:notaport", "https://[::1", "//x", "https://\x00"]), odd_text)
users = st.one_of(st.fixed_dictionaries({"token": odd_text}), values,
                  st.just({"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": "false",
                                    "interactiveMode": "Never"}}),
                  st.just({"client-certificate-data": "bm90IGEgY2VydA==", "client-key-data": "eA=="}))
kubeconfigs = st.one_of(
    st.fixed_dictionaries({
        "apiVersion": st.just("v1"), "kind": st.just("Config"),
        "clusters": st.lists(st.fixed_dictionaries({"name": st.just("c"), "cluster": st.one_of(
            st.fixed_dictionaries({"server": servers}), values)}), max_size=2),
        "users": st.lists(st.fixed_dictionaries({"name": st.just("u"), "user": users}), max_size=2),
        "contexts": st.lists(st.fixed_dictionaries({"name": st.just("ctx"), "context": st.one_of(
            st.just({"cluster": "c", "user": "u"}), values)}), max_size=2),
        "current-context": st.sampled_from(["ctx", "missing", ""]),
    }).map(_yaml),
    st.binary(max_size=300).map(lambda b: b.decode("latin-1")),
    values.map(_yaml),
)


def check_kubeconfig(text: str, tmp: Path) -> None:
    from kfboot.k8s.client import Kube

    path = tmp / "kubeconfig"
    path.write_bytes(text.encode("utf-8", errors="surrogateescape"))
    try:
        kube = _bounded(lambda: Kube.connect(path, None))
    except KfbootError as exc:
        assert exc.exit_code == 2 and exc.message and exc.hint
        return
    assert kube.target.server.startswith(("https://", "http://"))
    kube.close()


def _log_variants() -> st.SearchStrategy[str]:
    lines = [log.read_text(errors="replace").splitlines() for log in NCCL_LOGS]
    token = st.one_of(st.sampled_from(["nan", "inf", "-1", "1e309", "N/A", "#", "", "0", "float", "sum"]),
                      st.integers(-(10**20), 10**20).map(str), odd_text)

    def damage(source: list[str], edits: list[tuple[int, int, str]]) -> str:
        out = list(source)
        for kind, where, text in edits:
            if not out:
                break
            i = where % len(out)
            if kind == 0:
                del out[i]
            elif kind == 1:
                out.insert(i, out[i])
            else:
                words = out[i].split()
                if words:
                    words[where % len(words)] = text
                out[i] = " ".join(words)
        return "\n".join(out) + "\n"

    return st.tuples(st.sampled_from(lines), st.lists(st.tuples(st.integers(0, 2), st.integers(0, 10**6), token),
                                                      max_size=8)).map(lambda t: damage(*t))


@functools.cache
def _profiles() -> Any:
    from kfboot.gpu.profiles import load_profiles

    return load_profiles()


def check_nccl_log(text: str, tmp: Path) -> None:
    from kfboot.gpu.report import analyze_files

    path = tmp / "all_reduce.log"
    path.write_bytes(text.encode("utf-8", errors="surrogateescape"))
    try:
        report, _ = _bounded(lambda: analyze_files([path], _profiles()))
    except KfbootError as exc:
        assert exc.exit_code in (1, 2) and exc.message
        return
    assert report.exit_code in (0, 1, 2, 3)
    json.dumps(list(report.events()), default=str)  # what -o json would print


def targets() -> list[Target]:
    out = [
        Target("config", config_texts, check_config),
        Target("profile", _profile_variants(), check_profile),
        Target("geometry", geometries, check_geometry),
        Target("kubeconfig", kubeconfigs, check_kubeconfig),
    ]
    if NCCL_LOGS:
        out.append(Target("nccl-log", _log_variants(), check_nccl_log))
    return out


def scratch() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="kfboot-fuzz-")
