"""Property tests: whatever text a profile holds, loading it gives a Profile or one
ProfileError of one line, never another exception."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netcheck.profile import _SCHEMA, Profile, ProfileError, load

SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
label = st.from_regex(r"[a-z0-9-]{0,12}", fullmatch=True)
hosts = st.one_of(
    st.lists(label, min_size=1, max_size=4).map(".".join),
    st.sampled_from(["192.0.2.1", "[::1]", "a b.example", "x" * 300, "", "ok.example:99999"]),
    text,
)
urls = st.builds(
    lambda scheme, host, path: f"{scheme}{host}{path}",
    st.sampled_from(["http://", "https://", "ftp://", "", "https:///", "http://user:pw@"]),
    hosts,
    st.sampled_from(["", "/", "/x.crl", "?q=1", "/a b", "#f"]),
)
scalars = st.one_of(
    text, urls, hosts, st.booleans(), st.integers(), st.floats(), st.sampled_from(["tls", "any"])
)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=2)
)
known_keys = sorted({key for spec, _ in _SCHEMA.values() for key in spec})
tables = st.dictionaries(st.one_of(st.sampled_from(known_keys), text), values, max_size=6)


def table(required: dict, optional: dict) -> st.SearchStrategy[dict]:
    """Mostly plausible tables of one kind (each value sometimes of any type), some junk."""
    anything = {k: v | values for k, v in optional.items()}
    return st.one_of(st.fixed_dictionaries(required, optional=anything), tables)


common = {"id": text, "category": text, "required": st.booleans(), "notes": text}
names = st.lists(hosts, max_size=3)
addresses = st.lists(st.sampled_from(["192.0.2.1", "fd00::1", "dns.example", ""]), max_size=2)
documents = st.fixed_dictionaries(
    {"profile": table({"name": text}, {"description": text})},
    optional={
        "endpoint": st.lists(
            table(
                {"url": urls},
                {
                    **common,
                    "checks": st.lists(st.sampled_from(["firewall", "tls", "crl", "ping"])),
                    "family": st.sampled_from(["any", "ipv4", "ipv6", "both"]),
                },
            ),
            max_size=3,
        )
        | values,
        "ncsi_web": st.lists(table({"url": urls, "expect_body": text}, common), max_size=2),
        "ncsi_dns": st.lists(
            table({"name": hosts}, {**common, "expect_a": addresses, "expect_aaaa": addresses}),
            max_size=2,
        ),
        "msoid": table(
            {"worldwide": hosts, "vianet": hosts},
            {"tenant": st.sampled_from(["worldwide", "21vianet", "cn"]), "domains": names},
        )
        | values,
    },
)


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # JSON string escapes are TOML's too
    if isinstance(value, list):
        return "[" + ", ".join(map(toml_value, value)) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{toml_value(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def to_toml(document: dict) -> str:
    """Top-level tables as [table] and lists of tables as [[table]]; anything else inline."""
    lines = []
    for name, value in document.items():
        if isinstance(value, dict):
            lines.append(f"[{name}]")
            lines += [f"{toml_value(k)} = {toml_value(v)}" for k, v in value.items()]
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for table in value:
                lines.append(f"[[{name}]]")
                lines += [f"{toml_value(k)} = {toml_value(v)}" for k, v in table.items()]
        else:
            lines.insert(0, f"{name} = {toml_value(value)}")
    return "\n".join(lines) + "\n"


def loads_or_one_line_error(path: Path) -> Profile | None:
    try:
        profile = load(path)
    except ProfileError as exc:
        message = str(exc)
        assert message.startswith(f"{path}: ") and "\n" not in message, message
        return None
    assert isinstance(profile, Profile)
    ids = [e.id for e in profile.endpoints] + [d.id for d in profile.dns_names]
    assert len(set(ids)) == len(ids)  # ids are test ids: never twice
    return profile


@pytest.fixture(scope="module")
def path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("properties") / "profile.toml"


@SETTINGS
@given(document=documents)
def test_structured_profiles_load_or_fail_cleanly(path: Path, document: dict) -> None:
    path.write_text(to_toml(document), encoding="utf-8")
    loads_or_one_line_error(path)


@SETTINGS
@given(raw=st.binary(max_size=200) | text.map(str.encode))
def test_arbitrary_bytes_load_or_fail_cleanly(path: Path, raw: bytes) -> None:
    path.write_bytes(raw)
    loads_or_one_line_error(path)


def test_generated_documents_do_reach_valid_profiles(path: Path) -> None:
    """The generator is not only producing errors: a plain valid document passes."""
    document = {"profile": {"name": "p"}, "endpoint": [{"url": "https://a.example/"}]}
    path.write_text(to_toml(document), encoding="utf-8")
    assert loads_or_one_line_error(path) is not None
