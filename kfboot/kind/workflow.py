"""The GitHub Actions workflow users copy (and kfboot runs on itself), rendered from one template.

templates/e2e-kind.yml.j2 uses `[[ … ]]` / `[% … %]` so GitHub's own `${{ … }}` expressions pass
through untouched. Actions are pinned by full commit SHA (the tag is kept in a comment).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from kfboot.errors import UsageError

TEMPLATE = Path(__file__).resolve().parents[1] / "data" / "templates" / "e2e-kind.yml.j2"
PROJECT_WORKFLOW = ".github/workflows/e2e-kind.yml"
# release tags' commits; the comment keeps the tag readable for people and for Dependabot
ACTIONS = {
    "checkout": "08c6903cd8c0fde910a37f88322edcfb5dd907a8 # v5.0.0",
    "setup_python": "e797f83bcb11b83ae66e0230d6156d7c80228e7c # v6.0.0",
    "upload_artifact": "330a01c490aca151604b8cf639adc76d48f6c5d4 # v5.0.0",
}
DEFAULT_GPU_RUNNER = "gpu"


@dataclass(frozen=True)
class WorkflowOptions:
    config: str | None = None  # the user's kfboot.yaml, relative to their repository root
    gpu_runner: str = DEFAULT_GPU_RUNNER
    install: str = "."  # what `pip install` gets: "." for kfboot itself, "kfboot==X" for users
    output: str | None = None

    def command(self) -> str:
        """The `kfboot ci github` line that writes this workflow (quoted in its header)."""
        parts = ["kfboot", "ci", "github"]
        if self.config:
            parts += ["--config", self.config]
        if self.gpu_runner != DEFAULT_GPU_RUNNER:
            parts += ["--gpu-runner", self.gpu_runner]
        parts += ["--install", self.install]
        if self.output:
            parts += ["--output", self.output]
        return shlex.join(parts)


def render_workflow(options: WorkflowOptions, kind_version: str) -> str:
    import jinja2

    if not options.gpu_runner or not all(c.isalnum() or c in "-_." for c in options.gpu_runner):
        raise UsageError(f"--gpu-runner {options.gpu_runner!r}: a runner label is letters, digits, '-', '_' or '.'")
    if options.config and (options.config.startswith("/") or ".." in Path(options.config).parts):
        raise UsageError(f"--config {options.config}: give the path relative to the repository root",
                         hint="e.g. --config deploy/kfboot.yaml")
    file_args = f" -f {shlex.quote(options.config)}" if options.config else ""
    jobs = [
        {"id": "kind", "title": "kind (CPU)", "gpu": False, "timeout": 90, "cluster": "kfboot-e2e", "gpus": ""},
        {"id": "kind-gpu", "title": "kind (GPU, self-hosted)", "gpu": True, "timeout": 90,
         "cluster": "kfboot-gpu-e2e", "gpus": " --gpus all"},
    ]
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE.parent)), trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True, undefined=jinja2.StrictUndefined, autoescape=False,
        variable_start_string="[[", variable_end_string="]]", block_start_string="[%", block_end_string="%]",
        comment_start_string="[#", comment_end_string="#]")
    text = env.get_template(TEMPLATE.name).render(
        command=options.command(), gpu_runner=options.gpu_runner, kind_version=kind_version,
        install=shlex.quote(options.install), file=file_args, jobs=jobs, actions=ACTIONS)
    return text.rstrip("\n") + "\n"
