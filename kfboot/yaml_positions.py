"""Load YAML keeping line/column of every node, and turn pydantic errors into `file:line:col: path: msg`.

Users edit kfboot.yaml and profiles by hand; an error must point at the exact spot to fix. The
models of such files derive from `StrictModel`: an unknown (misspelt) key is an error, not ignored.
A small shared utility below config/, gpu/ and sources/, importing nothing of kfboot but errors.

Input is bounded before it is built: file size, nesting depth, alias count and the size the document
would have once its aliases are expanded (a "billion laughs" is refused at the alias that crosses the
limit, in milliseconds). User text quoted in messages is escaped so every problem stays one line.
"""

from __future__ import annotations

import re
import sys
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


# Limits of a hand-written config or profile (kfboot's own largest is a few KiB).
MAX_FILE_BYTES = 1 << 20  # 1 MiB
MAX_DEPTH = 64  # nested mappings/sequences
MAX_ALIASES = 100  # `*name` references
MAX_NODES = 100_000  # nodes once every alias is expanded
STDIN = "-"  # `-f -`: read the document from standard input


def escape(text: object) -> str:
    """User text for a one-line message: control characters (newlines included) as escapes."""
    value = str(text)
    if value.isprintable():
        return value
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in value)


def _bounded(text: str, source: str) -> None:
    """Walk the parser's events (iterative, no tree built) and refuse documents past the limits."""
    from ruamel.yaml import YAML
    from ruamel.yaml.events import AliasEvent, CollectionEndEvent, CollectionStartEvent, ScalarEvent

    sizes: dict[str, int] = {}  # anchor -> nodes it stands for (expanded)
    stack: list[tuple[str | None, int]] = [(None, 0)]  # open collections: (anchor, nodes so far)
    aliases = 0

    def refuse(event: Any, what: str) -> None:
        mark = event.start_mark
        raise ConfigError([f"{source}:{mark.line + 1}:{mark.column + 1}: {what}"],
                          hint="kfboot configs and profiles are small, plain YAML; write the values out")

    for event in YAML(typ="rt").parse(text):
        if isinstance(event, CollectionStartEvent):
            stack.append((event.anchor, 0))
            if len(stack) - 1 > MAX_DEPTH:
                refuse(event, f"nested deeper than {MAX_DEPTH} levels")
        elif isinstance(event, CollectionEndEvent) and len(stack) > 1:
            anchor, size = stack.pop()
            if anchor:
                sizes[anchor] = size + 1
            stack[-1] = (stack[-1][0], stack[-1][1] + size + 1)
        elif isinstance(event, (ScalarEvent, AliasEvent)):
            if isinstance(event, AliasEvent):
                aliases += 1
                if aliases > MAX_ALIASES:
                    refuse(event, f"more than {MAX_ALIASES} aliases (*{escape(event.anchor)})")
                if event.anchor not in sizes:
                    refuse(event, f"alias *{escape(event.anchor)} refers to an unknown or enclosing anchor")
                grows = sizes[event.anchor]
            else:
                grows = 1
                if event.anchor:
                    sizes[event.anchor] = 1
            stack[-1] = (stack[-1][0], stack[-1][1] + grows)
            if sum(size for _, size in stack) > MAX_NODES:
                refuse(event, f"the document expands to more than {MAX_NODES:,} nodes (aliases)")


def load_yaml(text: str, source: str) -> Located:
    """Parse one YAML document with positions; syntax errors and documents past the limits
    (size, depth, aliases, expanded size) become ConfigError with a position."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError
    from ruamel.yaml.reader import ReaderError

    if len(text) > MAX_FILE_BYTES:
        raise ConfigError([f"{source}:1:1: larger than {MAX_FILE_BYTES // 1024} KiB; not a kfboot config or profile"])
    try:
        _bounded(text, source)
        data = YAML(typ="rt").load(text)
    except ConfigError:
        raise
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else f"{source}:1:1"
        raise ConfigError([f"{where}: invalid YAML: {escape(exc.problem or exc.context)}"]) from None
    except ReaderError as exc:  # a control character (or other unprintable) in the text
        line, col = _line_col(text, exc.position)
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        raise ConfigError([f"{source}:{line}:{col}: invalid YAML: character {code:#x} "
                           "is not allowed here"]) from None
    except RecursionError:
        raise ConfigError([f"{source}:1:1: invalid YAML: nested too deeply"]) from None
    except Exception as exc:  # ruamel raises assorted errors for odd input
        raise ConfigError([f"{source}:1:1: invalid YAML: {escape(exc)}"]) from None
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

_ANCHOR_OR_ALIAS = re.compile(r"[&*][^\s,\]}]")


def fast_plain(text: str) -> Any | None:
    """The document as plain data parsed by libyaml (~15x faster than ruamel), or None when libyaml is
    absent or the text has a scalar YAML 1.1 reads differently from YAML 1.2: then use `load_yaml`."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", None)
    if loader is None or _YAML11_ONLY.search(text) or _ANCHOR_OR_ALIAS.search(text):
        return None  # anchors and aliases: the slow path bounds what they expand to
    try:
        return yaml.load(text, Loader=loader)
    except (yaml.YAMLError, RecursionError, ValueError):
        return None  # the slow path reports it, with its position


def _line_col(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a character offset."""
    before = text[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


def read_text(path: Path) -> tuple[str, str]:
    """(text, source name) of a user file, `-` meaning stdin; bounded, UTF-8 with a positioned error."""
    if str(path) == STDIN:
        raw = sys.stdin.buffer.read(MAX_FILE_BYTES + 1)
        source = "<stdin>"
    else:
        source = str(path)
        try:
            with path.open("rb") as handle:
                raw = handle.read(MAX_FILE_BYTES + 1)
        except FileNotFoundError:
            raise ConfigError([f"{escape(path)}: file not found"]) from None
        except IsADirectoryError:
            raise ConfigError([f"{escape(path)}: is a directory, not a file"]) from None
        except OSError as exc:
            raise ConfigError([f"{escape(path)}: cannot read: {exc.strerror or exc}"]) from None
    if len(raw) > MAX_FILE_BYTES:
        raise ConfigError([f"{escape(source)}:1:1: larger than {MAX_FILE_BYTES // 1024} KiB; "
                           "not a kfboot config or profile"])
    try:
        return raw.decode("utf-8"), escape(source)
    except UnicodeDecodeError as exc:
        good = raw[:exc.start].decode("utf-8")
        line, col = _line_col(good, len(good))
        raise ConfigError([f"{escape(source)}:{line}:{col}: not UTF-8 text (byte {raw[exc.start]:#04x})"],
                          hint="save the file as UTF-8") from None


def read_yaml_file(path: Path) -> Located:
    text, source = read_text(path)
    return load_yaml(text, source)


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + escape(part)
    return out or "(top level)"


def format_errors(doc: Located, error: ValidationError) -> list[str]:
    """One `file:line:col: path: message` line per pydantic error, in document order."""
    lines: list[tuple[int, int, str]] = []
    for err in error.errors(include_url=False):
        # pydantic appends union/validator tags (e.g. 'function-after[...]') to loc; keep real keys
        loc = tuple(p for p in err["loc"] if isinstance(p, int) or not str(p).endswith("]"))
        line, col = doc.position(loc)
        msg = escape(err["msg"])
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

