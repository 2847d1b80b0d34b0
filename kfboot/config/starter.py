"""The commented starter kfboot.yaml that `kfboot init` writes, with versions from the catalog."""

from __future__ import annotations

from pathlib import Path

# templates/ at the top of the repository; kfboot/data/templates links to it so wheels carry it too
TEMPLATE = Path(__file__).resolve().parents[1] / "data" / "templates" / "kfboot.yaml.j2"


def starter_config() -> str:
    import jinja2

    from kfboot.config.catalog import load_catalog

    catalog = load_catalog()
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)
    template = env.from_string(TEMPLATE.read_text(encoding="utf-8"))
    return template.render(catalog=catalog, components=catalog.components,
                           kfm=catalog.sources["kubeflow-manifests"])
