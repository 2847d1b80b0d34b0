"""`kfboot profiles …` and `kfboot render mig|time-slicing`: hardware profiles and GPU sharing configs.

Pure commands (no cluster). Rendered YAML goes to stdout, the human capacity summary to stderr;
with `-o json` one JSON object goes to stdout. Heavy imports happen inside the commands.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperGroup

from kfboot.cli.context import get_options, print_json
from kfboot.cli.errors import handles_errors

if TYPE_CHECKING:
    from kfboot.gpu.plan import GpuPlan
    from kfboot.gpu.profiles import ProfileSet


profiles_app = typer.Typer(help="GPU hardware profiles: list, show, validate.", no_args_is_help=True)


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

ProfilesDirOption = typer.Option(
    None, "--profiles-dir", help="Extra directory of hardware profiles (*.yaml).", file_okay=False
)
FileOpt = typer.Option(
    None, "--file", "-f", help="Platform config (kfboot.yaml) with a `gpu:` section.", dir_okay=False
)
OutputDirOption = typer.Option(
    None, "--output-dir", help="Write the rendered files here instead of printing YAML.", file_okay=False
)
GpuOption = typer.Option(None, "--gpu", help="Hardware profile for a quick check without a config file.")
GpusOption = typer.Option(None, "--gpus", min=1, help="GPUs per node for a quick check (default: the profile's).")




def _err(lines: list[str]) -> None:
    """Plain lines on stderr: never wrapped, so summaries stay greppable."""
    sys.stderr.write("".join(line + "\n" for line in lines))
    sys.stderr.flush()


def _profiles(extra: list[Path | None]) -> ProfileSet:
    from kfboot.gpu.profiles import load_profiles

    return load_profiles([d for d in extra if d is not None])


# --- profiles ---------------------------------------------------------------------------------


@profiles_app.command("list")
@handles_errors
def profiles_list(ctx: typer.Context, profiles_dir: Path | None = ProfilesDirOption) -> None:
    """List known hardware profiles."""
    profiles = _profiles([profiles_dir])
    rows = []
    for name in profiles.names():
        p = profiles.profiles[name]
        mig = f"{p.mig.compute_slices} slices, {len(p.mig.profiles)} profiles" if p.mig else "no"
        rows.append(
            {
                "name": p.name,
                "gpusPerNode": p.gpus_per_node,
                "memoryGB": p.memory_gb,
                "interconnect": p.interconnect,
                "mig": mig,
                "description": p.description,
                "source": str(profiles.sources[name]),
            }
        )
    if get_options(ctx).json:
        print_json({"profiles": rows})
        return
    header = ("NAME", "GPUS/NODE", "MEMORY", "INTERCONNECT", "MIG", "DESCRIPTION")
    table = [header] + [
        (
            r["name"],
            str(r["gpusPerNode"]),
            f"{r['memoryGB']:g} GB" if r["memoryGB"] else "-",
            r["interconnect"],
            r["mig"],
            r["description"],
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
    for row in table:
        typer.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[-1])


@profiles_app.command("show")
@handles_errors
def profiles_show(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Profile name or alias."),
    profiles_dir: Path | None = ProfilesDirOption,
) -> None:
    """Show one profile, with the MIG named configs kfboot accepts for it."""
    from kfboot.gpu.mig import named_configs
    from kfboot.gpu.render import to_yaml

    profiles = _profiles([profiles_dir])
    prof = profiles.get(name)
    data = prof.model_dump(mode="json", by_alias=True)
    if prof.mig is not None:
        data["namedConfigs"] = {k: v for k, v in named_configs(prof.mig).items()}
    data["source"] = str(profiles.sources[prof.name])
    if get_options(ctx).json:
        print_json(data)
        return
    typer.echo(to_yaml(data), nl=False)


@profiles_app.command("validate")
@handles_errors
def profiles_validate(
    ctx: typer.Context, files: list[Path] = typer.Argument(..., help="Profile files to check.", dir_okay=False)
) -> None:
    """Check profile files against the schema and the MIG placement rules (exit 2 on errors)."""
    from kfboot.errors import ConfigError
    from kfboot.gpu.profiles import load_profile_file, profile_problems

    problems: list[str] = []
    results = []
    for path in files:
        try:
            prof = load_profile_file(path)
        except ConfigError as exc:
            problems.extend(exc.problems)
            results.append({"file": str(path), "ok": False})
            continue
        own = [f"{path}: {msg}" for msg in profile_problems(prof)]
        problems.extend(own)
        results.append({"file": str(path), "name": prof.name, "ok": not own})
    if get_options(ctx).json:
        print_json({"results": results, "problems": problems})
    elif not problems:
        _err([f"ok: {r['file']} ({r['name']})" for r in results])
    if problems:
        raise ConfigError(problems, hint="see the profile schema: `kfboot profiles show A100-80GB` for an example")


# --- render -----------------------------------------------------------------------------------


def _plan_from_file(path: Path, extra_dirs: list[Path | None]) -> GpuPlan:
    """Load kfboot.yaml, check its `gpu:` section against the profiles; errors carry file:line:col."""
    from kfboot.config.platform import Platform
    from kfboot.config.positions import read_yaml_file, validate
    from kfboot.errors import ConfigError
    from kfboot.gpu.plan import build_plan

    doc = read_yaml_file(path)
    platform = validate(doc, Platform)
    profiles = _profiles([platform.gpu.profiles_dir, *extra_dirs])
    plan = build_plan(platform.gpu, profiles)
    if not plan.ok:
        lines = []
        for problem in plan.located_problems:
            line, col = doc.position(problem.path)
            lines.append(f"{path}:{line}:{col}: {problem}")
        raise ConfigError(lines)
    return plan


def _quick_plan(gpu: str, sharing: dict[str, Any], gpus: int | None, extra_dirs: list[Path | None]) -> GpuPlan:
    """A one-pool plan for `--gpu …` checks without a config file."""
    from pydantic import ValidationError

    from kfboot.errors import ConfigError
    from kfboot.gpu.config import GpuConfig
    from kfboot.gpu.plan import PRODUCT_LABEL, build_plan

    profiles = _profiles(extra_dirs)
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


def _self_check(kind: str, error: str | None) -> None:
    if error:
        from kfboot.errors import KfbootError

        raise KfbootError(
            f"internal error: the rendered {kind} config would be rejected: {error}",
            hint="please report this with your kfboot.yaml",
        )


def _summary(plan: GpuPlan, extra: list[str]) -> None:
    from kfboot.gpu.render import capacity

    _err([*extra, *capacity(plan).lines()])


def _write(output_dir: Path, files: dict[str, str]) -> None:
    output_dir.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (output_dir / name).write_text(text, encoding="utf-8")
        _err([f"wrote {output_dir / name}"])


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
        plan = _plan_from_file(file, [profiles_dir])
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
    notes = [] if any(p.uses_mig for p in plan.pools) else ["note: no pool uses MIG; only all-disabled is rendered"]
    if get_options(ctx).json:
        print_json(
            {
                "migParted": config,
                "configMap": render.mig_parted_configmap(plan),
                "helmValues": render.helm_values(plan),
                "nodeLabels": render.node_labels(plan),
                "capacity": render.capacity(plan).to_json(),
            }
        )
        return
    if output_dir is not None:
        _write(
            output_dir,
            {
                "mig-parted-config.yaml": text,
                "mig-parted-configmap.yaml": render.to_yaml(render.mig_parted_configmap(plan)),
                "gpu-operator-values.yaml": render.to_yaml(render.helm_values(plan)),
                "node-labels.yaml": render.to_yaml(render.node_labels(plan)),
            },
        )
    else:
        typer.echo(text, nl=False)
    _summary(plan, notes)


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
        plan = _plan_from_file(file, [profiles_dir])
    else:
        if replicas is None:
            raise UsageError("--gpu needs --replicas", hint="e.g. kfboot render time-slicing --gpu L4 --replicas 4")
        ts = {"mode": "time-slicing", "timeSlicing": {"replicas": replicas}}
        plan = _quick_plan(gpu or "", ts, gpus, [profiles_dir])
    configs = render.render_device_plugin(plan)
    for key, cfg in configs.items():
        _self_check(f"device-plugin ({key})", upstream.device_plugin_error(cfg))
    configmap = render.device_plugin_configmap(plan, namespace)
    labels = render.node_labels(plan)
    if get_options(ctx).json:
        print_json(
            {
                "devicePlugin": configs,
                "configMap": configmap,
                "helmValues": render.helm_values(plan),
                "nodeLabels": labels,
                "capacity": render.capacity(plan).to_json(),
            }
        )
        return
    text = render.to_yaml(configmap)
    if output_dir is not None:
        _write(
            output_dir,
            {
                "device-plugin-configmap.yaml": text,
                "gpu-operator-values.yaml": render.to_yaml(render.helm_values(plan)),
                "node-labels.yaml": render.to_yaml(labels),
            },
        )
    else:
        typer.echo(text, nl=False)
    notes = []
    for pool in plan.pools:
        if not pool.profile.has_gpus:
            continue
        where = (
            f"nodes {', '.join(pool.nodes)}"
            if pool.nodes
            else "nodes with " + ",".join(f"{k}={v}" for k, v in (pool.node_selector or {}).items())
        )
        notes.append(f"label {where}: {DEVICE_PLUGIN_CONFIG_LABEL}={pool.name}")
    _summary(plan, notes)
