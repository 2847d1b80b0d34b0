"""`kfboot profiles list|show|validate`: the GPU hardware profiles kfboot knows (pure, no cluster)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from kfboot.cli.context import get_options, print_json
from kfboot.cli.errors import handles_errors

if TYPE_CHECKING:
    from kfboot.gpu.profiles import ProfileSet

profiles_app = typer.Typer(help="GPU hardware profiles: list, show, validate.", no_args_is_help=True)

ProfilesDirOption = typer.Option(
    None, "--profiles-dir", help="Extra directory of hardware profiles (*.yaml).", file_okay=False
)


def register(app: typer.Typer) -> None:
    app.add_typer(profiles_app, name="profiles")


def load_profile_set(extra: list[Path | None]) -> ProfileSet:
    from kfboot.gpu.profiles import load_profiles

    return load_profiles([d for d in extra if d is not None])


def write_stderr(lines: list[str]) -> None:
    """Plain lines on stderr: never wrapped, so summaries stay greppable."""
    sys.stderr.write("".join(line + "\n" for line in lines))
    sys.stderr.flush()


@profiles_app.command("list")
@handles_errors
def profiles_list(ctx: typer.Context, profiles_dir: Path | None = ProfilesDirOption) -> None:
    """List known hardware profiles."""
    profiles = load_profile_set([profiles_dir])
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
        print_json({"event": "profiles", "profiles": rows})
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

    profiles = load_profile_set([profiles_dir])
    prof = profiles.get(name)
    data = prof.model_dump(mode="json", by_alias=True)
    if prof.mig is not None:
        data["namedConfigs"] = {k: v for k, v in named_configs(prof.mig).items()}
    data["source"] = str(profiles.sources[prof.name])
    if get_options(ctx).json:
        print_json({"event": "profile", **data})
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
        print_json({"event": "validation", "results": results, "problems": problems})
    elif not problems:
        write_stderr([f"ok: {r['file']} ({r['name']})" for r in results])
    if problems:
        raise ConfigError(problems, hint="see the profile schema: `kfboot profiles show A100-80GB` for an example")
