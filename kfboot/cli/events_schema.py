"""The JSON contract of `-o json`: every stdout line is one object whose `event` names what it is.

`EVENTS` is the one list of event names and the keys each must carry; `kfboot schema --events`
publishes it as a JSON Schema, `kfboot.cli.context.print_json` refuses an object that does not
follow it (so a command cannot quietly break the contract), and the tests run every registered
command with `-o json` against it. A new command with a new kind of output adds one entry here.
"""

from __future__ import annotations

from typing import Any

# event name -> (keys it always has, what it means)
EVENTS: dict[str, tuple[tuple[str, ...], str]] = {
    # the engine (install, uninstall, plan, status)
    "plan": ((), "what install would do: per phase (with `phase`) or the whole plan (`kfboot plan`)"),
    "phase": (("phase", "state"), "a phase changed state"),
    "progress": (("message",), "a line of progress of a long step"),
    "warning": (("message",), "something the user should know; the run goes on"),
    "note": (("message",), "something kfboot chose by itself (e.g. for a kind cluster)"),
    "summary": (("operation", "ok", "exitCode"), "the last line of install, uninstall and doctor"),
    "error": (("message", "exitCode"), "the command stopped; `hint` says what to do"),
    "status": (("phases",), "recorded state and live readiness per phase"),
    "request": (("method", "path", "status", "ms"), "one API request (with -v)"),
    # config and catalog
    "init": (("path",), "a starter config was written (`path` - means stdout, in `config`)"),
    "schema": (("schema",), "a JSON Schema: kfboot.yaml's, or this one with --events"),
    "version": (("kfboot", "components"), "kfboot's version and the pinned components"),
    "catalog": (("components", "sources"), "the pinned catalog"),
    "credentials": (("email",), "Dex's login"),
    # GPU sharing
    "profiles": (("profiles",), "known hardware profiles"),
    "profile": (("name",), "one hardware profile"),
    "validation": (("results", "problems"), "profile files checked"),
    "mig-config": (("migParted", "configMap"), "a rendered mig-parted config"),
    "time-slicing-config": (("devicePlugin", "configMap"), "a rendered device-plugin config"),
    # render and bundles
    "rendered": (("path", "phases"), "phases rendered into a directory"),
    "bundle": (("path",), "a bundle was written"),
    "images": (("images",), "the images of a bundle"),
    "verified": (("path",), "a bundle matches its index"),
    # doctor
    "finding": (("id", "status"), "one doctor finding"),
    "collect": (("path",), "the support archive was written"),
    # verify
    "check": (("check", "result"), "one platform check of `kfboot verify`"),
    # kind clusters and CI
    "preflight": (("check", "status"), "one check before creating a kind cluster"),
    "config": (("name", "yaml"), "a kind cluster config"),
    "workflow": (("yaml",), "a CI workflow"),
    # verify-gpu
    "nvidia-smi": (("node", "passed"), "nvidia-smi checks of one node"),
    "nccl": (("status", "passed"), "one NCCL test and its verdict"),
}


class ContractError(TypeError):
    """A command tried to print an object that breaks the `-o json` contract (a bug in kfboot)."""


def check_event(obj: Any) -> None:
    """Raise ContractError unless `obj` is an object with a known `event` and that event's keys."""
    if not isinstance(obj, dict):
        raise ContractError(f"-o json prints objects, not {type(obj).__name__}")
    name = obj.get("event")
    if name not in EVENTS:
        raise ContractError(f"-o json object without a known `event` key (got {name!r}): add it to EVENTS")
    missing = [key for key in EVENTS[name][0] if key not in obj]
    if missing:
        raise ContractError(f"`{name}` event without {', '.join(missing)}")


def events_schema() -> dict[str, Any]:
    """JSON Schema (2020-12) of one line of `-o json` output."""
    branches = [
        {"if": {"properties": {"event": {"const": name}}},
         "then": {"required": ["event", *keys], "description": doc}}
        for name, (keys, doc) in EVENTS.items()
    ]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://kfboot.io/schemas/events.json",
        "title": "kfboot -o json event",
        "description": "One line of `kfboot -o json …` output (newline-delimited JSON). Every line has `event`; "
                       "install, uninstall and doctor end with a `summary`; a stopped command prints `error`.",
        "type": "object",
        "required": ["event"],
        "properties": {"event": {"enum": list(EVENTS)}, "exitCode": {"type": "integer", "enum": [0, 1, 2, 3, 130]},
                       "message": {"type": "string"}, "hint": {"type": ["string", "null"]}},
        "allOf": branches,
    }
