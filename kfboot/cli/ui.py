"""Turning engine events into output: a live table on a terminal, plain lines in CI, NDJSON for machines."""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

from kfboot.cli.context import GlobalOptions, interactive_stderr, print_json
from kfboot.engine import events as ev

ICONS = {ev.READY: "✔", ev.UP_TO_DATE: "✔", ev.REMOVED: "✔", ev.DRY_RUN: "•", ev.SKIPPED: "–", ev.FAILED: "✘",
         ev.TIMED_OUT: "⏱", ev.CANCELLED: "⊘", ev.INTERRUPTED: "✘", ev.PENDING: "·", ev.APPLYING: "…",
         ev.WAITING: "…", ev.REMOVING: "…"}
STYLES = {ev.READY: "green", ev.UP_TO_DATE: "green", ev.REMOVED: "green", ev.FAILED: "red", ev.TIMED_OUT: "red",
          ev.CANCELLED: "yellow", ev.INTERRUPTED: "red", ev.SKIPPED: "dim", ev.DRY_RUN: "cyan"}
BUSY = (ev.APPLYING, ev.WAITING, ev.REMOVING)


PLAIN_PROGRESS_EVERY = 10.0


class Reporter:
    """Receives engine events (from worker threads) and renders them for the chosen audience."""

    def __init__(self, options: GlobalOptions, phases: list[tuple[str, str]]) -> None:
        self.options = options
        self.rows: dict[str, dict[str, Any]] = {
            name: {"title": title, "state": ev.PENDING, "message": "", "started": None, "elapsed": 0.0}
            for name, title in phases
        }
        self.lock = threading.Lock()
        self.live: Any = None
        self.console: Any = None
        self.mode = "json" if options.json else ("live" if interactive_stderr() else "plain")
        self.t0 = time.monotonic()
        self.last_progress: dict[str, float] = {}

    # -- lifecycle ------------------------------------------------------------------------------
    def __enter__(self) -> Reporter:
        if self.mode == "live":
            from rich.console import Console
            from rich.live import Live

            self.console = Console(stderr=True)
            self.live = Live(self._table(), console=self.console, refresh_per_second=8, transient=False)
            self.live.__enter__()
            threading.Thread(target=self._tick, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.update(self._table())
            self.live.__exit__(None, None, None)
            self.live = None

    def _tick(self) -> None:
        while self.live is not None:
            with self.lock:
                if self.live is not None:
                    self.live.update(self._table())
            time.sleep(0.25)

    # -- events ---------------------------------------------------------------------------------
    def __call__(self, event: Any) -> None:
        with self.lock:
            if self.mode == "json":
                print_json(event.to_dict())
                return
            row = self.rows.get(event.phase or "")
            if event.kind == "phase" and row is not None:
                if row["started"] is None:
                    row["started"] = time.monotonic()
                row["state"], row["message"] = event.state, event.message or row["message"]
                if event.elapsed is not None:
                    row["elapsed"] = event.elapsed
                if self.mode == "plain":
                    self._line(f"{event.phase:<18} {event.state:<11} {event.message}", event.elapsed)
            elif event.kind == "plan" and row is not None:
                action = event.data.get("action", "")
                state = {"skip": ev.SKIPPED, "up-to-date": ev.UP_TO_DATE}.get(action, row["state"])
                row["state"], row["message"] = state, event.message if state != ev.PENDING else f"{action}: {event.message}"
                if self.mode == "plain":
                    self._line(f"{event.phase:<18} {'plan':<11} {action}: {event.message}", None)
            elif event.kind == "progress" and row is not None:
                row["message"] = event.message
                if self.mode == "plain" and self._due(event.phase):
                    self._line(f"{event.phase:<18} {'':<11} {event.message}", None)
            elif event.kind == "warning":
                self._warn(event.message)

    def _due(self, phase: str) -> bool:
        """Plain output: every progress line with -v, else at most one per phase every 10 s (CI logs)."""
        now = time.monotonic()
        if self.options.verbose or now - self.last_progress.get(phase, 0.0) >= PLAIN_PROGRESS_EVERY:
            self.last_progress[phase] = now
            return True
        return False

    def _warn(self, message: str) -> None:
        if self.live is not None:
            self.live.console.print(f"[yellow]warning:[/] {message}")
        else:
            sys.stderr.write(f"warning: {message}\n")

    def _line(self, text: str, elapsed: float | None) -> None:
        stamp = f"{time.monotonic() - self.t0:7.1f}s"
        sys.stderr.write(f"[{stamp}] {text}" + (f" ({elapsed:.1f}s)" if elapsed else "") + "\n")
        sys.stderr.flush()

    def _table(self) -> Any:
        from rich.table import Table

        table = Table(show_edge=False, box=None, pad_edge=False)
        for col in ("", "phase", "state", "elapsed", "message"):
            table.add_column(col, no_wrap=col != "message", overflow="fold")
        now = time.monotonic()
        for name, row in self.rows.items():
            state = row["state"]
            elapsed = row["elapsed"]
            if state in BUSY and row["started"] is not None:
                elapsed = now - row["started"]
            style = STYLES.get(state, "")
            table.add_row(ICONS.get(state, " "), name, f"[{style}]{state}[/]" if style else state,
                          f"{elapsed:.1f}s" if elapsed else "", row["message"][:160])
        return table


def print_summary(options: GlobalOptions, summary: Any) -> None:
    """The final word: JSON object on stdout, or a per-phase recap on stderr."""
    if options.json:
        print_json(summary.to_dict())
        return
    from rich.console import Console
    from rich.table import Table

    from kfboot.cli.context import console_width

    console = Console(stderr=True, highlight=False, width=console_width())
    table = Table(title=f"kfboot {summary.operation}", show_edge=False, box=None)
    for col in ("", "phase", "outcome", "action", "duration", "detail"):
        table.add_column(col, overflow="fold")
    for o in summary.outcomes:
        style = STYLES.get(o.state, "")
        table.add_row(ICONS.get(o.state, " "), o.phase, f"[{style}]{o.state}[/]" if style else o.state,
                      o.action, f"{o.duration:.1f}s" if o.duration else "", o.message or o.reason)
    console.print(table)
    verdict = "done" if summary.ok else f"failed (exit {summary.exit_code})"
    extra = f" — {summary.message}" if summary.message else ""
    console.print(f"{verdict} in {summary.elapsed:.1f}s; {summary.requests} API requests, "
                  f"{summary.writes} writes{extra}", markup=False)
    if summary.hint:
        console.print(f"hint: {summary.hint}", markup=False, highlight=False)
