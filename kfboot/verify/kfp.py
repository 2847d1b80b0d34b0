"""Kubeflow Pipelines v2 through its REST API (`/pipeline/apis/v2beta1/…` behind the gateway).

The machine-to-machine path upstream CI tests: a Kubernetes ServiceAccount token as
`Authorization: Bearer …` (oauth2-proxy accepts it when the cluster's service-account issuer is
trusted), an experiment in the profile namespace, a run whose `pipeline_spec` is inlined (the
compiled IR of a one-step container pipeline, no SDK needed), polled until a final state.
"""

from __future__ import annotations

from typing import Any

from kfboot.verify.http import HttpSession, Response

API = "/pipeline/apis/v2beta1"
FINAL_STATES = ("SUCCEEDED", "FAILED", "SKIPPED", "CANCELED", "CANCELING")


class KfpError(Exception):
    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def one_step_pipeline(name: str, image: str, message: str) -> dict[str, Any]:
    """The IR (schemaVersion 2.1.0) of a pipeline with one container task that echoes `message`."""
    return {
        "pipelineInfo": {"name": name},
        "schemaVersion": "2.1.0",
        "sdkVersion": "kfp-2.13.0",
        "components": {"comp-say": {"executorLabel": "exec-say"}},
        "deploymentSpec": {"executors": {"exec-say": {"container": {
            "image": image, "command": ["echo"], "args": [message]}}}},
        "root": {"dag": {"tasks": {"say": {
            "componentRef": {"name": "comp-say"},
            "taskInfo": {"name": "say"},
            "cachingOptions": {"enableCache": False},
        }}}},
    }


class KfpClient:
    def __init__(self, session: HttpSession, token: str) -> None:
        self.session = session
        self.auth = {"Authorization": f"Bearer {token}"}

    def _check(self, resp: Response, what: str) -> Any:
        if resp.status != 200:
            detail = resp.text.strip().replace("\n", " ")[:300]
            raise KfpError(f"{what}: HTTP {resp.status}" + (f": {detail}" if detail else ""), resp.status)
        return resp.json()

    def list_runs(self, namespace: str) -> Any:
        resp = self.session.get(f"{API}/runs?namespace={namespace}&page_size=1", headers=self.auth, follow=False)
        return self._check(resp, f"listing runs in {namespace}")

    def create_experiment(self, name: str, namespace: str) -> str:
        resp = self.session.post_json(f"{API}/experiments", {"display_name": name, "namespace": namespace},
                                      headers=self.auth)
        return str(self._check(resp, f"creating experiment {name} in {namespace}")["experiment_id"])

    def create_run(self, name: str, experiment_id: str, pipeline_spec: dict[str, Any]) -> dict[str, Any]:
        body = {"display_name": name, "experiment_id": experiment_id, "pipeline_spec": pipeline_spec,
                "runtime_config": {"parameters": {}}}
        result: dict[str, Any] = self._check(self.session.post_json(f"{API}/runs", body, headers=self.auth),
                                             f"creating run {name}")
        return result

    def get_run(self, run_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._check(self.session.get(f"{API}/runs/{run_id}", headers=self.auth,
                                                              follow=False), f"reading run {run_id}")
        return result

    def delete_experiment(self, experiment_id: str) -> None:
        self.session.request("DELETE", f"{API}/experiments/{experiment_id}", headers=self.auth, follow=False)


def run_error(run: dict[str, Any]) -> str:
    err = run.get("error") or {}
    return str(err.get("message") or "")
