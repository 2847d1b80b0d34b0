"""The Platform config (kfboot.yaml): which components, which versions, which values, which GPUs.

Strict pydantic models (unknown keys are errors with their file position) generate the JSON Schema
that `kfboot schema` prints for editors.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, PrivateAttr, Strict, field_validator, model_validator

from kfboot.gpu.config import GpuConfig
from kfboot.yaml_positions import StrictModel

if TYPE_CHECKING:
    from kfboot.config.catalog import Catalog
    from kfboot.gpu.plan import GpuPlan

API_VERSION = "kfboot.io/v1alpha1"
KUBEFLOW_APPS = (
    "pipelines", "katib", "central-dashboard", "admission-webhook", "notebooks", "profiles", "pvcviewer",
    "volumes-web-app", "tensorboards", "trainer", "user-namespace",
)
KubeflowApp = Literal[
    "pipelines", "katib", "central-dashboard", "admission-webhook", "notebooks", "profiles", "pvcviewer",
    "volumes-web-app", "tensorboards", "trainer", "user-namespace",
]


class HelmComponent(StrictModel):
    """A component installed from a Helm chart."""

    enabled: bool = Field(default=True, description="Install this component.")
    external: bool = Field(
        default=False,
        description="Installed outside kfboot (e.g. a managed cert-manager): kfboot installs nothing of it and "
                    "checks before install that it is there, so components that need it may be enabled.")
    version: str | None = Field(default=None, description="Chart version; default: the catalog's pinned version.")
    values: dict[str, Any] = Field(default_factory=dict, description="Helm values merged over kfboot's defaults.")


class ManifestComponent(StrictModel):
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


# Kubernetes names (apimachinery validation): an object name is a DNS subdomain, a namespace a DNS label.
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
SECRET_KEY = r"^[-._a-zA-Z0-9]{1,253}$"
# One rule for `install.timeout` and `--timeout`: whole seconds make sense from 1 s to a day.
MIN_TIMEOUT, MAX_TIMEOUT = 1, 86_400
StrictInt = Annotated[int, Strict()]  # YAML `true` is not 1


class DexPasswordSecret(StrictModel):
    """An existing Secret holding the initial user's password (plaintext, or a bcrypt hash)."""

    name: str = Field(pattern=DNS_SUBDOMAIN, max_length=253, description="Secret name.")
    namespace: str = Field(default="auth", pattern=DNS_LABEL, description="Secret namespace.")
    key: str = Field(default="password", pattern=SECRET_KEY, description="Key in the Secret's data.")


class DexInitialUser(StrictModel):
    """Dex's static user. With neither passwordHash nor passwordSecret kfboot generates a random password."""

    email: str = Field(default="user@example.com", pattern=r"^[^@\s]+@[^@\s]+$", max_length=254,
                       description="Login email.")
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
        from kfboot.config.passwords import is_bcrypt_hash, is_known_upstream_hash

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


class Components(StrictModel):
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


class InstallSettings(StrictModel):
    parallel: StrictInt = Field(default=4, ge=1, le=32, description="Phases that may run at the same time.")
    timeout: float = Field(default=900, ge=MIN_TIMEOUT, le=MAX_TIMEOUT, allow_inf_nan=False,
                           description=f"Seconds each phase may take to become ready ({MIN_TIMEOUT} to {MAX_TIMEOUT}).")


class Metadata(StrictModel):
    name: str = Field(default="kfboot", pattern=DNS_LABEL, description="A DNS label (≤ 63 characters).")


class Platform(StrictModel):
    """An AI/ML platform on one Kubernetes cluster."""

    api_version: Literal["kfboot.io/v1alpha1"] = Field(default=API_VERSION, alias="apiVersion")
    kind: Literal["Platform"] = "Platform"
    metadata: Metadata = Field(default_factory=Metadata)
    components: Components = Field(default_factory=Components)
    gpu: GpuConfig = Field(default_factory=GpuConfig)
    install: InstallSettings = Field(default_factory=InstallSettings)
    _gpu_plans: dict[tuple[str, ...], Any] = PrivateAttr(default_factory=dict)

    def gpu_plan(self, extra_profile_dirs: Sequence[Path] = (), *, strict: bool = True) -> GpuPlan:
        """The GPU sharing plan, built once per set of profile directories (the one validation path).

        `strict` raises ConfigError when the plan has problems (without file positions: `load_platform`
        reports them with positions first, so a loaded config never gets here with problems).
        """
        from kfboot.errors import ConfigError
        from kfboot.gpu.plan import build_plan
        from kfboot.gpu.profiles import load_profiles

        dirs = [d for d in (self.gpu.profiles_dir, *extra_profile_dirs) if d]
        key = tuple(str(d) for d in dirs)
        if key not in self._gpu_plans:
            self._gpu_plans[key] = build_plan(self.gpu, load_profiles(dirs))
        plan: GpuPlan = self._gpu_plans[key]
        if strict and not plan.ok:
            raise ConfigError(plan.problems, hint="check the gpu section: `kfboot render mig -f FILE` shows each "
                                                  "problem with its position")
        return plan


def default_platform() -> Platform:
    """The embedded default: all seven components at their pinned versions, no GPU sharing."""
    return Platform()


def load_platform(path: Path | None, extra_profile_dirs: Sequence[Path] = ()) -> Platform:
    """The Platform in `path`, or the embedded default when no file is given.

    Every problem is reported at once as `file:line:col: path: message`: schema errors, versions the
    catalog does not pin, and GPU pools that do not fit their hardware (from the one GPU plan, which
    the platform keeps for the phases).
    """
    if path is None:
        return default_platform()
    from kfboot.errors import ConfigError
    from kfboot.yaml_positions import read_yaml_file, validate

    doc = read_yaml_file(path)
    platform = validate(doc, Platform)
    located: list[tuple[tuple[str | int, ...], str]] = [
        (parse_dotted(dotted), f"{dotted}: {message}") for dotted, message in check_platform(platform)]
    if platform.gpu.pools:
        plan = platform.gpu_plan(extra_profile_dirs, strict=False)
        located += [(problem.path, str(problem)) for problem in plan.located_problems]
    problems = []
    for where, text in located:
        line, col = doc.position(where)
        problems.append(f"{doc.source}:{line}:{col}: {text}")
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
    """Cross-field checks against the catalog: (dotted path, message). GPU pools: `Platform.gpu_plan`."""
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


def platform_schema() -> dict[str, Any]:
    return Platform.model_json_schema(by_alias=True)
