"""The Microsoft 365 endpoints web service's JSON as a profile: a real copy of the list
(December 2020) converts completely, loads, collects, and part of it runs against the lab."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from netcheck import m365
from netcheck.__main__ import main
from netcheck.profile import Endpoint, ProfileError, load
from tests.fakenet import Response, WebServer
from tests.loopback_lab import Lab
from tests.test_cli import pytest_run

SAMPLE = Path(__file__).parent / "data" / "m365-endpoints-worldwide-sample.json"
SETS = json.loads(SAMPLE.read_text())
WILDCARDS = ("*.office.com", "*cdn.onenote.net", "autodiscover.*.onmicrosoft.com")


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Endpoint]:
    out = tmp_path_factory.mktemp("m365") / "m365.toml"
    assert main(["import-m365", str(SAMPLE), "-o", str(out)]) == 0
    return {e.id: e for e in load(out).endpoints}


def test_sample_converts_completely(converted: dict[str, Endpoint]) -> None:
    _, summary = m365.convert(SETS)
    assert (summary.sets, summary.urls, summary.wildcards) == (113, 338, 101)
    assert (summary.endpoints, summary.other_ports, summary.ip_only) == (511, 8, [11])
    # Every (URL, TCP port) pair of every set is an endpoint of the profile: nothing dropped.
    wanted = {
        (url, int(port))
        for s in SETS
        for url in s.get("urls", [])
        for port in s.get("tcpPorts", "").split(",")
    }
    assert {(e.host, e.port) for e in converted.values()} == wanted
    assert len(converted) == 511


def test_every_url_form_is_listed_with_how_it_is_checked(converted: dict[str, Endpoint]) -> None:
    plain = converted["outlook.office.com"]
    assert (plain.url, plain.checks, plain.skip) == (
        "https://outlook.office.com/",
        ("firewall", "tls"),
        "",
    )
    assert converted["outlook.office.com:80"].url == "http://outlook.office.com/"
    assert converted["outlook.office.com:80"].checks == ("firewall",)
    for pattern in WILDCARDS:
        e = converted[pattern]
        assert e.pattern == pattern and e.url == f"https://{pattern}/"
        assert e.skip == (
            f'wildcard {pattern}: no concrete host to probe; add probe_host = "<a host>"'
        )
    assert "outlook.office.com" in converted["*.office.com"].notes  # hosts it names are checked
    smtp = converted["*.mail.protection.outlook.com:25"]
    assert smtp.skip.startswith("TCP port 25 is not HTTP")
    wildcards = [e for e in converted.values() if e.pattern]
    published = {h for s in SETS for h in s.get("urls", []) if "*" in h}
    assert {e.pattern for e in wildcards} == published and len(wildcards) == 148  # x ports
    port143 = converted["*.outlook.office.com:143"]
    assert port143.skip.startswith("TCP port 143 is not HTTP")
    assert all(e.skip for e in wildcards)  # no probe host given


def test_required_category_and_service_area_are_mapped(converted: dict[str, Endpoint]) -> None:
    outlook = converted["outlook.office.com"]
    assert (outlook.required, outlook.category, outlook.service_area) == (
        True,
        "Optimize",
        "Exchange",
    )
    # ajax.aspnetcdn.com is in sets 16, 40, 53, 91, 120: required by some, optional in others.
    ajax = converted["ajax.aspnetcdn.com"]
    assert ajax.required and ajax.notes.startswith(
        "Microsoft 365 endpoint set 16, 40, 53, 91, 120."
    )
    optional = converted["vortex.data.microsoft.com"]
    assert not optional.required and optional.category == "Default"
    assert "Outlook for Android and iOS: Authentication" in optional.notes


def test_probe_hosts_make_wildcards_checkable(tmp_path: Path) -> None:
    out = tmp_path / "p.toml"
    args = ["import-m365", str(SAMPLE), "-o", str(out)]
    assert main([*args, "--probe-host", "*cdn.onenote.net=www.cdn.onenote.net"]) == 0
    e = {e.id: e for e in load(out).endpoints}["*cdn.onenote.net"]
    assert (e.url, e.skip, e.pattern) == ("https://www.cdn.onenote.net/", "", "*cdn.onenote.net")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--probe-host", "*.office.com=office.com"], "'office.com' does not match '*.office.com'"),
        (["--probe-host", "*.nowhere.com=a.nowhere.com"], "'*.nowhere.com' is not a wildcard URL"),
        (["--probe-host", "*.office.com"], "'*.office.com' is not PATTERN=HOST"),
    ],
)
def test_bad_probe_host_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    assert main(["import-m365", str(SAMPLE), "-o", str(tmp_path / "x.toml"), *extra]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("error: ") and message in line


def test_not_the_service_json_is_one_line(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"urls": []}')
    assert main(["import-m365", str(bad), "-o", str(tmp_path / "x.toml")]) == 2
    assert capsys.readouterr().err == f"error: {m365.NOT_THE_LIST}\n"
    with pytest.raises(ProfileError) as err:
        load(bad)
    assert str(err.value) == f"{bad}: {m365.NOT_THE_LIST}"


BAD_SETS = [
    (
        "a null url",
        [{"id": 1, "urls": [None]}],
        "(id 1): key 'urls': items must be strings, not null",
    ),
    (
        "notes not a string",
        [{"id": 46, "urls": ["a.example"], "notes": 5}],
        "endpoint set [0] (id 46): key 'notes' must be a string, not integer",
    ),
    ("no id", [SETS[0], {"urls": []}], "endpoint set [1]: key 'id' is missing"),
    ("a set not an object", [1], "endpoint set [0]: must be an object, not integer"),
    (
        "a long s in a host",
        [{"id": 2, "urls": ["\u017ftatic.example"]}],
        "endpoint set [0] (id 2): key 'urls': '\u017ftatic.example' is not a valid host name",
    ),
    (
        "port 0",
        [{"id": 3, "urls": ["a.example"], "tcpPorts": "443,0"}],
        "key 'tcpPorts': '443,0' is not a list of port numbers (1-65535)",
    ),
    (
        "required as text",
        [{"id": 4, "urls": ["a.example"], "required": "true"}],
        "key 'required' must be a boolean (true/false), not string",
    ),
    ("id a boolean", [{"id": True}], "key 'id' must be an integer, not boolean"),
]


@pytest.mark.parametrize(
    ("sets", "message"), [b[1:] for b in BAD_SETS], ids=[b[0] for b in BAD_SETS]
)
def test_bad_endpoint_sets_are_one_line_naming_set_and_key(sets: object, message: str) -> None:
    with pytest.raises(m365.M365Error) as err:
        m365.convert(sets)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_unknown_fields_of_the_list_are_ignored_and_hosts_normalised() -> None:
    sets = [{"id": 1, "urls": ["B\u00fccher.Example."], "tcpPorts": "443", "expressRoute": True}]
    data, _ = m365.convert(sets)
    assert [e["url"] for e in data["endpoint"]] == ["https://xn--bcher-kva.example/"]


def test_endpoints_option_takes_the_json_and_collects_like_the_toml(
    converted: dict[str, Endpoint], tmp_path: Path
) -> None:
    proc = pytest_run(f"--endpoints={SAMPLE}", "--collect-only", "-q", "-m", "firewall or tls")
    ids = [line.split("[", 1)[1][:-1] for line in proc.stdout.splitlines() if "::" in line]
    https = [e for e in converted.values() if e.scheme == "https"]
    assert len(ids) == 511 + len(https)
    assert set(ids) == set(converted)


def test_import_from_the_service_url_sends_a_client_request_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    with WebServer(routes={"*": Response(body=SAMPLE.read_bytes())}) as service:
        url = f"{service.url}/endpoints/worldwide"
        assert main(["import-m365", url, "-o", str(tmp_path / "o.toml")]) == 0
    (request,) = service.requests
    path, _, query = request.path.partition("?")
    assert path == "/endpoints/worldwide"
    uuid.UUID(query.removeprefix("clientrequestid="))
    assert len(load(tmp_path / "o.toml").endpoints) == 511


# --- part of the list against the lab ---


def subset(tmp_path: Path, *ids: int) -> Path:
    path = tmp_path / "subset.json"
    path.write_text(json.dumps([s for s in SETS if s["id"] in ids]))
    return path


def test_service_json_runs_against_the_lab(lab: Lab, tmp_path: Path) -> None:
    # Set 92 (required): officecdn.microsoft.com answers, the edgesuite.net name does not exist.
    # Set 96 (optional): go.microsoft.com answers, the others do not exist; one wildcard.
    run = lab.run(subset(tmp_path, 92, 96), "-m", "firewall or tls", timeout=5)
    assert run.exit_code == 1
    verdicts = {name: case.outcome for name, case in run.cases.items()}
    assert verdicts["test_firewall[officecdn.microsoft.com]"] == "passed"
    assert verdicts["test_firewall[officecdn.microsoft.com:80]"] == "passed"
    assert verdicts["test_tls12[officecdn.microsoft.com]"] == "passed"
    assert run.verdict("test_firewall[officecdn.microsoft.com.edgesuite.net]") == (
        "failed",
        "dns",
        "dns_nxdomain",
    )
    assert verdicts["test_firewall[go.microsoft.com]"] == "passed"
    assert verdicts["test_firewall[vortex.data.microsoft.com]"] == "xfailed"
    assert verdicts["test_firewall[*.manage.microsoft.com]"] == "skipped"
    failed = {n for n, o in verdicts.items() if o == "failed"}
    assert failed == {
        "test_firewall[officecdn.microsoft.com.edgesuite.net]",
        "test_firewall[officecdn.microsoft.com.edgesuite.net:80]",
        "test_tls12[officecdn.microsoft.com.edgesuite.net]",
    }
    record = next(r for r in run.results["results"] if r["endpoint"] == "go.microsoft.com")
    assert (record["service_area"], record["category"], record["required"]) == (
        "Common",
        "Default",
        False,
    )


def test_wildcards_with_probe_hosts_run_against_the_lab(lab: Lab, tmp_path: Path) -> None:
    # Sets 50, 51, 10, 154: wildcards of all three forms and SMTP on port 25, all required.
    profile = tmp_path / "wild.toml"
    pair = "*.microsoft.com=go.microsoft.com"
    src = str(subset(tmp_path, 50, 51, 10, 154))
    assert main(["import-m365", src, "-o", str(profile), "--probe-host", pair]) == 0
    run = lab.run(profile, "-m", "firewall or tls", timeout=5)
    assert run.exit_code == 0, run.output
    assert run.verdict("test_firewall[*.microsoft.com]") == ("passed", "", "")
    assert run.cases["test_tls12[*.microsoft.com]"].props["target"] == "https://go.microsoft.com/"
    skipped = {n: c.message for n, c in run.cases.items() if c.outcome == "skipped"}
    assert (
        "wildcard *cdn.onenote.net: no concrete host" in skipped["test_firewall[*cdn.onenote.net]"]
    )
    assert (
        "wildcard autodiscover.*.onmicrosoft.com"
        in skipped["test_firewall[autodiscover.*.onmicrosoft.com]"]
    )
    assert "TCP port 25 is not HTTP" in skipped["test_firewall[*.mail.protection.outlook.com:25]"]
