"""Loading a spec: the bundled examples, YAML and JSON read with line numbers, validation
errors that name the line and the field.

``load_spec`` is what the command line calls; it returns the validated
:class:`~ale_app.spec.models.AnalysisSpec`, the folder relative inputs resolve against, and
the text as read (its digest goes into provenance).
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
import typing
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import BaseModel, ValidationError

from ale_app.errors import MissingInputError, SpecError, UsageError
from ale_app.files import RECORD_LIMIT, RefusedFile, read_regular_text
from ale_app.spec.models import AnalysisSpec
from ale_app.spec.v2 import AnalysisSpecV2

if TYPE_CHECKING:
    from ale_app.spec.v3 import AnalysisSpecV3

EXAMPLE_PREFIX = "example:"
#: Deepest nesting of lists and mappings a spec may have (the real spec needs 3).
MAX_SPEC_DEPTH = 32
#: At most this many invalid fields are listed in one message.
MAX_SPEC_ERRORS = 50


# --------------------------------------------------------------------------- examples


def list_examples() -> list[str]:
    """Return the names of the specs bundled in the package (``example:NAME``)."""
    folder = resources.files("ale_app") / "examples"
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def example_path(name: str) -> Path:
    """Return the path of the bundled example spec ``name``."""
    if name not in list_examples():
        raise UsageError(
            f"There is no bundled example called {name!r}.",
            hint="List them with 'ale-app --list-examples'.",
        )
    return Path(str(resources.files("ale_app") / "examples" / f"{name}.yaml"))


# --------------------------------------------------------------------------- loading


class _DuplicateKey(Exception):
    def __init__(self, key: str, first_line: int, second_line: int):
        super().__init__(key)
        self.key, self.first_line, self.second_line = key, first_line, second_line


class _TooDeep(Exception):
    pass


class _NoTagsLoader(yaml.SafeLoader):
    """SafeLoader; it refuses every Python tag (``!!python/...``) with a ConstructorError,
    a key given twice in one mapping (naming both lines), and nesting deeper than
    :data:`MAX_SPEC_DEPTH`."""

    def compose_node(self, parent, index):  # noqa: D102 - bounds the recursion of the composer
        self._depth = getattr(self, "_depth", 0) + 1
        try:
            if self._depth > MAX_SPEC_DEPTH:
                raise _TooDeep(self.peek_event().start_mark.line + 1)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node, deep=False):  # noqa: D102
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    continue
                key = self.construct_object(key_node)
                line = key_node.start_mark.line + 1
                try:
                    hash(key)
                except TypeError:
                    continue
                if key in seen:
                    raise _DuplicateKey(str(key), seen[key], line)
                seen[key] = line
        return super().construct_mapping(node, deep=deep)


# Plain numbers as JSON (and YAML 1.2) writes them, not as YAML 1.1 reads them: ``1e-4`` is a
# number (YAML 1.1 reads it as text), while ``4_2``, ``0777``, ``0x1F`` and ``1:30`` stay text
# (YAML 1.1 reads 42, 511, 31 and 90), which the spec's number fields refuse, naming the field.
_INT = re.compile(r"^[-+]?(0|[1-9][0-9]*)$")
_FLOAT = re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*|[0-9]+(?:\.[0-9]*)?[eE][-+]?[0-9]+)"
                    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$")
_NoTagsLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in ("tag:yaml.org,2002:int",
                                                                      "tag:yaml.org,2002:float")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_NoTagsLoader.add_implicit_resolver("tag:yaml.org,2002:int", _INT, list("-+0123456789"))
_NoTagsLoader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))


def _locate_yaml(text: str, loc: tuple) -> int | None:
    """Return the 1-based line of the YAML/JSON node at ``loc`` (keys and list indices)."""
    try:
        node = yaml.compose(text, Loader=_NoTagsLoader)
    except yaml.YAMLError:
        return None
    line = None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            for k_node, v_node in node.value:
                if k_node.value == key:
                    line = k_node.start_mark.line + 1
                    node = v_node
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _field_bounds(loc: tuple, model: Any = AnalysisSpec) -> str | None:
    """The numeric bounds of the field at ``loc`` in words, e.g. 'more than 0 and at most 100'."""
    info = None
    for key in loc:
        if not isinstance(key, str) or model is None:
            return None
        info = model.model_fields.get(key)
        if info is None:
            return None
        candidates = [info.annotation, *typing.get_args(info.annotation)]
        model = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
    if info is None:
        return None
    words = {"gt": "more than", "ge": "at least", "lt": "less than", "le": "at most"}
    parts = []
    for meta in info.metadata:
        for attr, word in words.items():
            value = getattr(meta, attr, None)
            if value is not None:
                if isinstance(value, float) and value.is_integer():
                    value = int(value)
                parts.append(f"{word} {value:,}")
    return " and ".join(parts) or None


def _format_validation_error(exc: ValidationError, text: str, origin: str, model: Any = AnalysisSpec) -> SpecError:
    lines = []
    errors = exc.errors()
    for err in errors[:MAX_SPEC_ERRORS]:
        loc = tuple(err["loc"])
        if not loc and "at" in (err.get("ctx") or {}):
            loc = tuple(err["ctx"]["at"])  # a rule of the whole spec that one field can fix
        field = ".".join(str(p) for p in loc) or "(top level)"
        line = _locate_yaml(text, loc)
        where = f"{origin}, line {line}" if line else origin
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "missing":
            msg = "required key is missing"
        elif err["type"] == "value_error":
            msg = msg.removeprefix("Value error, ")
        elif err["type"] not in ("greater_than", "greater_than_equal", "less_than", "less_than_equal",
                                 "unreachable_alpha"):
            bounds = _field_bounds(loc, model)
            if bounds:
                msg = f"{msg}; allowed: {bounds}"
        lines.append(f"  {field}: {msg} ({where})")
    if len(errors) > MAX_SPEC_ERRORS:
        lines.append(f"  ... and {len(errors) - MAX_SPEC_ERRORS:,} more, not listed; fix these and check again.")
    return SpecError(
        "The spec is not valid:\n" + "\n".join(lines),
        hint="Fix the fields named above; 'ale-app --print-schema' shows every field and its bounds.",
    )


def _where(origin: str, line: int | None, column: int | None = None) -> str:
    if line is None:
        return origin
    return f"{origin}, line {line}" + (f", column {column}" if column is not None else "")


def _too_deep(origin: str, line: int | None = None) -> SpecError:
    return SpecError(
        f"The spec is nested more than {MAX_SPEC_DEPTH} levels deep ({_where(origin, line)}).",
        hint="A spec is a mapping of sections of plain values; see 'ale-app --print-schema'.",
    )


def _duplicate_key(origin: str, key: str, first: int, second: int) -> SpecError:
    return SpecError(
        f"The key {key!r} is given twice in one mapping ({origin}, lines {first} and {second}).",
        hint="Keep one of them; a later key would silently replace the earlier one.",
    )


def _load_json(text: str, origin: str) -> Any:
    """Strict JSON: no trailing commas, comments, NaN/Infinity or duplicate keys."""

    def pairs(items):
        obj = {}
        for key, value in items:
            if key in obj:
                raise _DuplicateKey(key, 0, 0)
            obj[key] = value
        return obj

    def constant(name):
        raise ValueError(f"{name} is not a JSON number")

    if _json_depth(text) > MAX_SPEC_DEPTH:
        raise _too_deep(origin)
    try:
        return json.loads(text, object_pairs_hook=pairs, parse_constant=constant)
    except _DuplicateKey as exc:
        _load_yaml(text, origin)  # JSON is YAML: the YAML reader names both lines
        raise SpecError(
            f"The key {exc.key!r} is given twice in one object ({origin}).",
            hint="Keep one of them; a later key would silently replace the earlier one.",
        ) from None
    except json.JSONDecodeError as exc:
        raise SpecError(
            f"The spec is not valid JSON ({_where(origin, exc.lineno, exc.colno)}): {exc.msg}.",
            hint="A .json spec is read as strict JSON (no trailing commas or comments); "
            "YAML is accepted in a .yaml file.",
        ) from None
    except ValueError as exc:
        raise SpecError(f"The spec is not valid JSON ({origin}): {exc}.",
                        hint="Write numbers as plain finite numbers.") from None


def _json_depth(text: str) -> int:
    """The deepest nesting of ``[``/``{`` outside strings (checked before parsing, so that
    no input can exhaust the parser's recursion)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _load_yaml(text: str, origin: str) -> Any:
    try:
        return yaml.load(text, Loader=_NoTagsLoader)  # noqa: S506 - a SafeLoader subclass
    except _DuplicateKey as exc:
        raise _duplicate_key(origin, exc.key, exc.first_line, exc.second_line) from None
    except _TooDeep as exc:
        raise _too_deep(origin, exc.args[0]) from None
    except RecursionError:
        raise _too_deep(origin) from None
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        where = f"{origin}, line {mark.line + 1}" if mark else origin
        raise SpecError(
            f"The spec uses a YAML tag that ale-app does not accept ({where}): {exc.problem}.",
            hint="Specs are plain YAML or JSON: remove the '!!' tag.",
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{origin}, line {mark.line + 1}, column {mark.column + 1}" if mark else origin
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError(
            f"The spec is not valid YAML or JSON ({where}): {problem}.",
            hint="Check the indentation and quoting around that line.",
        ) from None


def parse_spec(text: str, origin: str) -> AnalysisSpec | AnalysisSpecV2 | AnalysisSpecV3:
    """Parse and validate spec ``text``; ``origin`` names it in messages.

    A ``.json`` origin is read as strict JSON, anything else as YAML (which JSON also is).
    Keys given twice and nesting deeper than :data:`MAX_SPEC_DEPTH` are refused. A JALE
    project's ``config.yml`` (:func:`ale_app.spec.jale.is_jale_config`) is read with its
    workbooks into a version-3 spec (:func:`ale_app.spec.jale.jale_spec`).
    """
    if origin.lower().endswith(".json"):
        data = _load_json(text, origin)
    else:
        data = _load_yaml(text, origin)
    if not isinstance(data, dict):
        raise SpecError(
            f"The spec must be a mapping of keys to values ({origin}), not {type(data).__name__}.",
            hint="Start from 'ale-app --print-schema' or examples/pain-qualitative.yaml.",
        )
    from ale_app.spec.jale import is_jale_config

    if is_jale_config(data):  # a JALE project's config.yml: the project as a version-3 spec
        from ale_app.spec.jale import jale_spec

        try:
            return jale_spec(data, Path(origin).resolve().parent, origin)
        except ValidationError as exc:
            raise _format_validation_error(exc, "", origin, spec_model({"spec_version": 3})) from None
    model = spec_model(data)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _format_validation_error(exc, text, origin, model) from None


def spec_model(data: dict) -> type[AnalysisSpec] | type[AnalysisSpecV2] | type[AnalysisSpecV3]:
    """The model of the spec version ``data`` declares (version 1 unless it says 2 or 3).

    A version-1 spec that names groups or a contrast is refused with the version it needs.
    """
    from ale_app.spec.v2 import AnalysisSpecV2
    from ale_app.spec.v3 import AnalysisSpecV3

    if data.get("spec_version") == 2:
        return AnalysisSpecV2
    if data.get("spec_version") == 3:
        return AnalysisSpecV3
    if data.get("spec_version", 1) == 1 and ("groups" in data or "contrast" in data):
        raise SpecError(
            "The spec names 'groups' or a 'contrast', which need spec_version: 2 (version 1 has one 'input').",
            hint="Write 'spec_version: 2', name the groups under 'groups' and compare two of them under "
            "'contrast' (see 'ale-app --print-schema' and example:nback-vs-flanker).",
        )
    return AnalysisSpec


#: What a path that is not a regular file is, in the words of an error message.
FILE_KINDS = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
              (stat.S_ISBLK, "a block device"))
SPEC_HINT = "Give the path of a YAML or JSON spec, or 'example:pain-qualitative'."


def file_kind(mode: int) -> str:
    """What a file that is neither a regular file nor a folder is ("a named pipe (FIFO)", ...)."""
    return next((name for test, name in FILE_KINDS if test(mode)), "not a regular file")


def read_spec_text(path: Path) -> str:
    """The spec file's text. A missing path, a folder, or a path that cannot be reached (a folder
    on the way this user cannot enter, a name too long) is exit 66; a named pipe, socket or
    device is exit 65, said as such and never opened in a way that waits for a writer."""
    name = str(path)[:300]
    try:
        info = os.stat(path)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            raise MissingInputError(f"The spec file {name!r} does not exist.", hint=SPEC_HINT) from None
        raise MissingInputError(f"The spec file {name!r} cannot be reached: {exc.strerror}.",
                                hint="Check that every folder on its path can be entered by this user "
                                "('ls -ld' each one) and that each name is at most 255 bytes.") from None
    if stat.S_ISDIR(info.st_mode):
        raise MissingInputError(f"The spec path {name!r} is a folder, not a spec file.",
                                hint="Give the path of the YAML or JSON spec file inside it.")
    try:
        # Regular files only, opened without waiting (a pipe swapped in after the check is
        # refused, not waited on), at most RECORD_LIMIT bytes.
        return read_regular_text(path, RECORD_LIMIT, encoding="utf-8-sig")
    except RefusedFile as exc:
        raise SpecError(f"The spec file {name!r} is {exc.reason}; ale-app reads the spec from a regular file.",
                        hint="Save the spec to a regular file (a YAML or JSON spec) and give its path, or "
                        "'example:pain-qualitative'.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MissingInputError(
            f"The spec file {name!r} cannot be read: {exc}.",
            hint="Check the file's permissions and that it is UTF-8 text.",
        ) from None


def load_spec(source: str) -> tuple[AnalysisSpec | AnalysisSpecV2 | AnalysisSpecV3, Path, str]:
    """Load a spec from a path or ``example:NAME``.

    Returns
    -------
    spec : AnalysisSpec
        The validated spec with defaults filled in.
    spec_dir : Path
        The folder relative input paths are resolved against.
    text : str
        The spec's text as read.
    """
    if source.startswith(EXAMPLE_PREFIX):
        path = example_path(source[len(EXAMPLE_PREFIX) :])
    else:
        path = Path(source)
    text = read_spec_text(path)
    return parse_spec(text, str(path)), path.resolve().parent, text
