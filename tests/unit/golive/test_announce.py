"""``roster announce``: the go-live emails, their content, the .eml previews, and sending to a real SMTP server."""

from __future__ import annotations

import email.policy
import json
import re
import socket
from collections.abc import Iterator
from email.parser import BytesParser
from pathlib import Path

import pytest

from domain_fixtures import copy_include, district_data, set_key, write_district
from roster.cli import main

ADMIN_EML = "announce_administrators.eml"
TEACHER_EML = "announce_teachers.eml"


def _one_error_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and "Traceback" not in err
    return lines[0]


def _parse(path: Path):
    return BytesParser(policy=email.policy.default).parsebytes(path.read_bytes())


def _text(message) -> str:
    """The HTML body as plain words: tags dropped, whitespace collapsed."""
    html = message.get_body(("html",)).get_content()
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@pytest.fixture
def previews(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    assert main(["announce", "--district", "sample_isd", "--out", str(out)]) == 0
    return out


def test_writes_two_parseable_eml_files(previews: Path, capsys) -> None:
    assert sorted(p.name for p in previews.iterdir()) == [ADMIN_EML, TEACHER_EML]
    admin, teachers = _parse(previews / ADMIN_EML), _parse(previews / TEACHER_EML)
    assert admin["To"] == "principals@sample.k12.example"
    assert teachers["To"] == "teachers@sample.k12.example"
    for message in (admin, teachers):
        assert "Sample ISD" in message["Subject"]
        assert message["From"] and message["Date"] and message["Message-ID"]
        assert message.get_content_type() == "multipart/alternative"
        assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
        assert "Sample ISD" in message.get_body(("plain",)).get_content()
    assert admin["Subject"] != teachers["Subject"]


def test_admin_email_makes_every_point_of_the_seed(previews: Path) -> None:
    text = _text(_parse(previews / ADMIN_EML))
    # 1. the new process for adding students' ELA and Math scores
    assert "Adding students' ELA and Math scores: the new process" in text
    assert "ELA and Math scores are now entered in the SIS" in text
    # 2. issues go to the point person (by address), who takes them to the Rethink Ed coordinator
    assert (
        "must be reported to the district's point person, it@sample.k12.example , who takes it to the Rethink Ed coordinator"
        in text
    )
    assert "coordinator@example.org" in text
    # 3. administrators must not add, archive or delete students unless directed
    assert (
        "Administrators must not add, archive or delete students in Rethink Ed unless the point person or "
        "the Rethink Ed coordinator directs them to." in text
    )


def test_teachers_email_introduces_the_nightly_integration(previews: Path) -> None:
    text = _text(_parse(previews / TEACHER_EML))
    assert "automatically, every night" in text
    assert "Your students appear in Rethink Ed on their own" in text
    assert "Report any problem" in text and "it@sample.k12.example" in text


def test_score_process_follows_what_the_export_carries(tmp_path: Path) -> None:
    """A district whose SIS export has no score columns is not told that scores come from the SIS."""
    include = copy_include(tmp_path)
    data = district_data()
    for key in ("ela_score", "math_score"):
        del data["source"]["columns"][key]
    write_district(include, data)
    out = tmp_path / "out"
    assert main(["announce", "--district", "sample_isd", "--out", str(out), "--include-dir", str(include)]) == 0
    text = _text(_parse(out / ADMIN_EML))
    assert "ELA and Math scores are not part of the nightly roster yet" in text
    assert "ELA and Math scores are now entered in the SIS" not in text


def test_templates_are_the_districts_to_edit(tmp_path: Path) -> None:
    include = copy_include(tmp_path)
    (include / "templates" / "announce_teachers.subject.j2").write_text(
        "Hello from {{ district.district_id }}\n", encoding="utf-8"
    )
    out = tmp_path / "out"
    assert main(["announce", "--district", "sample_isd", "--out", str(out), "--include-dir", str(include)]) == 0
    assert _parse(out / TEACHER_EML)["Subject"] == "Hello from sample_isd"


@pytest.mark.parametrize("key", ["teachers", "administrators"])
def test_empty_audience_is_an_error_naming_the_key(tmp_path: Path, capsys, key: str) -> None:
    include = copy_include(tmp_path)
    write_district(include, set_key(district_data(), f"contacts.{key}", []))
    out = tmp_path / "out"
    assert main(["announce", "--district", "sample_isd", "--out", str(out), "--include-dir", str(include)]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert f"key 'contacts.{key}' is empty" in line and "sample_isd.yaml" in line
    assert not out.exists() or not any(out.iterdir())


def test_broken_template_is_one_line(tmp_path: Path, capsys) -> None:
    include = copy_include(tmp_path)
    (include / "templates" / "announce_administrators.html.j2").write_text("{{ nope }}", encoding="utf-8")
    assert (
        main(["announce", "--district", "sample_isd", "--out", str(tmp_path / "out"), "--include-dir", str(include)])
        == 2
    )
    assert "announce_administrators" in _one_error_line(capsys.readouterr().err)


# Sending ----------------------------------------------------------------------------------------


@pytest.fixture
def smtp_sink(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator:
    """A real aiosmtpd server on loopback, as the district's ``smtp_default`` connection."""
    from devtools.servers import airflow_smtp_connection, start_smtp

    sink = start_smtp(tmp_path / "mail")
    monkeypatch.setenv(
        "AIRFLOW_CONN_SMTP_DEFAULT", json.dumps(airflow_smtp_connection(sink, from_email="roster@sample.k12.example"))
    )
    try:
        yield sink
    finally:
        sink.stop()


def test_send_reaches_the_smtp_server(smtp_sink, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert main(["announce", "--district", "sample_isd", "--out", str(out), "--send"]) == 0
    received = {m["To"]: m for m in smtp_sink.messages()}
    assert sorted(received) == ["principals@sample.k12.example", "teachers@sample.k12.example"]
    for to, eml in (("principals@sample.k12.example", ADMIN_EML), ("teachers@sample.k12.example", TEACHER_EML)):
        preview = _parse(out / eml)
        assert received[to]["Subject"] == preview["Subject"]
        assert received[to]["From"] == "roster@sample.k12.example"
        assert _text(received[to]) == _text(preview)  # what was sent is what the preview shows
    assert "sent the administrators email through connection 'smtp_default'" in capsys.readouterr().out


def test_without_send_nothing_is_sent(smtp_sink, previews: Path) -> None:
    assert smtp_sink.messages() == []


def test_send_failure_is_one_line(tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    connection = {
        "conn_type": "smtp",
        "host": "127.0.0.1",
        "port": port,
        "extra": {"disable_tls": True, "disable_ssl": True, "retry_limit": 0, "timeout": 5},
    }
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps(connection))
    out = tmp_path / "out"
    assert main(["announce", "--district", "sample_isd", "--out", str(out), "--send"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "SMTP connection 'smtp_default': could not send" in line and "ConnectionRefusedError" in line
    assert (out / ADMIN_EML).exists()  # the previews are written before sending


def test_undefined_connection_is_one_line(tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    include = copy_include(tmp_path)
    write_district(include, set_key(district_data(), "smtp_conn_id", "no_such_smtp"))
    args = [
        "announce",
        "--district",
        "sample_isd",
        "--out",
        str(tmp_path / "out"),
        "--send",
        "--include-dir",
        str(include),
    ]
    assert main(args) == 2
    assert "SMTP connection 'no_such_smtp'" in _one_error_line(capsys.readouterr().err)
