"""kfboot's command line: the app, its global options, and the command families it wires in.

Commands live one family per module (kfboot/cli/<family>.py) and go through `kfboot.session`.
Heavy modules (kubernetes, pyhelm3, jinja2, pydantic) load inside commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

import kfboot.cli.bundle as bundle_commands
import kfboot.cli.cluster as cluster_commands
import kfboot.cli.config as config_commands
import kfboot.cli.doctor as doctor_commands
import kfboot.cli.platform as platform_commands
import kfboot.cli.profiles as profiles_commands
import kfboot.cli.render as render_commands
import kfboot.cli.verify as verify_commands
import kfboot.cli.verify_gpu as verify_gpu_commands
from kfboot.cli.context import GlobalOptions, OutputFormat

GLOBAL_WITH_VALUE = ("--kubeconfig", "--context", "--output", "-o", "--timeout")
GLOBAL_FLAGS = ("--yes", "-y")


def _is_verbose(arg: str) -> bool:
    return arg == "--verbose" or (arg.startswith("-v") and set(arg[1:]) == {"v"})


def hoist_global_options(args: list[str]) -> list[str]:
    """Move global options that follow the command name in front of it (pure, for the root group)."""
    command_at = next((i for i, a in enumerate(args)
                       if not a.startswith("-") and (i == 0 or args[i - 1] not in GLOBAL_WITH_VALUE)), None)
    if command_at is None:
        return args
    front, rest = list(args[:command_at]), []
    tail = iter(args[command_at:])
    for arg in tail:
        if arg == "--":  # everything after it is the command's own
            rest += [arg, *tail]
            break
        if arg.split("=", 1)[0] in GLOBAL_WITH_VALUE:
            value = arg.split("=", 1)[1] if "=" in arg else next(tail, None)
            mine = [arg] if "=" in arg or value is None else [arg, value]
            if arg.split("=", 1)[0] in ("--output", "-o") and value not in (None, "text", "json"):
                rest += mine  # a command's own --output FILE (`kfboot ci github --output …`)
            else:
                front += mine
        elif arg in GLOBAL_FLAGS or _is_verbose(arg):
            front.append(arg)
        else:
            rest.append(arg)
    return front + rest


class _GlobalOptionsAnywhere(TyperGroup):
    """kubectl habit: `kfboot install --context prod` works like `kfboot --context prod install`.

    Global options found after the command are moved in front of it before parsing.
    """

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_global_options(args))

    def invoke(self, ctx: Any) -> Any:
        """The one error boundary: every command below reports errors as `error:`/`hint:` + exit code."""
        from kfboot.cli.errors import boundary

        return boundary(lambda: super(_GlobalOptionsAnywhere, self).invoke(ctx), ctx)


app = typer.Typer(
    cls=_GlobalOptionsAnywhere,
    name="kfboot",
    help=(
        "Bring a Kubernetes cluster from empty to a working AI/ML platform: NVIDIA GPU Operator, "
        "cert-manager, Istio, Dex + oauth2-proxy, Kubeflow, KubeRay and KServe, installed as ordered, "
        "idempotent phases.\n\n"
        "Start with `kfboot plan --offline` (no cluster needed), then `kfboot install --context NAME`."
    ),
    no_args_is_help=True,
    rich_markup_mode=None,  # rich help formatting costs ~0.25 s of start-up (benchmarks/bench_help.py)
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)


@app.callback()
def main_options(
    ctx: typer.Context,
    kubeconfig: Path = typer.Option(None, "--kubeconfig", envvar="KUBECONFIG", help="Path to the kubeconfig file."),
    context: str = typer.Option(None, "--context", help="Kubeconfig context (cluster) to use."),
    output: OutputFormat = typer.Option(OutputFormat.text, "--output", "-o",
                                        help="text for humans (stderr), json for machines (NDJSON on stdout)."),
    verbose: int = typer.Option(0, "--verbose", "-v", count=True, help="More detail (repeat for more)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Change the cluster without asking for confirmation."),
    timeout: float = typer.Option(None, "--timeout", min=1, max=86_400,
                                  help="Seconds each phase may take to become ready (1 to 86400)."),
) -> None:
    kubeconfig_path = None
    if kubeconfig:
        first = str(kubeconfig).split(":")[0]  # KUBECONFIG may be a list; the client reads the first
        kubeconfig_path = Path(first)
    ctx.obj = GlobalOptions(kubeconfig_path, context, output, verbose, yes, timeout)


# -- command families -------------------------------------------------------------------------------
# One module per family; each has `register(app)` and imports only typer at module level (fast --help).
# A new family is one import and one entry in FAMILIES.
FAMILIES = (
    platform_commands,  # plan, install, status, uninstall, credentials
    config_commands,  # init, schema, version, versions
    render_commands,  # render [PHASE|all] | mig | time-slicing
    profiles_commands,  # profiles list | show | validate
    bundle_commands,  # bundle pull | build | images | verify
    cluster_commands,  # cluster create | delete | config; ci github
    doctor_commands,  # doctor
    verify_gpu_commands,  # verify-gpu (live, or --analyze saved logs)
    verify_commands,  # verify
)
for family in FAMILIES:
    family.register(app)


def main() -> None:
    app()
