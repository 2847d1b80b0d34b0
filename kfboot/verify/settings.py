"""Images, sample model and names the checks use: defaults from the catalog, overridable per run.

The default images are listed in the catalog (`verify.images`), so `kfboot bundle` puts them in the
bundle's image list and an air-gapped registry can mirror them. The sklearn model is a KServe
storage URI: `gs://…` (upstream's sample, needs internet), `pvc://CLAIM/PATH` or `oci://IMAGE`
(a modelcar image) for clusters without internet.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kfboot.errors import UsageError

MODEL_SCHEMES = ("gs://", "s3://", "pvc://", "oci://", "http://", "https://", "hf://")
VERIFY_NAMESPACE = "kfboot-verify"
PROFILE_NAME = "kfboot-verify-profile"
FALLBACK_OWNER = "kfboot-verify@example.com"


def default_images() -> dict[str, str]:
    from kfboot.config.catalog import load_catalog

    return dict(load_catalog().verify.images)


def default_model_uri() -> str:
    from kfboot.config.catalog import load_catalog

    return load_catalog().verify.sklearn_model


@dataclass(frozen=True)
class VerifySettings:
    images: dict[str, str] = field(default_factory=default_images)
    model_uri: str = field(default_factory=default_model_uri)
    keep: bool = False
    no_gpu: bool = False
    kserve_mode: str = "Serverless"  # the platform's choice: Serverless | RawDeployment
    kubeflow_apps: tuple[str, ...] = ()
    namespace: str = VERIFY_NAMESPACE
    profile: str = PROFILE_NAME
    timeout_scale: float = 1.0

    def image(self, key: str) -> str:
        return self.images[key]


def parse_image_overrides(values: list[str], known: dict[str, str]) -> dict[str, str]:
    """`--image KEY=REF` (repeatable) over the defaults; unknown keys are usage errors."""
    images = dict(known)
    for value in values:
        key, sep, ref = value.partition("=")
        if not sep or not ref.strip():
            raise UsageError(f"--image {value}: expected KEY=IMAGE", hint=f"keys: {', '.join(sorted(known))}")
        if key not in known:
            raise UsageError(f"--image {value}: unknown key {key!r}", hint=f"keys: {', '.join(sorted(known))}")
        images[key] = ref.strip()
    return images


def check_model_uri(uri: str) -> str:
    if not uri.startswith(MODEL_SCHEMES):
        raise UsageError(f"--model-uri {uri}: not a storage URI KServe reads",
                         hint="use pvc://CLAIM/PATH or oci://IMAGE without internet; gs://, s3://, https:// with it")
    return uri
