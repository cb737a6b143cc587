"""Input documents (TOML and JSON) parsed within limits and validated into typed objects.

A schema is a tree of `Table`s (msgspec Structs): in strict mode, so a string never passes for
a boolean, with unknown keys refused unless a table allows them. A field declared with
`checked(fn)` is also passed through `fn`, which returns the value's normal form or raises
ValueError with a short reason. Every problem is an `Invalid`: where in the document (a path
of keys and indices) and why, which the reader of each kind of file words as one line naming
its entry and key (`describe`).
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable
from functools import cache
from typing import Annotated, Any, TypeVar

import msgspec
from msgspec import inspect

MAX_DEPTH = 32  # nesting of tables and lists; netcheck's files need 4
T = TypeVar("T")
Location = tuple[str | int, ...]  # keys and indices from the top of a document

_STEP = re.compile(r"\.([^.\[]+)|\[(\d+|\.\.\.)\]")
_EXPECTED = re.compile(r"Expected `(.+)`, got `(\w+)`")
_MISSING = re.compile(r"Object missing required field `(.*)`")
_UNKNOWN = re.compile(r"Object contains unknown field `(.*)`")
# msgspec's type names as a message says them: (one, many, what a value of it is)
_TYPES = {
    "str": ("a string", "strings", "string"),
    "bool": ("a boolean (true/false)", "booleans (true/false)", "boolean"),
    "int": ("an integer", "integers", "integer"),
    "float": ("a number", "numbers", "number"),
    "array": ("a list", "lists", "list"),
    "object": ("a table", "tables", "table"),
    "null": ("null", "null", "null"),
}


class Invalid(Exception):
    """A document that does not fit its schema: where (`path`) and why (`reason`)."""

    def __init__(self, path: Location, reason: str, schema: type | None = None) -> None:
        super().__init__(reason)
        self.path, self.reason, self.schema = path, reason, schema
        missing, unknown = _MISSING.fullmatch(reason), _UNKNOWN.fullmatch(reason)
        self.missing = missing.group(1) if missing else None  # the key that is missing
        self.unknown = unknown.group(1) if unknown else None  # the key that is not allowed

    def allowed(self) -> tuple[str, ...]:
        """The keys the table at `path` may hold (none known: empty)."""
        return _fields(self.schema, self.path) if self.schema else ()

    def describe(self, at: int, table: str = "table") -> str:
        """The reason, worded for the key at `path[at:]` (the first `at` steps name the entry):
        `key 'k' must be a string, not integer`, `unknown key 'x' (allowed: ...)`, ...
        `table` is what the file's format calls a mapping: "table" (TOML) or "object" (JSON)."""
        rest = self.path[at:]
        key = f"key {_dotted(rest)!r}"
        if m := _EXPECTED.fullmatch(self.reason):
            (one, many, _), (_, _, got) = (_name(t, table) for t in m.groups())
            if len(rest) == 2 and (isinstance(rest[1], int) or rest[1] == "..."):
                what = "items" if isinstance(rest[1], int) else "values"
                return f"key {rest[0]!r}: {what} must be {many}, not {got}"
            return f"{key} must be {one}, not {got}" if rest else f"must be {one}, not {got}"
        if self.missing is not None:
            return f"key {self.missing!r} is missing"
        if self.unknown is not None:
            allowed = ", ".join(self.allowed())
            return f"unknown key {self.unknown!r}" + (f" (allowed: {allowed})" if allowed else "")
        return f"{_key(rest[0])}: {self.reason}" if rest else self.reason


def _key(step: str | int) -> str:
    """`key 'url'`, or `item 3` in a list."""
    return f"key {step!r}" if isinstance(step, str) else f"item {step}"


def _dotted(path: Location) -> str:
    """`checks[0]`, `baseline.outcome`, `phases.*` (msgspec does not name a dict's key)."""
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else f".{'*' if step == '...' else step}"
    return out.removeprefix(".")


def _name(msgspec_type: str, table: str) -> tuple[str, str, str]:
    """How a message names a msgspec type (`str | null` is "a string or null")."""
    if msgspec_type == "object" and table != "table":
        return (f"an {table}", f"{table}s", table)
    parts = [_TYPES.get(t, (t, t, t)) for t in msgspec_type.split(" | ")]
    one, many, value = (" or ".join(p[i] for p in parts) for i in range(3))
    return one, many, value


def _fields(schema: type, path: Location) -> tuple[str, ...]:
    """The keys the table at `path` may hold."""
    info: Any = inspect.type_info(schema)
    for step in path:
        info = _unwrap(info)
        if isinstance(info, inspect.StructType):
            info = next(f.type for f in info.fields if f.encode_name == step)
        elif isinstance(info, inspect.VarTupleType | inspect.ListType):
            info = info.item_type
        elif isinstance(info, inspect.DictType):
            info = info.value_type
    info = _unwrap(info)
    return tuple(f.encode_name for f in info.fields) if isinstance(info, inspect.StructType) else ()


def _unwrap(info: Any) -> Any:
    """The type under Meta annotations and `| None`."""
    if isinstance(info, inspect.Metadata):
        info = info.type
    if isinstance(info, inspect.UnionType):
        info = next(t for t in info.types if not isinstance(t, inspect.NoneType))
    return info


def checked(clean: Callable[[str], Any]) -> Any:
    """A string field that `clean` validates and normalises (see the module's docstring)."""
    return Annotated[str, msgspec.Meta(extra={"clean": clean})]


def one_of(choices: tuple[str, ...]) -> Callable[[str], str]:
    """A validator: the value is one of `choices`."""

    def check(value: str) -> str:
        if value not in choices:
            raise ValueError(f"{value!r} is not one of {', '.join(choices)}")
        return value

    return check


class Table(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A table of an input file: unknown keys refused, `checked` fields cleaned."""

    def __post_init__(self) -> None:
        for name, key, clean, many in _cleaners(type(self)):
            value = getattr(self, name)
            if value is None:
                continue
            try:
                setattr(self, name, tuple(map(clean, value)) if many else clean(value))
            except ValueError as exc:
                raise ValueError(f"key {key!r}: {exc}") from None


@cache
def _cleaners(cls: type) -> list[tuple[str, str, Callable[[str], Any], bool]]:
    """(attribute, key, clean, applies to each item of a list) for each `checked` field."""
    out = []
    for field in inspect.type_info(cls).fields:
        info, many = field.type, False
        if isinstance(info, inspect.UnionType):
            info = _unwrap(info)
        if isinstance(info, inspect.VarTupleType):
            info, many = info.item_type, True
        if isinstance(info, inspect.Metadata) and info.extra and "clean" in info.extra:
            out.append((field.name, field.encode_name, info.extra["clean"], many))
    return out


def convert(data: object, schema: type[T]) -> T:
    """`data` (parsed TOML or JSON) as `schema`; Invalid if it does not fit, nests deeper
    than MAX_DEPTH or holds a string that is no text (JSON can escape half a surrogate pair)."""
    _bounded(data)
    try:
        return msgspec.convert(data, schema, strict=True)
    except msgspec.ValidationError as exc:
        reason, _, where = str(exc).rpartition(" - at `$")  # no " - at": at the top
        steps = _STEP.findall(where.removesuffix("`")) if reason else []
        path = tuple(int(i) if i.isdigit() else (i or key) for key, i in steps)
        raise Invalid(path, reason or str(exc), schema) from None


class Syntax(Exception):
    """Text that is not a document of its format (or nests too deep to parse)."""


def parse(text: str, syntax: str) -> Any:
    """`text` parsed as `syntax`, "TOML" or "JSON"; Syntax (one line) if it is not."""
    try:
        return _PARSERS[syntax](text)
    except RecursionError:
        raise Syntax(f"{syntax} nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:  # a syntax error, or an integer of thousands of digits
        raise Syntax(f"{syntax} syntax error: {exc}") from None


_PARSERS: dict[str, Callable[[str], Any]] = {"TOML": tomllib.loads, "JSON": json.loads}


def _bounded(data: object) -> None:
    """Invalid unless `data` nests at most MAX_DEPTH deep and every string is text."""
    stack: list[tuple[int, Any]] = [(0, data)]
    while stack:
        depth, value = stack.pop()
        if isinstance(value, dict | list):
            if depth >= MAX_DEPTH:
                raise Invalid(_path_to(data, value), f"nested deeper than {MAX_DEPTH} levels")
            stack.extend(
                (depth + 1, v) for v in (value.values() if isinstance(value, dict) else value)
            )
        elif isinstance(value, str) and not value.isascii() and not _encodable(value):
            reason = f"{value!r} holds half a surrogate pair, which is not text"
            raise Invalid(_path_to(data, value), reason)


def _path_to(node: Any, target: object, path: Location = ()) -> Location:
    """Where `target` is in the document `node` (searched only once a problem was found)."""
    if node is target:
        return path
    if isinstance(node, list):
        node = dict(enumerate(node))
    if isinstance(node, dict) and len(path) < MAX_DEPTH:
        for key, value in node.items():
            if found := _path_to(value, target, (*path, key)):
                return found
    return ()


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True
