"""Delivery through a real SMTP server: the message received, and every way it can fail."""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import shutil
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from markupsafe import escape

from audit.cli.main import main
from audit.deliver.capture import Received
from audit.evaluate.headline import DEFINITIONS, FigureKey
from audit.model.snapshot import CredentialInfo, write_snapshot
from audit.render.changes import changes_display
from audit.render.summary import HeadlineFigure, executive_summary, headline_figures
from audit.run_folder import load_run_with_history
from tests.helpers.history import WIN
from tests.helpers.history import run_month as job
from tests.helpers.history import snapshot as fleet_snapshot
from tests.helpers.mail import (
    CC,
    NOVEMBER,
    OCTOBER,
    PASSWORD_ENV,
    SECRET,
    TO,
    USER,
    Pki,
    assert_complete,
    make_pki,
    november,
    sha256,
    smtp_server,
    tree,
    two_months,
    write_config,
)
from tests.helpers.vms import api_vm

# Implicit TLS: aiosmtpd warns that AUTH does not require STARTTLS, which does not apply.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
# The fixture runs are taken on the period's 1st: the period is in progress.
SUBJECT = (
    "Windows licence audit 2026-11 (period in progress: 1 of 30 days observed): "
    "2 Windows servers ran unbilled, 1 new"
)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """November's run folder, October's beside it (shared: mailing never changes it)."""
    return two_months(tmp_path_factory.mktemp("runs") / "out")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(autouse=True)
def password(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv(PASSWORD_ENV, SECRET)
    yield


def parse(received: Received) -> EmailMessage:
    message = message_from_bytes(received.content, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def assert_no_secret(*texts: str | bytes) -> None:
    encoded = base64.b64encode(SECRET.encode())
    for text in texts:
        data = text.encode() if isinstance(text, str) else text
        assert SECRET.encode() not in data
        assert encoded not in data


def mail(run_dir: Path, config: Path, *more: str) -> int:
    return main(["mail", str(run_dir), "--config", str(config), *more])


def open_findings(run_dir: Path, rule_id: str | None = None) -> list[dict[str, Any]]:
    """findings.json's open findings (of one rule)."""
    document = json.loads((run_dir / "findings.json").read_text())
    return [
        f for f in document["findings"] if f["status"] == "open" and rule_id in (None, f["rule_id"])
    ]


def expected_subject(run_dir: Path) -> str:
    """The subject counted from findings.json: open WIN-UNLICENSED findings, and those new or
    reopened since the previous run."""
    unlicensed = open_findings(run_dir, "WIN-UNLICENSED")
    arrived = [f for f in unlicensed if f["change"] in ("new", "reopened")]
    exposure = json.loads((run_dir / "findings.json").read_text(encoding="utf-8"))["exposure"]
    status = (
        f"period in progress: {exposure['days_observed']} of {exposure['period_days']} days "
        "observed"
    )
    return (
        f"Windows licence audit {run_dir.name} ({status}): {len(unlicensed)} Windows servers ran "
        f"unbilled, {len(arrived)} new"
    )


def assert_summary(run_dir: Path, text: str, page_html: str, before: dict[str, str]) -> None:
    """Both bodies carry the verdict, the headline figures with their definitions and changes,
    every executive-summary line of the reports, and the run folder."""
    run = load_run_with_history(run_dir)
    summary = executive_summary(run, changes_display(run))
    figures = headline_figures(run)
    high = [f for f in open_findings(run_dir) if f["severity"] == "high"]
    judged = (
        f"FAIL: {len(high)} open finding(s) of severity high (--fail-on high). "
        "Period in progress: 1 of 30 days observed."
    )
    assert summary[0].text == judged
    unlicensed = len(open_findings(run_dir, "WIN-UNLICENSED"))
    october = len(open_findings(run_dir.parent / OCTOBER, "WIN-UNLICENSED"))
    figure_line = (
        f"  Windows Server guests that ran unbilled this period: {unlicensed} "
        f"({figures[0].days_text}) ({unlicensed - october:+} since {OCTOBER})"
    )

    lines = text.splitlines()
    assert lines[2] == f"Verdict: {judged}"
    assert figure_line in lines
    # The position an auditor signs: its overall total and the guests that ran, as computed.
    overall, ran = run.figures.signed[-1], run.figures.ran_total
    [total] = [line.split()[-5:] for line in lines if line.startswith("  Total, every service ")]
    assert total == [
        f"{value:,}"
        for value in (
            overall.billed_vms or 0,
            overall.billed_vcpus or 0,
            overall.peak_vms,
            overall.vms_at_close,
            overall.vmlicensed_at_close or 0,
        )
    ]
    assert (
        f"  Total, every service: {ran.ran:,} ran; billed {ran.billed:,}, BYOL {ran.byol:,}, "
        f"ran unbilled {unlicensed:,} ({ran.unbilled_vm_days:,} VM-days), other {ran.other:,}"
    ) in lines
    assert "Hosted Private Cloud billing guide, updated 2024-03-21" in text
    for figure in figures:
        assert figure.change_text is not None and figure.change_text in text
        assert f"    {figure.definition}" in lines
    for line in summary[1:]:
        assert f"  {line.label}: {line.text}" in lines
    assert any(before["remediation/plan.json"] in line for line in lines)
    assert f"Run folder: {run_dir.resolve()}" in lines

    page = lxml.html.fromstring(page_html)
    assert not page.xpath("//script | //style | //link | //img | //*[@onload or @onclick]")
    shown = " ".join(" ".join(page.itertext()).split())
    assert f"Verdict: {judged}" in shown
    assert "Licence position: what OVHcloud bills" in shown and "is not seen" in shown
    definition = DEFINITIONS[FigureKey.UNLICENSED_SERVER_GUESTS].sentence
    assert (
        f"Windows Server guests that ran unbilled this period {unlicensed} "
        f"({figures[0].days_text}) {unlicensed - october:+} since "
        f"{OCTOBER} {' '.join(definition.split())}"
    ) in shown
    assert any("'" in figure.definition for figure in figures)  # escaping is exercised
    for item in (*summary, *figures):
        written = item.definition if isinstance(item, HeadlineFigure) else item.text
        assert str(escape(written)) in page_html
        assert " ".join(written.split()) in shown
    assert before["remediation/plan.json"] in shown
    assert str(run_dir.resolve()) in shown


@pytest.mark.parametrize(
    ("security", "mechanisms"),
    [("starttls", ("PLAIN",)), ("starttls", ("LOGIN",)), ("ssl", ("LOGIN", "PLAIN"))],
)
def test_the_mail_carries_the_summary_and_the_run_folders_files(
    run_dir: Path,
    pki: Pki,
    tmp_path: Path,
    security: str,
    mechanisms: tuple[str, ...],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.WARNING, logger="mail.log")  # the test server's own log
    before = tree(run_dir)
    with smtp_server(pki, security, mechanisms=mechanisms) as server:
        config = write_config(tmp_path / "audit.toml", server.port, pki, security)
        assert mail(run_dir, config) == 0
    [received] = server.mailbox.messages
    assert received.mail_from == "audit@example.com"
    assert received.rcpt_tos == TO + CC
    message = parse(received)
    assert message["Subject"] == SUBJECT == expected_subject(run_dir)
    assert message["From"] == "Licence audit <audit@example.com>"
    assert message["To"] == ", ".join(TO)
    assert message["Cc"] == ", ".join(CC)
    assert parsedate_to_datetime(message["Date"]).tzinfo is not None
    assert message["Message-ID"].startswith("<") and message["Message-ID"].endswith("@example.com>")

    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None and html is not None
    assert_summary(run_dir, plain.get_content(), html.get_content(), before)

    attachments = {part.get_filename(): part for part in message.iter_attachments()}
    assert sorted(attachments) == ["report.html", "report.xlsx"]
    assert attachments["report.xlsx"].get_content_type() == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert attachments["report.html"].get_content_type() == "text/html"
    for name, part in attachments.items():
        assert sha256(part.get_payload(decode=True)) == before[name]

    out, err = capsys.readouterr()
    assert f"sent to {', '.join(TO + CC)}" in out and err == ""
    assert_no_secret(
        received.content,
        out,
        err,
        caplog.text,
        *(path.read_bytes() for path in run_dir.parent.rglob("*") if path.is_file()),
    )
    assert tree(run_dir) == before


def test_to_replaces_the_configured_recipients(run_dir: Path, pki: Pki, tmp_path: Path) -> None:
    with smtp_server(pki) as server:
        config = write_config(tmp_path / "audit.toml", server.port, pki)
        assert mail(run_dir, config, "--to", "a@example.org", "b@example.org") == 0
    [received] = server.mailbox.messages
    assert received.rcpt_tos == ("a@example.org", "b@example.org")
    assert parse(received)["Cc"] is None


def test_a_run_folder_edited_since_the_run_is_not_sent(
    run_dir: Path, pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edited = tmp_path / "edited"
    shutil.copytree(run_dir, edited)
    findings = edited / "findings.json"
    findings.write_text(findings.read_text().replace('"high"', '"low"'))
    with smtp_server(pki) as server:
        config = write_config(tmp_path / "audit.toml", server.port, pki)
        assert mail(edited, config) == 2
    assert server.mailbox.messages == []
    [line] = capsys.readouterr().err.splitlines()
    assert str(findings) in line and "manifest.json" in line and "not sent; restore it" in line


def test_the_verdict_is_the_runs_own_fail_on_not_the_configs(
    run_dir: Path, pki: Pki, tmp_path: Path
) -> None:
    """November ran with --fail-on high; `mail` says so whatever [audit] fail_on says now."""
    with smtp_server(pki) as server:
        config = write_config(tmp_path / "audit.toml", server.port, pki, fail_on="never")
        assert mail(run_dir, config) == 0
    plain = parse(server.mailbox.messages[0]).get_body(("plain",))
    assert plain is not None
    high = [f for f in open_findings(run_dir) if f["severity"] == "high"]
    assert (
        f"Verdict: FAIL: {len(high)} open finding(s) of severity high (--fail-on high). "
        "Period in progress: 1 of 30 days observed." in plain.get_content().splitlines()
    )


def test_what_does_not_fit_stays_in_the_run_folder_and_the_body_says_where(
    run_dir: Path, pki: Pki, tmp_path: Path
) -> None:
    sizes = {name: (run_dir / name).stat().st_size for name in ("report.xlsx", "report.html")}
    limit_mb = (sizes["report.xlsx"] + 1) / 1_000_000  # the workbook fits, then nothing else
    extra = (
        f'attach = ["report.xlsx", "report.html", "missing.pdf"]\nmax_attachment_mb = {limit_mb}\n'
    )
    with smtp_server(pki) as server:
        config = write_config(tmp_path / "audit.toml", server.port, pki, extra=extra)
        assert mail(run_dir, config) == 0
    message = parse(server.mailbox.messages[0])
    assert [part.get_filename() for part in message.iter_attachments()] == ["report.xlsx"]
    plain = message.get_body(("plain",))
    assert plain is not None
    lines = plain.get_content().splitlines()
    assert any(
        line.startswith("Not attached: report.html (")
        and f"over the {limit_mb:g} MB limit); it is in the run folder." in line
        for line in lines
    )
    assert "Not attached: missing.pdf (not in the run folder)." in lines
    assert f"Run folder: {run_dir.resolve()}" in lines


@pytest.mark.slow
def test_run_mail_sends_once_the_run_folder_is_in_place(
    pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    job(out, "2026-10", {("pcc-203-0-113-10", 1): [api_vm(1, WIN, None)]})
    snapshot = tmp_path / "november.json.gz"
    write_snapshot(fleet_snapshot(november(), "2026-11-01T03:00:00Z"), snapshot)
    with smtp_server(pki) as server:
        config = write_config(tmp_path / "audit.toml", server.port, pki, fail_on="high")
        code = main(
            [
                "run",
                "--from-snapshot",
                str(snapshot),
                "--out",
                str(out),
                "--period",
                NOVEMBER,
                "--config",
                str(config),
                "--mail",
            ]
        )
    assert code == 1  # the run's own code: open high findings
    [received] = server.mailbox.messages
    message = parse(received)
    assert message["Subject"] == SUBJECT == expected_subject(out / NOVEMBER)
    assert_complete(out / NOVEMBER)
    assert "mail: 2026-11 sent to" in capsys.readouterr().out


def run_mail_unreachable_api(out: Path, config: Path) -> int:
    """`run --mail` against an endpoint nobody listens on: reaching it is another error."""
    endpoint = "http://127.0.0.1:9/1.0"
    return main(
        ["run", "--endpoint", endpoint, "--out", str(out), "--config", str(config), "--mail"]
    )


def test_run_mail_without_a_mail_section_fails_before_the_job(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "audit.toml"
    config.write_text('[audit]\nfail_on = "high"\n')
    assert run_mail_unreachable_api(tmp_path / "out", config) == 2
    err = capsys.readouterr().err
    assert err == "ovh-license-audit: error: --mail needs a [mail] section in the --config file\n"
    assert not (tmp_path / "out").exists()


def test_run_mail_without_the_password_fails_before_the_job(
    pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(PASSWORD_ENV)
    config = write_config(tmp_path / "audit.toml", 25, pki)
    assert run_mail_unreachable_api(tmp_path / "out", config) == 2
    assert capsys.readouterr().err == (
        f"ovh-license-audit: error: {config}: mail.password_env: the environment variable "
        f"{PASSWORD_ENV} is not set\n"
    )
    assert not (tmp_path / "out").exists()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _fail(
    run_dir: Path, config: Path, capsys: pytest.CaptureFixture[str], before: dict[str, str]
) -> str:
    assert mail(run_dir, config) == 4
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and err.startswith("ovh-license-audit: error: mail not delivered: ")
    assert err.endswith("the run folder is complete, `mail RUN_DIR` sends it again\n")
    assert_no_secret(out, err)
    assert tree(run_dir) == before
    assert_complete(run_dir)
    return err


def test_refused_login(
    run_dir: Path,
    pki: Pki,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "wrong-" + SECRET[::-1])
    before = tree(run_dir)
    with smtp_server(pki) as server:
        config = write_config(tmp_path / "audit.toml", server.port, pki)
        err = _fail(run_dir, config, capsys, before)
    assert (
        f"127.0.0.1:{server.port}: login refused: 535 5.7.8 Authentication credentials invalid"
        in err
    )
    assert server.mailbox.messages == []


def test_refused_recipient(
    run_dir: Path, pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = tree(run_dir)
    with smtp_server(pki, refuse=frozenset(TO + CC)) as server:
        config = write_config(tmp_path / "audit.toml", server.port, pki)
        err = _fail(run_dir, config, capsys, before)
    assert f"recipient refused: {TO[0]}: 550 5.1.1 <{TO[0]}>: recipient unknown" in err


def test_a_recipient_refused_among_others_is_still_a_failure(
    run_dir: Path, pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = tree(run_dir)
    with smtp_server(pki, refuse=frozenset({CC[1]})) as server:
        config = write_config(tmp_path / "audit.toml", server.port, pki)
        err = _fail(run_dir, config, capsys, before)
    assert f"delivered to the others, recipient refused: {CC[1]}: 550 5.1.1" in err
    assert server.mailbox.messages[0].rcpt_tos == TO + CC[:1]


def test_server_down_then_mail_resends(
    run_dir: Path, pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = tree(run_dir)
    port = _closed_port()
    config = write_config(tmp_path / "audit.toml", port, pki)
    err = _fail(run_dir, config, capsys, before)
    assert f"127.0.0.1:{port}: cannot connect: Connection refused" in err
    with smtp_server(pki) as server:
        config = write_config(tmp_path / "audit.toml", server.port, pki)
        assert mail(run_dir, config) == 0
    assert parse(server.mailbox.messages[0])["Subject"] == SUBJECT


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_untrusted_certificate(
    run_dir: Path, pki: Pki, tmp_path: Path, security: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = tree(run_dir)
    with smtp_server(pki, security, untrusted=True) as server:
        config = write_config(tmp_path / "audit.toml", server.port, pki, security)
        err = _fail(run_dir, config, capsys, before)
    assert "TLS failed: certificate verify failed: unable to get local issuer certificate" in err
    assert server.mailbox.messages == []


def test_timeout(
    run_dir: Path, pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A server that accepts the connection and never greets."""
    before = tree(run_dir)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        config = write_config(tmp_path / "audit.toml", port, pki, extra="timeout_s = 0.2\n")
        err = _fail(run_dir, config, capsys, before)
    assert f"127.0.0.1:{port}: no answer within 0.2 s (mail.timeout_s)" in err


@pytest.mark.parametrize(
    "to",
    [
        "evil@example.net <a@example.com>",
        "Owner <a@example.com>",  # display names come from the configuration only
        "a@example.com, evil@example.net",
        "a@example.com; evil@example.net",
        "undisclosed: a@example.com;",
        "a@example.com\x85",
        "a\x0b@example.com",
    ],
)
def test_to_takes_one_plain_address_per_value(
    run_dir: Path, pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str], to: str
) -> None:
    with smtp_server(pki) as server:
        config = write_config(tmp_path / "audit.toml", server.port, pki)
        with pytest.raises(SystemExit) as exit_code:
            mail(run_dir, config, "--to", to)
    assert exit_code.value.code == 2
    assert "plain mail address such as name@example.com" in capsys.readouterr().err
    assert server.mailbox.messages == []


def test_the_envelope_is_the_validated_addresses_not_the_headers_reread(
    run_dir: Path, pki: Pki, tmp_path: Path
) -> None:
    extra = 'to = ["Licence Owner <owner@example.com>"]\ncc = []\n'
    with smtp_server(pki) as server:
        config = write_config(tmp_path / "audit.toml", server.port, pki)
        text = config.read_text().replace(
            f"to = {json.dumps(list(TO))}\ncc = {json.dumps(list(CC))}\n", extra
        )
        config.write_text(text)
        assert mail(run_dir, config) == 0
    [received] = server.mailbox.messages
    assert received.rcpt_tos == ("owner@example.com",)
    assert received.mail_from == "audit@example.com"
    assert parse(received)["To"] == "Licence Owner <owner@example.com>"


def serve_raw(
    reply: Callable[[socket.socket], None], wrap: ssl.SSLContext | None = None
) -> Iterator[int]:
    """A one-connection TCP server on a free port whose side of the talk is `reply`."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    stop = threading.Event()

    def serve() -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with contextlib.suppress(OSError, ssl.SSLError):
            if wrap is not None:
                conn = wrap.wrap_socket(conn, server_side=True)
            with conn:
                reply(conn)
        stop.set()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()
        thread.join(timeout=10)


@pytest.mark.timeout(30)
def test_a_server_that_trickles_its_greeting_cannot_hold_the_delivery_past_timeout_s(
    run_dir: Path, pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A `220-` line every 0.1 s: each read ends well within the socket timeout."""

    def trickle(conn: socket.socket) -> None:
        for _ in range(600):  # a minute of greeting, unless the client hangs up
            conn.sendall(b"220-still greeting\r\n")
            time.sleep(0.1)

    before = tree(run_dir)
    for port in serve_raw(trickle):
        config = write_config(tmp_path / "audit.toml", port, pki, extra="timeout_s = 0.5\n")
        err = _fail(run_dir, config, capsys, before)
    assert "no answer within 0.5 s (mail.timeout_s) for the whole delivery" in err


def test_no_encoding_of_the_password_a_server_echoes_is_printed(
    run_dir: Path, pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plain_auth = base64.b64encode(f"\0{USER}\0{SECRET}".encode()).decode()
    encoded = base64.b64encode(SECRET.encode()).decode()

    def echo(conn: socket.socket) -> None:
        lines = conn.makefile("rb")
        conn.sendall(b"220 echo ESMTP\r\n")
        for raw in lines:
            line = raw.decode().strip()
            if line.upper().startswith("EHLO"):
                conn.sendall(b"250-echo\r\n250 AUTH PLAIN\r\n")
            elif line.upper().startswith("AUTH"):
                said = line.split()[-1]
                conn.sendall(f"535 5.7.8 rejected {said} = {encoded} = {SECRET}\r\n".encode())
            else:
                conn.sendall(b"221 bye\r\n")
                return

    before = tree(run_dir)
    for port in serve_raw(echo, wrap=pki.server):
        config = write_config(tmp_path / "audit.toml", port, pki, security="ssl")
        err = _fail(run_dir, config, capsys, before)
    assert "login refused: 535 5.7.8 rejected *** = *** = ***" in err
    assert plain_auth not in err and encoded not in err and SECRET not in err


@pytest.fixture
def run_copy(run_dir: Path, tmp_path: Path) -> Path:
    """A copy of the output folder (the run folder and its history) to tamper with."""
    shutil.copytree(run_dir.parent, tmp_path / "copy")
    return tmp_path / "copy" / run_dir.name


def test_a_file_added_to_the_run_folder_is_never_attached(
    run_copy: Path, pki: Pki, tmp_path: Path
) -> None:
    (run_copy / "notes.txt").write_text("not from the run")
    extra = 'attach = ["report.html", "notes.txt"]\n'
    with smtp_server(pki) as server:
        config = write_config(tmp_path / "audit.toml", server.port, pki, extra=extra)
        assert mail(run_copy, config) == 0
    message = parse(server.mailbox.messages[0])
    assert [part.get_filename() for part in message.iter_attachments()] == ["report.html"]
    plain = message.get_body(("plain",))
    assert plain is not None
    assert (
        "Not attached: notes.txt (not listed in the run's manifest.json, so not vouched for)."
        in plain.get_content().splitlines()
    )


def test_a_link_in_the_run_folder_is_refused(
    run_copy: Path, pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("secret elsewhere")
    (run_copy / "extra.txt").symlink_to(outside)
    with smtp_server(pki) as server:
        config = write_config(tmp_path / "audit.toml", server.port, pki)
        assert mail(run_copy, config) == 2
    assert server.mailbox.messages == []
    [line] = capsys.readouterr().err.splitlines()
    assert f"{run_copy / 'extra.txt'}: a symbolic link in the run folder" in line


def test_a_period_with_a_line_break_is_an_input_error(
    run_copy: Path, pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """findings.json edited (and its manifest entry too): the period names no month."""
    findings = run_copy / "findings.json"
    document = json.loads(findings.read_text())
    document["run"]["period"] = "2026-11\nBcc: evil@example.net"
    findings.write_text(json.dumps(document))
    manifest = json.loads((run_copy / "manifest.json").read_text())
    manifest["files"]["findings.json"] = sha256(findings.read_bytes())
    (run_copy / "manifest.json").write_text(json.dumps(manifest))
    with smtp_server(pki) as server:
        config = write_config(tmp_path / "audit.toml", server.port, pki)
        assert mail(run_copy, config) == 2
    assert server.mailbox.messages == []
    [line] = capsys.readouterr().err.splitlines()
    assert "run: damaged (expected a period YYYY-MM" in line


def test_control_characters_from_the_api_are_shown_escaped_in_both_bodies(
    pki: Pki, tmp_path: Path
) -> None:
    """A key whose rights could not be read: the reason, from the API, reaches the summary."""
    osc8 = "\x1b]8;;https://evil.example/\x07click\x1b]8;;\x07\r\x1b[2J\u202e\u200b"
    snapshot = fleet_snapshot(november(), "2026-11-01T03:00:00Z")
    meta = replace(snapshot.meta, credential=CredentialInfo(note=f"HTTP 403 {osc8}"))
    path = tmp_path / "snapshot.json.gz"
    write_snapshot(replace(snapshot, meta=meta), path)
    out = tmp_path / "out"
    args = ["run", "--from-snapshot", str(path), "--out", str(out), "--period", NOVEMBER]
    assert main([*args, "--fail-on", "never"]) == 0
    with smtp_server(pki) as server:
        config = write_config(tmp_path / "audit.toml", server.port, pki)
        assert mail(out / NOVEMBER, config) == 0
    message = parse(server.mailbox.messages[0])
    plain, html = message.get_body(("plain",)), message.get_body(("html",))
    assert plain is not None and html is not None
    for body in (plain.get_content(), html.get_content()):
        assert "HTTP 403" in body
        assert not any(char in body for char in "\x1b\x07\u202e\u200b")
        assert "\\x1b]8;;https://evil.example/\\x07click" in body
        assert "\\r" in body and "\\u202e" in body and "\\u200b" in body
