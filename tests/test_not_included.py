"""What upstream's example installs and kfboot does not is said, with the reason (`kfboot versions`)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from kfboot.cli.app import app
from kfboot.config.catalog import load_catalog
from kfboot.sources.build import catalog_paths


def test_versions_lists_what_is_not_included_with_the_reason() -> None:
    catalog = load_catalog()
    assert {"spark-operator", "model-registry", "knative-eventing", "training-operator"} <= set(catalog.not_included)
    result = CliRunner().invoke(app, ["versions"])
    assert result.exit_code == 0
    for name, item in catalog.not_included.items():
        assert f"  {name}: {item.title} ({item.path}): {item.reason}" in result.stdout
    as_json = json.loads(CliRunner().invoke(app, ["-o", "json", "versions"]).stdout)
    assert as_json["notIncluded"]["spark-operator"]["path"] == "applications/spark/spark-operator/overlays/kubeflow"


def test_nothing_is_both_included_and_not() -> None:
    catalog = load_catalog()
    included = {path for _, path in catalog_paths(catalog)}
    for item in catalog.not_included.values():
        assert not any(p == item.path or p.startswith(item.path + "/") for p in included), item.path
