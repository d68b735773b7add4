"""Every email goes out with a plain-text and an HTML part (multipart/alternative)."""

from __future__ import annotations

from pathlib import Path

from roster.notify.emails import Email, to_message
from tests.domain_fixtures import INCLUDE


def test_every_shipped_email_template_has_a_text_twin() -> None:
    templates = INCLUDE / "templates"
    html = {p.name.removesuffix(".html.j2") for p in templates.glob("*.html.j2") if not p.name.startswith("_")}
    text = {p.name.removesuffix(".txt.j2") for p in templates.glob("*.txt.j2") if not p.name.startswith("_")}
    assert html == text
    assert {"qa_failed", "nightly_summary", "hold", "oncall_failure", "watchdog"} <= html


def test_text_and_html_are_alternatives_and_attachments_follow(tmp_path: Path) -> None:
    attachment = tmp_path / "rejects.csv"
    attachment.write_text("row_number,state_test_number,field,reason\n")
    mail = Email(to=["a@x.example"], cc=["b@x.example"], subject="S", html="<p>hi</p>", text="hi")
    message = to_message(mail, "from@x.example", [attachment])
    assert message.get_content_type() == "multipart/mixed"
    alternative, attached = message.iter_parts()
    assert [p.get_content_type() for p in alternative.iter_parts()] == ["text/plain", "text/html"]
    assert attached.get_filename() == "rejects.csv" and attached.get_content_type() == "text/csv"
    assert message.get_body(("plain",)).get_content().strip() == "hi"
    assert (message["To"], message["Cc"], message["From"]) == ("a@x.example", "b@x.example", "from@x.example")


def test_without_a_text_twin_the_message_is_html_only() -> None:
    message = to_message(Email(to=["a@x.example"], cc=[], subject="S", html="<p>hi</p>"), "from@x.example")
    assert message.get_content_type() == "text/html" and message["Cc"] is None
