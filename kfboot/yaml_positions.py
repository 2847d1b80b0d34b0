"""Load YAML keeping line/column of every node, and turn pydantic errors into `file:line:col: path: msg`.

Users edit kfboot.yaml and profiles by hand; an error must point at the exact spot to fix. The
models of such files derive from `StrictModel`: an unknown (misspelt) key is an error, not ignored.
A small shared utility below config/, gpu/ and sources/, importing nothing of kfboot but errors.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ConfigDict

from kfboot.errors import ConfigError

if TYPE_CHECKING:
    from pydantic import ValidationError

M = TypeVar("M", bound="BaseModel")


class StrictModel(BaseModel):
    """Unknown keys are errors; fields may be given by their YAML alias or their Python name."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Located:
    """A YAML document plus a way to find where a path (tuple of keys/indexes) was written."""

    def __init__(self, source: str, data: Any) -> None:
        self.source = source
        self.data = data

    def position(self, path: tuple[Any, ...]) -> tuple[int, int]:
        """1-based (line, col) of the deepest node of `path` that exists in the document."""
        node = self.data
        line, col = 1, 1
        for key in path:
            lc = getattr(node, "lc", None)
            try:
                if isinstance(node, dict) and key in node:
                    if lc is not None:
                        line, col = lc.key(key)
                        line, col = line + 1, col + 1
                    node = node[key]
                elif isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node):
                    if lc is not None:
                        line, col = lc.item(key)
                        line, col = line + 1, col + 1
                    node = node[key]
                else:
                    break
            except (KeyError, IndexError, TypeError):
                break
        return line, col


def plain(data: Any) -> Any:
    """Convert ruamel containers to plain dict/list (pydantic and json prefer them)."""
    if isinstance(data, dict):
        return {str(k) if not isinstance(k, (int, float, bool)) else k: plain(v) for k, v in data.items()}
    if isinstance(data, list):
        return [plain(v) for v in data]
    return data


def load_yaml(text: str, source: str) -> Located:
    """Parse one YAML document with positions; syntax errors become ConfigError with a position."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError

    yaml = YAML(typ="rt")
    try:
        data = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        raise ConfigError([f"{where}: invalid YAML: {exc.problem or exc.context}"]) from None
    except Exception as exc:  # ruamel raises assorted errors for odd input (tabs, bad bytes)
        raise ConfigError([f"{source}: invalid YAML: {exc}"]) from None
    return Located(source, data)


# Plain scalars that YAML 1.1 (libyaml) and YAML 1.2 (ruamel, kfboot's reading) resolve differently:
# yes/no/on/off/y/n booleans, 0-prefixed octals, 0b binaries, sexagesimals (1:30), 1_000, the `=` and
# `<<` keys. A document holding any of them (or anything like them) takes the slow, exact path.
_YAML11_ONLY = re.compile(
    r"(?im)(?:^|[\s:\[{,-])(?:y|n|yes|no|on|off)\s*(?:$|[:,\]}#])"
    r"|(?:^|[\s:\[{,-])[-+]?0[0-7_]+\s*(?:$|[,\]}#])"
    r"|(?:^|[\s:\[{,-])[-+]?0b[01_]+"
    r"|\d[\d_]*:[0-5]?\d(?:\.\d*)?\s*(?:$|[,\]}#])"
    r"|\d_\d|(?:^|\s)(?:=|<<)\s*:")


def fast_plain(text: str) -> Any | None:
    """The document as plain data parsed by libyaml (~15x faster than ruamel), or None when libyaml is
    absent or the text has a scalar YAML 1.1 reads differently from YAML 1.2: then use `load_yaml`."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", None)
    if loader is None or _YAML11_ONLY.search(text):
        return None
    try:
        return yaml.load(text, Loader=loader)
    except yaml.YAMLError:
        return None  # the slow path reports it, with its position


def read_yaml_file(path: Path) -> Located:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read: {exc}"]) from None
    return load_yaml(text, str(path))


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def format_errors(doc: Located, error: ValidationError) -> list[str]:
    """One `file:line:col: path: message` line per pydantic error, in document order."""
    lines: list[tuple[int, int, str]] = []
    for err in error.errors(include_url=False):
        # pydantic appends union/validator tags (e.g. 'function-after[...]') to loc; keep real keys
        loc = tuple(p for p in err["loc"] if isinstance(p, int) or not str(p).endswith("]"))
        line, col = doc.position(loc)
        msg = err["msg"]
        if err["type"] == "value_error":
            msg = msg.removeprefix("Value error, ")  # our own validators' words, without pydantic's tag
        if err["type"] == "extra_forbidden":
            msg = "unknown key (not allowed here; check spelling or `kfboot schema`)"
        elif err["type"] == "missing":
            msg = "required key is missing"
        lines.append((line, col, f"{doc.source}:{line}:{col}: {_dotted(loc)}: {msg}"))
    lines.sort(key=lambda t: (t[0], t[1]))
    return [text for _, _, text in lines]


def validate(doc: Located, model: type[M]) -> M:
    """Validate a located document against a pydantic model, raising ConfigError with positions."""
    from pydantic import ValidationError

    data = plain(doc.data)
    if data is None:
        data = {}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_errors(doc, exc)) from None

