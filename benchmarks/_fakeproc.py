"""Run tests.fakekube.FakeKube in its own process, so the client under test does not share its GIL.

    python benchmarks/_fakeproc.py --kubeconfig PATH [--latency S] [--controllers] [--keep-nagle]

Prints `READY <url>` once serving, then answers one command per stdin line with one JSON line:
`reset` (clear the request log), `stats` (requests, writes, by method, bench objects stored),
`latency S` (change the injected latency). Exits on EOF or `quit`. Used by bench_apply.py for both
kfboot and kubectl, and with `--real-render` by the real-render benchmarks: controllers on, the
real-render test's timings (CRDs Established after 1 s, cainjector 0.5 s, profile finalizers 3 s),
the one Node of a kind cluster, context `--context`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import fix_fake_nagle

from tests.fakekube import FakeKube

LABEL = ("app.kubernetes.io/part-of", "kfboot-bench")
KINDS = ("ConfigMap", "Secret", "ServiceAccount", "Service")


def stored(fk: FakeKube, namespace: str) -> int:
    count = sum(1 for k in KINDS for o in fk.list("v1", k, namespace)
                if (o["metadata"].get("labels") or {}).get(LABEL[0]) == LABEL[1])
    return count + (1 if fk.get("v1", "Namespace", namespace) else 0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kubeconfig", required=True)
    ap.add_argument("--latency", type=float, default=0.0)
    ap.add_argument("--controllers", action="store_true", help="keep the fake's controller loop running")
    ap.add_argument("--keep-nagle", action="store_true")
    ap.add_argument("--namespace", default="bench")
    ap.add_argument("--real-render", action="store_true", help="the real-render test's cluster (controllers on)")
    ap.add_argument("--context", default="kind-fake")
    args = ap.parse_args()
    fix_fake_nagle(not args.keep_nagle)
    with FakeKube(seed=0, ready_delay=0.0) as fk:
        if args.real_render:
            from tests import realrender

            fk.ready_delay = 0.05
            fk.crd_establish_delay = 1.0
            fk.cainjector_delay = 0.5
            fk.finalizer_delay = 3.0
            for node in realrender.kind_nodes():
                fk.put(node)
        elif not args.controllers:
            fk.controllers.stop()
        fk.write_kubeconfig(args.kubeconfig, context=args.context)
        fk.latency = args.latency
        fk.reset_requests()
        print(f"READY {fk.url}", flush=True)
        for line in sys.stdin:
            cmd = line.strip()
            if cmd == "quit":
                break
            if cmd == "reset":
                fk.reset_requests()
                out = {"ok": True}
            elif cmd.startswith("latency "):
                fk.latency = float(cmd.split()[1])
                out = {"ok": True}
            elif cmd.startswith("dump "):  # the request log, one JSON line per request, into a file
                with open(cmd.split(maxsplit=1)[1], "w", encoding="utf-8") as f:
                    for r in fk.requests:
                        f.write(json.dumps({"method": r.method, "verb": r.verb, "path": r.path,
                                            "query": r.query, "status": r.status}) + "\n")
                out = {"ok": True}
            elif cmd == "stats":
                reqs = fk.requests
                out = {"requests": len(reqs), "writes": fk.write_count(),
                       "by_method": dict(Counter(r.method for r in reqs)),
                       "stored": stored(fk, args.namespace)}
            else:
                out = {"error": f"unknown command {cmd!r}"}
            print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
