"""`kfboot render [PHASE|all]|mig|time-slicing`: what install would apply, and GPU sharing configs.

No cluster is contacted. Rendered YAML goes to stdout (or `--output-dir`), the human capacity
summary to stderr; with `-o json` one JSON object goes to stdout. Heavy imports happen inside the
commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperGroup

from kfboot.cli.context import get_options, open_session, print_json, progress_printer, stderr_console
from kfboot.cli.errors import handles_errors
from kfboot.cli.profiles import ProfilesDirOption, load_profile_set, write_stderr

if TYPE_CHECKING:
    from kfboot.gpu.plan import GpuPlan


class _RenderGroup(TyperGroup):
    """`kfboot render [PHASE|all] …` means `kfboot render phases …`; named subcommands keep working."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["phases", *args]
        return super().parse_args(ctx, args)


render_app = typer.Typer(
    cls=_RenderGroup, no_args_is_help=True,
    help=("Render without a cluster: what install would apply (`kfboot render [PHASE|all] --output-dir DIR`, "
          "same as `render phases`), NVIDIA MIG and time-slicing configs."),
)

FileOpt = typer.Option(
    None, "--file", "-f", help="Platform config (kfboot.yaml) with a `gpu:` section.", dir_okay=False
)
OutputDirOption = typer.Option(
    None, "--output-dir", help="Write the rendered files here instead of printing YAML.", file_okay=False
)
GpuOption = typer.Option(None, "--gpu", help="Hardware profile for a quick check without a config file.")
GpusOption = typer.Option(None, "--gpus", min=1, max=64,
                          help="GPUs per node for a quick check, 1 to 64 (default: the profile's).")


def register(app: typer.Typer) -> None:
    app.add_typer(render_app, name="render")


# --- phases ----------------------------------------------------------------------------------------
@render_app.command("phases")
@handles_errors
def render_phases(
    ctx: typer.Context,
    names: list[str] = typer.Argument(None, metavar="[PHASE|all]...", help="Phases to render (default: all enabled)."),
    output_dir: Path = typer.Option(..., "--output-dir", file_okay=False, help="Where to write the rendered files."),
    file: Path = typer.Option(None, "--file", "-f", dir_okay=False, help="Platform config (kfboot.yaml)."),
    bundle: Path = typer.Option(None, "--bundle", file_okay=False, help="Render from a verified bundle (no network)."),
    manifests: Path = typer.Option(None, "--manifests", file_okay=False,
                                   help="Local kubeflow/manifests checkout instead of the cache bundle."),
    kind: bool = typer.Option(False, "--kind", help="Render the kind-cluster variants (oauth2-proxy overlay)."),
) -> None:
    """Write what `install` would apply, per phase: DIR/PHASE/manifests.yaml, values.yaml (Helm), DIR/index.yaml.

    No cluster is contacted. Without --bundle or --manifests, manifests come from the cache bundle
    (downloaded once) and Helm charts from their repositories.
    """
    from kfboot.phases.render import render_to, select

    session = open_session(ctx, file=file, manifests=manifests, bundle=bundle, offline=True, kind=kind)
    chosen = select(session.phases, list(names or []))
    index = render_to(chosen, output_dir, session.services(), progress=progress_printer(ctx))
    if get_options(ctx).json:
        print_json({"event": "rendered", "path": str(output_dir), "phases": index["phases"]})
    else:
        stderr_console().print(f"rendered {len(chosen)} phase(s) into {output_dir} (index: {output_dir}/index.yaml)",
                               markup=False, highlight=False)


# --- GPU sharing -----------------------------------------------------------------------------------
def _plan_from_file(ctx: typer.Context, path: Path, extra_dirs: list[Path | None]) -> GpuPlan:
    """Load kfboot.yaml; its `gpu:` section is checked against the profiles, errors carry file:line:col."""
    dirs = tuple(d for d in extra_dirs if d is not None)
    return open_session(ctx, file=path, offline=True, extra_profile_dirs=dirs).platform.gpu_plan(dirs)


def _quick_plan(gpu: str, sharing: dict[str, Any], gpus: int | None, extra_dirs: list[Path | None]) -> GpuPlan:
    """A one-pool plan for `--gpu …` checks without a config file."""
    from pydantic import ValidationError

    from kfboot.errors import ConfigError
    from kfboot.gpu.config import GpuConfig
    from kfboot.gpu.plan import PRODUCT_LABEL, build_plan

    profiles = load_profile_set(extra_dirs)
    prof = profiles.get(gpu)
    pool: dict[str, Any] = {
        "name": prof.name.lower().replace("_", "-").replace(".", "-"),
        "profile": prof.name,
        "nodeSelector": {PRODUCT_LABEL: prof.products[0] if prof.products else prof.name},
        "sharing": sharing,
    }
    if gpus is not None:
        pool["gpusPerNode"] = gpus
    try:
        cfg = GpuConfig.model_validate({"pools": [pool]})
    except ValidationError as exc:
        raise ConfigError([e["msg"].removeprefix("Value error, ") for e in exc.errors(include_url=False)]) from None
    plan = build_plan(cfg, profiles)
    if not plan.ok:
        raise ConfigError([p.message for p in plan.located_problems])
    return plan


def _need_source(file: Path | None, gpu: str | None, what: str) -> None:
    from kfboot.errors import UsageError

    if file is None and gpu is None:
        raise UsageError(
            f"nothing to render: give -f kfboot.yaml, or --gpu with {what}",
            hint="e.g. kfboot render mig --gpu H100-80GB --geometry '3g.40gb=1,2g.20gb=2'",
        )
    if file is not None and gpu is not None:
        raise UsageError("give either -f or --gpu, not both")


def _check_namespace(namespace: str) -> None:
    import re

    from kfboot.config.platform import DNS_LABEL
    from kfboot.errors import UsageError
    from kfboot.yaml_positions import escape

    if not re.match(DNS_LABEL, namespace):
        raise UsageError(f"--namespace {escape(namespace)!r} is not a namespace name",
                         hint="a DNS label: at most 63 of a-z, 0-9 and '-', starting and ending alphanumeric")


def _self_check(kind: str, error: str | None) -> None:
    if error:
        from kfboot.errors import KfbootError

        raise KfbootError(
            f"internal error: the rendered {kind} config would be rejected: {error}",
            hint="please report this with your kfboot.yaml",
        )


def _deliver(ctx: typer.Context, plan: GpuPlan, *, payload: dict[str, Any], text: str, files: dict[str, str],
             output_dir: Path | None, notes: list[str]) -> None:
    """One shape for both renderers: JSON (payload + what every GPU render carries), files, or YAML on stdout."""
    from kfboot.gpu import render

    if get_options(ctx).json:
        print_json({**payload, "helmValues": render.helm_values(plan), "nodeLabels": render.node_labels(plan),
                    "capacity": render.capacity(plan).to_json()})
        return
    if output_dir is not None:
        output_dir.mkdir(parents=True, exist_ok=True)
        every = {**files, "gpu-operator-values.yaml": render.to_yaml(render.helm_values(plan)),
                 "node-labels.yaml": render.to_yaml(render.node_labels(plan))}
        for name, content in every.items():
            (output_dir / name).write_text(content, encoding="utf-8")
            write_stderr([f"wrote {output_dir / name}"])
    else:
        typer.echo(text, nl=False)
    write_stderr([*notes, *render.capacity(plan).lines()])


@render_app.command("mig")
@handles_errors
def render_mig(
    ctx: typer.Context,
    file: Path | None = FileOpt,
    gpu: str | None = GpuOption,
    geometry: str | None = typer.Option(
        None, "--geometry", help="With --gpu: '3g.40gb=1,2g.20gb=2' or a named config such as all-balanced."
    ),
    strategy: str = typer.Option("mixed", "--strategy", help="With --gpu: MIG strategy single or mixed."),
    gpus: int | None = GpusOption,
    profiles_dir: Path | None = ProfilesDirOption,
    output_dir: Path | None = OutputDirOption,
) -> None:
    """Render the mig-parted config (version v1): one named config per MIG pool."""
    from kfboot.errors import UsageError
    from kfboot.gpu import render, upstream

    _need_source(file, gpu, "--geometry")
    if file is not None:
        plan = _plan_from_file(ctx, file, [profiles_dir])
    else:
        if not geometry:
            raise UsageError("--gpu needs --geometry", hint="e.g. --geometry '3g.40gb=1,2g.20gb=2' or all-balanced")
        if strategy not in ("single", "mixed"):
            raise UsageError(f"--strategy must be single or mixed, not {strategy!r}")
        mig: dict[str, Any] = {"strategy": strategy}
        if geometry.startswith("all-"):
            mig["config"] = geometry
        else:
            mig["geometry"] = {"all": geometry}
        plan = _quick_plan(gpu or "", {"mode": "mig", "mig": mig}, gpus, [profiles_dir])
    config = render.render_mig_parted(plan)
    _self_check("mig-parted", upstream.mig_parted_error(config))
    text = render.to_yaml(config)
    configmap = render.mig_parted_configmap(plan)
    notes = [] if any(p.uses_mig for p in plan.pools) else ["note: no pool uses MIG; only all-disabled is rendered"]
    _deliver(ctx, plan, payload={"event": "mig-config", "migParted": config, "configMap": configmap}, text=text,
             files={"mig-parted-config.yaml": text, "mig-parted-configmap.yaml": render.to_yaml(configmap)},
             output_dir=output_dir, notes=notes)


@render_app.command("time-slicing")
@handles_errors
def render_time_slicing(
    ctx: typer.Context,
    file: Path | None = FileOpt,
    gpu: str | None = GpuOption,
    replicas: int | None = typer.Option(None, "--replicas", help="With --gpu: time-slicing replicas (>= 2)."),
    gpus: int | None = GpusOption,
    namespace: str = typer.Option("gpu-operator", "--namespace", help="Namespace of the GPU Operator."),
    profiles_dir: Path | None = ProfilesDirOption,
    output_dir: Path | None = OutputDirOption,
) -> None:
    """Render the device-plugin ConfigMap (version v1 configs, one per pool) and the node labels."""
    from kfboot.errors import UsageError
    from kfboot.gpu import render, upstream
    from kfboot.gpu.plan import DEVICE_PLUGIN_CONFIG_LABEL

    _need_source(file, gpu, "--replicas")
    if file is not None:
        plan = _plan_from_file(ctx, file, [profiles_dir])
    else:
        if replicas is None:
            raise UsageError("--gpu needs --replicas", hint="e.g. kfboot render time-slicing --gpu L4 --replicas 4")
        ts = {"mode": "time-slicing", "timeSlicing": {"replicas": replicas}}
        plan = _quick_plan(gpu or "", ts, gpus, [profiles_dir])
    _check_namespace(namespace)
    configs = render.render_device_plugin(plan)
    for key, cfg in configs.items():
        _self_check(f"device-plugin ({key})", upstream.device_plugin_error(cfg))
    configmap = render.device_plugin_configmap(plan, namespace)
    text = render.to_yaml(configmap)
    notes = []
    for pool in plan.pools:
        if not pool.profile.has_gpus:
            continue
        where = (f"nodes {', '.join(pool.nodes)}" if pool.nodes
                 else "nodes with " + ",".join(f"{k}={v}" for k, v in (pool.node_selector or {}).items()))
        notes.append(f"label {where}: {DEVICE_PLUGIN_CONFIG_LABEL}={pool.name}")
    _deliver(ctx, plan, payload={"event": "time-slicing-config", "devicePlugin": configs, "configMap": configmap}, text=text,
             files={"device-plugin-configmap.yaml": text}, output_dir=output_dir, notes=notes)
