"""Faults: does a full install of the real 26.03 render converge when the API server misbehaves, and at what cost?

1. Transient API failures: the default platform (9 phases, the real kubeflow/manifests render and the
   real charts' objects, as tests/realrender.py packs them) is installed by the real CLI (a subprocess)
   against the in-process fake API server, with the given share of requests answered by a transient
   failure (seeded; 503/500, 429 with Retry-After, dropped connections: tests/fakekube/faults.py).
   Converged = that install exits 0 with every phase ready; the overhead is its wall time over the
   fault-free one. A run that does not converge is re-run without faults and must converge.
2. SIGKILL at a seeded random point of the fault-free install, then a re-run: converged = the re-run
   exits 0 with every phase ready (taking over the dead run's lock), and the run after that writes nothing.

Runs from the repo root after `scripts/setup --dev`, beside ../shared/upstream (several minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks._common import emit_json, fix_fake_nagle, machine  # noqa: E402
from tests import realrender  # noqa: E402
from tests.fakekube import FakeKube, Fault  # noqa: E402

HELM = REPO / ".venv" / "tools" / "helm-v3.19.0" / "helm"
CONTEXT = "lab"  # not kind-*: the GPU Operator phase is installed too


def storm(fk: FakeKube, rate: float) -> list[Any]:
    """`rate` of requests fail transiently: 5xx on reads and writes, some 429s and dropped connections."""
    if rate <= 0:
        return []
    return [fk.inject(Fault(verbs=("GET", "LIST"), error_rate=rate * 0.8, status=503, drop_rate=rate * 0.2)),
            fk.inject(Fault(verbs=("PATCH", "POST", "PUT", "DELETE"), error_rate=rate * 0.6, status=500,
                            drop_rate=rate * 0.2)),
            fk.inject(Fault(verbs=("PATCH", "POST"), error_rate=rate * 0.2, status=429, retry_after=0))]


def prepare(fk: FakeKube) -> None:
    fk.ready_delay = 0.05
    fk.crd_establish_delay = 1.0
    fk.cainjector_delay = 0.5
    fk.finalizer_delay = 3.0
    for node in realrender.kind_nodes():
        fk.put(node)


def kfboot(kubeconfig: Path, bundle: Path, home: Path) -> list[str]:
    return [sys.executable, "-m", "kfboot", "--kubeconfig", str(kubeconfig), "--context", CONTEXT, "--yes",
            "-o", "json", "--timeout", "300", "install", "--bundle", str(bundle)]


def env(home: Path) -> dict[str, str]:
    out = {**os.environ, "CI": "true", "PYTHONPATH": str(REPO), "KFBOOT_HELM": str(HELM),
           "KFBOOT_CACHE_DIR": str(home / "cache")}
    for var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        out[var] = str(home / var.lower())
    return out


def summary_of(stdout: str) -> dict[str, Any]:
    lines = [ln for ln in stdout.splitlines() if ln.startswith("{")]
    return json.loads(lines[-1]) if lines else {}


def all_ready(summary: dict[str, Any]) -> bool:
    phases = summary.get("phases") or []
    return bool(phases) and all(p["state"] in ("ready", "up-to-date") for p in phases)


def install(cmd: list[str], environ: dict[str, str], cwd: Path) -> tuple[int, dict[str, Any], float, str]:
    started = time.monotonic()
    proc = subprocess.run(cmd, env=environ, cwd=cwd, capture_output=True, text=True, timeout=900)
    return proc.returncode, summary_of(proc.stdout), time.monotonic() - started, proc.stderr[-500:]


def fault_run(bundle: Path, rate: float, seed: int, work: Path) -> dict[str, Any]:
    home = work / f"rate-{rate}-seed-{seed}"
    home.mkdir()
    with FakeKube(seed=seed) as fk:
        prepare(fk)
        kubeconfig = fk.write_kubeconfig(home / "kubeconfig", context=CONTEXT)
        handles = storm(fk, rate)
        cmd, environ = kfboot(kubeconfig, bundle, home), env(home)
        code, summary, wall, err = install(cmd, environ, home)
        fired = sum(h.fired for h in handles)
        converged = code == 0 and all_ready(summary)
        row: dict[str, Any] = {"rate": rate, "seed": seed, "exit": code, "converged": converged,
                               "wall_s": round(wall, 1), "requests": summary.get("requests"),
                               "injected": fired}
        if not converged:
            fk.clear_faults()
            code2, summary2, wall2, _err2 = install(cmd, environ, home)
            row["rerun_converged"] = code2 == 0 and all_ready(summary2)
            row["rerun_wall_s"] = round(wall2, 1)
            row["why"] = [f"{p['phase']}: {p.get('message', '')[:160]}" for p in summary.get("phases") or []
                          if p["state"] not in ("ready", "up-to-date")] or err[-300:]
        return row


def kill_run(bundle: Path, seed: int, clean_wall: float, work: Path) -> dict[str, Any]:
    home = work / f"kill-{seed}"
    home.mkdir()
    delay = random.Random(seed).uniform(1.0, max(2.0, clean_wall * 0.9))
    with FakeKube(seed=seed) as fk:
        prepare(fk)
        kubeconfig = fk.write_kubeconfig(home / "kubeconfig", context=CONTEXT)
        cmd, environ = kfboot(kubeconfig, bundle, home), env(home)
        proc = subprocess.Popen(cmd, env=environ, cwd=home, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate()
        states = [json.loads(ln) for ln in out.splitlines() if ln.startswith("{")]
        at = sorted({f"{e['phase']}:{e['state']}" for e in states if e.get("event") == "phase"})[-3:]
        code, summary, wall, _err = install(cmd, environ, home)
        fk.reset_requests()
        code3, _summary3, _, _ = install(cmd, environ, home)
        return {"seed": seed, "killed_after_s": round(delay, 1), "last_events": at, "rerun_exit": code,
                "rerun_converged": code == 0 and all_ready(summary), "rerun_wall_s": round(wall, 1),
                "then_writes": fk.write_count(), "then_exit": code3}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="0,0.05,0.10,0.20")
    parser.add_argument("--seeds", type=int, default=1, help="seeds per fault rate")
    parser.add_argument("--kills", type=int, default=3, help="SIGKILL runs (seeds 1..N)")
    args = parser.parse_args()
    if not realrender.available():
        sys.exit("the upstream render is not beside the repo (../shared/upstream)")
    fix_fake_nagle()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="kfboot-faults-") as tmp:
        work = Path(tmp)
        bundle = realrender.real_bundle(work / "bundle", str(HELM))
        for rate in (float(r) for r in args.rates.split(",")):
            for seed in range(1, args.seeds + 1):
                row = fault_run(bundle, rate, seed, work)
                rows.append(row)
                print(json.dumps(row), flush=True)
        clean = [r["wall_s"] for r in rows if r["rate"] == 0 and r["converged"]] or [60.0]
        base = sum(clean) / len(clean)
        kills = []
        for seed in range(1, args.kills + 1):
            k = kill_run(bundle, seed, base, work)
            kills.append(k)
            print(json.dumps(k), flush=True)
    by_rate: dict[str, Any] = {}
    for rate in sorted({r["rate"] for r in rows}):
        mine = [r for r in rows if r["rate"] == rate]
        ok = [r for r in mine if r["converged"]]
        by_rate[f"{rate:.0%}"] = {
            "converged": f"{len(ok)}/{len(mine)}",
            "wall_s": round(sum(r["wall_s"] for r in mine) / len(mine), 1),
            "overhead": round(sum(r["wall_s"] for r in mine) / len(mine) / base, 2),
            "rerun_converged": all(r.get("rerun_converged", True) for r in mine),
        }
    emit_json("faults", {"transient": by_rate, "kill_rerun_converged": f"{sum(k['rerun_converged'] for k in kills)}/"
                                                                       f"{len(kills)}",
                         "kill_then_writes": [k["then_writes"] for k in kills], "machine": machine()})


if __name__ == "__main__":
    main()
