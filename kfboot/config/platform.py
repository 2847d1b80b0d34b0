"""The Platform config (kfboot.yaml): which components, which versions, which values, which GPUs.

Strict pydantic models (unknown keys are errors with their file position) generate the JSON Schema
that `kfboot schema` prints for editors.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kfboot.gpu.config import GpuConfig

if TYPE_CHECKING:
    from kfboot.config.catalog import Catalog

API_VERSION = "kfboot.io/v1alpha1"
KUBEFLOW_APPS = (
    "pipelines", "katib", "central-dashboard", "admission-webhook", "notebooks", "profiles", "pvcviewer",
    "volumes-web-app", "tensorboards", "trainer", "user-namespace",
)
KubeflowApp = Literal[
    "pipelines", "katib", "central-dashboard", "admission-webhook", "notebooks", "profiles", "pvcviewer",
    "volumes-web-app", "tensorboards", "trainer", "user-namespace",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class HelmComponent(_Strict):
    """A component installed from a Helm chart."""

    enabled: bool = Field(default=True, description="Install this component.")
    external: bool = Field(
        default=False,
        description="Installed outside kfboot (e.g. a managed cert-manager): kfboot installs nothing of it and "
                    "checks before install that it is there, so components that need it may be enabled.")
    version: str | None = Field(default=None, description="Chart version; default: the catalog's pinned version.")
    values: dict[str, Any] = Field(default_factory=dict, description="Helm values merged over kfboot's defaults.")


class ManifestComponent(_Strict):
    """A component applied from kubeflow/manifests (its version follows the manifests release)."""

    enabled: bool = Field(default=True, description="Install this component.")
    external: bool = Field(
        default=False,
        description="Installed outside kfboot (e.g. a managed cert-manager): kfboot installs nothing of it and "
                    "checks before install that it is there, so components that need it may be enabled.")


class KubeflowComponent(ManifestComponent):
    apps: list[KubeflowApp] = Field(
        default_factory=lambda: list(KUBEFLOW_APPS),
        description="Kubeflow applications to install (default: all).",
    )

    @field_validator("apps")
    @classmethod
    def _unique(cls, apps: list[str]) -> list[str]:
        dupes = sorted({a for a in apps if apps.count(a) > 1})
        if dupes:
            raise ValueError(f"listed more than once: {', '.join(dupes)}")
        return apps


class DexPasswordSecret(_Strict):
    """An existing Secret holding the initial user's password (plaintext, or a bcrypt hash)."""

    name: str = Field(description="Secret name.")
    namespace: str = Field(default="auth", description="Secret namespace.")
    key: str = Field(default="password", description="Key in the Secret's data.")


class DexInitialUser(_Strict):
    """Dex's static user. With neither passwordHash nor passwordSecret kfboot generates a random password."""

    email: str = Field(default="user@example.com", pattern=r"^[^@\s]+@[^@\s]+$", description="Login email.")
    password_hash: str | None = Field(
        default=None, alias="passwordHash",
        description="bcrypt hash of your password ($2y$12$…, e.g. from `htpasswd -nbBC 12 '' PASSWORD | cut -c2-`); "
                    "kfboot never sees the password.",
    )
    password_secret: DexPasswordSecret | None = Field(
        default=None, alias="passwordSecret",
        description="Read the password (or its bcrypt hash) from this existing Secret at install time.",
    )

    @field_validator("password_hash")
    @classmethod
    def _bcrypt(cls, value: str | None) -> str | None:
        if value is None:
            return value
        from kfboot.phases.credentials import is_bcrypt_hash, is_known_upstream_hash

        if not is_bcrypt_hash(value):
            raise ValueError("not a bcrypt hash Dex accepts: expected $2a$, $2b$ or $2y$, a cost from 10 to 16 "
                             "and $, then 53 characters of [./A-Za-z0-9] (60 in all), e.g. $2y$12$…")
        if is_known_upstream_hash(value):
            raise ValueError("this hashes upstream's well-known password 12341234; choose another "
                             "(or leave passwordHash unset and kfboot generates a random password)")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> DexInitialUser:
        if self.password_hash and self.password_secret:
            raise ValueError("set passwordHash or passwordSecret, not both")
        return self


class DexComponent(ManifestComponent):
    initial_user: DexInitialUser = Field(default_factory=DexInitialUser, alias="initialUser",
                                         description="Dex's static login (never upstream's known password).")


class KServeComponent(ManifestComponent):
    deployment_mode: Literal["Serverless", "RawDeployment"] = Field(
        default="Serverless", alias="deploymentMode",
        description="Serverless installs Knative Serving; RawDeployment needs no Knative.",
    )


class Components(_Strict):
    gpu_operator: HelmComponent = Field(default_factory=HelmComponent, alias="gpu-operator")
    cert_manager: ManifestComponent = Field(default_factory=ManifestComponent, alias="cert-manager")
    istio: ManifestComponent = Field(default_factory=ManifestComponent)
    dex: DexComponent = Field(default_factory=DexComponent)
    kubeflow: KubeflowComponent = Field(default_factory=KubeflowComponent)
    kuberay: HelmComponent = Field(default_factory=HelmComponent)
    kserve: KServeComponent = Field(default_factory=KServeComponent)

    def get(self, name: str) -> ManifestComponent | HelmComponent | None:
        """The user's settings for a catalog component (None for implicit ones like kubeflow-namespace)."""
        return getattr(self, name.replace("-", "_"), None)


class InstallSettings(_Strict):
    parallel: int = Field(default=4, ge=1, le=32, description="Phases that may run at the same time.")
    timeout: float = Field(default=900, gt=0, description="Seconds each phase may take to become ready.")


class Metadata(_Strict):
    name: str = Field(default="kfboot", pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


class Platform(_Strict):
    """An AI/ML platform on one Kubernetes cluster."""

    api_version: Literal["kfboot.io/v1alpha1"] = Field(default=API_VERSION, alias="apiVersion")
    kind: Literal["Platform"] = "Platform"
    metadata: Metadata = Field(default_factory=Metadata)
    components: Components = Field(default_factory=Components)
    gpu: GpuConfig = Field(default_factory=GpuConfig)
    install: InstallSettings = Field(default_factory=InstallSettings)


def default_platform() -> Platform:
    """The embedded default: all seven components at their pinned versions, no GPU sharing."""
    return Platform()


def load_platform(path: Path | None) -> Platform:
    """The Platform in `path`, or the embedded default when no file is given."""
    if path is None:
        return default_platform()
    from kfboot.config.positions import read_yaml_file, validate
    from kfboot.errors import ConfigError

    doc = read_yaml_file(path)
    platform = validate(doc, Platform)
    problems = []
    for dotted, message in check_platform(platform):
        line, col = doc.position(parse_dotted(dotted))
        problems.append(f"{path}:{line}:{col}: {dotted}: {message}")
    if problems:
        raise ConfigError(problems)
    return platform


def parse_dotted(dotted: str) -> tuple[str | int, ...]:
    """`gpu.pools[0].sharing` → ("gpu", "pools", 0, "sharing"), to find a position in the file."""
    import re

    out: list[str | int] = []
    for part in dotted.split("."):
        m = re.fullmatch(r"([^\[]*)((?:\[\d+\])*)", part)
        if not m:
            out.append(part)
            continue
        if m.group(1):
            out.append(m.group(1))
        out.extend(int(i) for i in re.findall(r"\[(\d+)\]", m.group(2)))
    return tuple(out)


def check_platform(platform: Platform) -> list[tuple[str, str]]:
    """Cross-field checks needing the catalog or the hardware profiles: (dotted path, message)."""
    from kfboot.config.catalog import load_catalog

    catalog = load_catalog()
    problems: list[tuple[str, str]] = []
    for name, entry in catalog.components.items():
        comp = platform.components.get(name)
        if isinstance(comp, HelmComponent) and comp.version and entry.helm and comp.version not in entry.helm.versions:
            problems.append((
                f"components.{name}.version",
                f"{comp.version} is not a version kfboot has pinned (choose one of {', '.join(entry.helm.versions)})",
            ))
    problems.extend(dependency_problems(platform, catalog))
    problems.extend(gpu_problems(platform))
    return problems


def installs(platform: Platform, catalog: Catalog, name: str) -> bool:
    """Whether kfboot installs the component: enabled and not external (implicit ones: with any of
    `enabledWith`)."""
    comp = platform.components.get(name)
    if comp is not None:
        return bool(comp.enabled) and not comp.external
    entry = catalog.components[name]
    return any(installs(platform, catalog, other) for other in entry.enabled_with)


def dependency_problems(platform: Platform, catalog: Catalog) -> list[tuple[str, str]]:
    """An installed component that needs one kfboot does not install and that is not `external`:
    caught here, before anything is written (else ~300 objects go in, then `no kind "Certificate"`)."""
    missing: dict[str, list[str]] = {}
    for name, entry in catalog.components.items():
        if not installs(platform, catalog, name):
            continue
        for need in entry.needs:
            comp = platform.components.get(need)
            if installs(platform, catalog, need) or (comp is not None and comp.external):
                continue
            implicit = platform.components.get(name) is None
            missing.setdefault(need, []).append(
                f"{name} (installed with {', '.join(entry.enabled_with)})" if implicit else name)
    problems = []
    for need in catalog.components:
        if need in missing:
            who = missing[need]
            problems.append((f"components.{need}.enabled",
                             f"{need} is disabled, but {', '.join(who)} need{'s' if len(who) == 1 else ''} it: "
                             f"enable it, or set `external: true` if it is installed outside kfboot"))
    return problems


def gpu_problems(platform: Platform) -> list[tuple[str, str]]:
    if not platform.gpu.pools:
        return []
    from kfboot.gpu.config import check_gpu_config
    from kfboot.gpu.profiles import load_profiles

    profiles = load_profiles([platform.gpu.profiles_dir] if platform.gpu.profiles_dir else [])
    out = []
    for message in check_gpu_config(platform.gpu, profiles):
        dotted, sep, rest = message.partition(": ")
        out.append((dotted, rest) if sep else ("gpu", message))
    return out


def platform_schema() -> dict[str, Any]:
    return Platform.model_json_schema(by_alias=True)
