"""Redaction of the support archive and of findings: plant secrets in every format, assert none survives."""

from __future__ import annotations

import json

import pytest

from kfboot.doctor.redact import MARK, redact_obj, redact_text

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ.U2lnbmF0dXJlUGxhbnRlZA"
PLANT = "Pl4nted-S3cret-Value"


@pytest.mark.parametrize("text", [
    f"Authorization: Bearer {PLANT}",
    f"curl -H 'Authorization: Basic {PLANT}' https://x",
    f"token: {PLANT}",
    f"    client-key-data: {PLANT}",
    f"password={PLANT}&user=x",
    f'{{"access_token": "{PLANT}", "ok": 1}}',
    f"export AWS_SECRET_ACCESS_KEY={PLANT}",
    f"--client-secret={PLANT}",
    f"postgres://kubeflow:{PLANT}@mysql.kubeflow.svc:3306/db",
    f"-----BEGIN RSA PRIVATE KEY-----\nMIIE{PLANT}\n-----END RSA PRIVATE KEY-----",
])
def test_secret_values_in_text_are_redacted(text: str) -> None:
    out = redact_text(text)
    assert PLANT not in out and MARK in out


@pytest.mark.parametrize("token", [JWT, "ghp_" + "A1" * 18, "hf_" + "x9" * 15, "AKIAIOSFODNN7EXAMPLE",
                                   "xoxb-1234567890-abcdefghij", "sk-" + "k" * 30])
def test_well_known_token_formats_are_redacted_anywhere(token: str) -> None:
    assert token not in redact_text(f"starting with {token} in the middle of a log line")


def test_ordinary_log_lines_are_kept() -> None:
    line = ("RuntimeError: NCCL error: unhandled cuda error (run with NCCL_DEBUG=INFO for details); "
            'failed calling webhook "webhook.cert-manager.io": connect: connection refused')
    assert redact_text(line) == line


def test_objects_lose_secret_data_env_values_and_last_applied() -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
              "data": {"password": "aGlkZGVu"}, "stringData": {"token": PLANT}}
    pod = {"kind": "Pod", "metadata": {"name": "p", "annotations": {
        "kubectl.kubernetes.io/last-applied-configuration": json.dumps({"env": PLANT}), "keep": "me"}},
        "spec": {"containers": [{"env": [{"name": "HF_TOKEN", "value": PLANT}, {"name": "LOG_LEVEL", "value": "info"},
                                         {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db"}}}]}]}}
    dumped = json.dumps(redact_obj([secret, pod]))
    assert PLANT not in dumped and "aGlkZGVu" not in dumped
    assert '"LOG_LEVEL", "value": "info"' in dumped and '"keep": "me"' in dumped and '"name": "db"' in dumped
