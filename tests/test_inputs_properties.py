"""Property tests over every input file: documents generated from each schema (the profile's
TOML, the Microsoft 365 list's JSON, a baseline's JSON), then mutated (keys deleted, values
of the wrong type, deep nesting, odd Unicode, unknown keys) and written in some encoding. The
only outcomes allowed: a valid load, or the project's own one-line error naming the file."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from msgspec import inspect

from netcheck import baseline, m365, profile
from netcheck.baseline import ResultsFile
from netcheck.profile.schema import ProfileFile
from netcheck.textfile import InputError

# A fixed budget: about a second per test on the CI machine.
BUDGET = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


class Deep:
    """A value nested `levels` deep, written as text (a writer that recursed would not cope)."""

    def __init__(self, levels: int) -> None:
        self.levels = levels

    def text(self) -> str:
        return "[" * self.levels + "]" * self.levels


odd_text = st.text(st.characters(codec=None), max_size=12)  # controls, surrogates, RTL, ...
hosts = st.sampled_from(
    ["a.example", "*.a.example", "xn--bcher-kva.example", "B\u00fccher.example.", "\u017f.example"]
) | st.from_regex(r"[a-z0-9.*-]{1,20}", fullmatch=True)
urls = st.builds(
    "{}{}{}".format,
    st.sampled_from(["https://", "http://", "HTTPS://", " https://", "ftp://", "https://u:p@"]),
    hosts,
    st.sampled_from(["/", "", "/a b", ":0/", ":8443/x?q=1", "/\t", "#f"]),
)
# Plausible values by key: what each field holds when it is right (or nearly so).
PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "url": urls,
    "name": hosts,
    "probe_host": hosts,
    "worldwide": hosts,
    "vianet": hosts,
    "domains": st.lists(hosts, max_size=2),
    "urls": st.lists(hosts, max_size=3),
    "checks": st.lists(st.sampled_from(["firewall", "tls", "crl", "ping"]), max_size=3),
    "family": st.sampled_from(["any", "ipv4", "ipv6", "both"]),
    "interception": st.sampled_from(["fail", "warn", "ignore"]),
    "tenant": st.sampled_from(["worldwide", "21vianet", "cn"]),
    "expected_roots": st.lists(st.sampled_from(["public", "CN=R,O=O", "sha256//AAAA"]), max_size=2),
    "expect_a": st.lists(st.sampled_from(["192.0.2.1", "fd00::1", "x"]), max_size=2),
    "expect_aaaa": st.lists(st.sampled_from(["fd00::1", "192.0.2.1"]), max_size=2),
    "tcpPorts": st.sampled_from(["443", "80,443", "25", "0", "x", ""]),
    "outcome": st.sampled_from(["pass", "fail", "warn", "skip", "error", "passed"]),
    "schema": st.just("netcheck-results"),
    "version": st.just(1),
}
scalars = st.one_of(odd_text, st.booleans(), st.integers(), st.floats(), st.none())
junk = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(odd_text, inner, max_size=2),
) | st.sampled_from([Deep(40), Deep(3000)])


def generated(info: Any, key: str = "", *, nulls: bool) -> st.SearchStrategy[Any]:
    """Documents that fit the schema (`info`: msgspec's view of it), with plausible values."""
    if key in PLAUSIBLE:
        return PLAUSIBLE[key]
    if isinstance(info, inspect.Metadata):
        info = info.type
    if isinstance(info, inspect.UnionType):
        inner = generated(
            next(t for t in info.types if not isinstance(t, inspect.NoneType)), key, nulls=nulls
        )
        return inner | st.none() if nulls else inner
    if isinstance(info, inspect.StructType):
        fields = {f.encode_name: generated(f.type, f.encode_name, nulls=nulls) for f in info.fields}
        required = {f.encode_name for f in info.fields if f.required}
        return st.fixed_dictionaries(
            {k: v for k, v in fields.items() if k in required},
            optional={k: v for k, v in fields.items() if k not in required},
        )
    if isinstance(info, inspect.VarTupleType | inspect.ListType):
        return st.lists(generated(info.item_type, nulls=nulls), max_size=3)
    simple = {inspect.BoolType: st.booleans(), inspect.IntType: st.integers(-5, 200)}
    return simple.get(type(info), odd_text)


@st.composite
def mutated(draw: st.DrawFn, documents: st.SearchStrategy[Any]) -> Any:
    """A document with up to three mutations, each at a random place in it."""
    doc = draw(documents)
    for _ in range(draw(st.integers(0, 3))):
        parent, where = None, doc
        while isinstance(where, dict | list) and where and draw(st.booleans()):
            keys = list(where) if isinstance(where, dict) else range(len(where))
            parent, key = where, draw(st.sampled_from(keys))
            where = where[key]
        target = where if isinstance(where, dict | list) else parent
        if target is None:
            doc = draw(junk)
            continue
        keys = list(target) if isinstance(target, dict) else list(range(len(target)))
        op = draw(st.sampled_from(["delete", "replace", "add"]))
        if op == "add" or not keys:
            if isinstance(target, dict):
                target[draw(odd_text | st.sampled_from(["port", "url", "id"]))] = draw(junk)
            else:
                target.append(draw(junk))
        elif op == "delete":
            del target[draw(st.sampled_from(keys))]
        else:
            target[draw(st.sampled_from(keys))] = draw(junk)
    return doc


def toml_value(value: Any) -> str:
    if isinstance(value, Deep):
        return value.text()
    if value is None:
        return '""'  # TOML has no null
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # JSON's escapes of controls are TOML's
    if isinstance(value, list):
        return "[" + ", ".join(map(toml_value, value)) + "]"
    return "{" + ", ".join(f"{toml_value(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def to_toml(doc: Any) -> str:
    """Top-level tables as [table], lists of tables as [[table]], the rest inline."""
    if not isinstance(doc, dict):
        return f"x = {toml_value(doc)}\n"
    lines = []
    for name, value in doc.items():
        if isinstance(value, dict):
            lines.append(f"[{toml_value(name)}]")
            lines += [f"{toml_value(k)} = {toml_value(v)}" for k, v in value.items()]
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for table in value:
                lines.append(f"[[{toml_value(name)}]]")
                lines += [f"{toml_value(k)} = {toml_value(v)}" for k, v in table.items()]
        else:
            lines.insert(0, f"{toml_value(name)} = {toml_value(value)}")
    return "\n".join(lines) + "\n"


def to_json(doc: Any) -> str:
    text = json.dumps(doc, default=lambda d: "@DEEP@", ensure_ascii=False)
    return text.replace('"@DEEP@"', Deep(3000).text())


ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-be", "utf-16-le", "utf-32", "cp1252"]


def write(path: Path, text: str, encoding: str) -> None:
    if encoding == "utf-16-be":
        data = "\ufeff".encode("utf-16-be") + text.encode("utf-16-be", "surrogatepass")
    else:
        errors = "replace" if encoding == "cp1252" else "surrogatepass"
        data = text.encode(encoding, errors)
    path.write_bytes(data)


def loads_or_one_line_error(path: Path, read: Callable[[Path], Any], error: type) -> None:
    try:
        read(path)
    except error as exc:
        message = str(exc)
        assert message.startswith(f"{path}: ") and message.isprintable(), message
    # anything else (a traceback) fails the test


CASES = {
    "toml profile": (generated(inspect.type_info(ProfileFile), nulls=False), to_toml, "p.toml"),
    "m365 json": (
        st.lists(generated(inspect.type_info(m365.EndpointSet), nulls=True), max_size=3),
        to_json,
        "p.json",
    ),
    "baseline": (generated(inspect.type_info(ResultsFile), nulls=True), to_json, "r.json"),
}


@pytest.mark.parametrize("case", CASES)
@BUDGET
@given(data=st.data())
def test_generated_and_mutated_inputs_load_or_fail_in_one_line(
    tmp_path: Path, case: str, data: st.DataObject
) -> None:
    documents, serialise, name = CASES[case]
    doc = data.draw(mutated(documents))
    path = tmp_path / name
    write(path, serialise(doc), data.draw(st.sampled_from(ENCODINGS)))
    if case == "baseline":
        loads_or_one_line_error(path, baseline.load, baseline.BaselineError)
    else:
        loads_or_one_line_error(path, profile.load, profile.ProfileError)


@BUDGET
@given(raw=st.binary(max_size=200))
def test_arbitrary_bytes_load_or_fail_in_one_line(tmp_path: Path, raw: bytes) -> None:
    for name in ("p.toml", "p.json", "r.json"):
        (tmp_path / name).write_bytes(raw)
        read = baseline.load if name == "r.json" else profile.load
        loads_or_one_line_error(tmp_path / name, read, InputError)


def test_the_generators_reach_valid_documents(tmp_path: Path) -> None:
    """Not only errors: a plain valid document of each kind goes through the same writing."""
    valid = {
        "toml profile": {"profile": {"name": "p"}, "endpoint": [{"url": "https://a.example/"}]},
        "m365 json": [{"id": 1, "urls": ["a.example"], "tcpPorts": "443"}],
        "baseline": {"schema": "netcheck-results", "version": 1, "results": []},
    }
    for case, doc in valid.items():
        _, serialise, name = CASES[case]
        for encoding in ENCODINGS[:4]:
            write(tmp_path / name, serialise(doc), encoding)
            assert (baseline.load if case == "baseline" else profile.load)(tmp_path / name)
