"""The [mail] section: defaults, and one-line errors naming the file and the key; the digest
of a first run and of an incomplete one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from audit.config.mail import DEFAULT_ATTACH, MailSettings, Security
from audit.config.settings import load_config
from audit.deliver.digest import digest_from_run_dir
from audit.deliver.message import build_message
from audit.model.snapshot import Failure, Scope
from audit.support.errors import InputError
from tests.helpers.history import LINUX, PROD, STD, WIN
from tests.helpers.history import run_month as job
from tests.helpers.vms import api_vm

MINIMAL = (
    '[mail]\nhost = "smtp.example.com"\nfrom = "audit@example.com"\nto = "owner@example.com"\n'
)


def load(tmp_path: Path, text: str) -> MailSettings | None:
    path = tmp_path / "audit.toml"
    path.write_text(text)
    return load_config(path).mail


def test_defaults(tmp_path: Path) -> None:
    settings = load(tmp_path, MINIMAL)
    assert settings == MailSettings(
        host="smtp.example.com",
        sender="audit@example.com",
        to=("owner@example.com",),
        port=587,
        security=Security.STARTTLS,
        attach=DEFAULT_ATTACH,
        max_attachment_mb=10.0,
        source=tmp_path / "audit.toml",
    )
    assert settings.password() is None
    assert load(tmp_path, '[audit]\nfail_on = "high"\n') is None


def test_ssl_port_and_ca_file_beside_the_config(tmp_path: Path) -> None:
    settings = load(tmp_path, MINIMAL + 'security = "ssl"\nca_file = "ca.pem"\n')
    assert settings is not None
    assert (settings.port, settings.ca_file) == (465, tmp_path / "ca.pem")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            'password = "hunter2"\n',
            "mail.password: a password never sits in the file; name the environment variable "
            "that holds it in mail.password_env",
        ),
        ('pasword_env = "X"\n', "[mail]: unknown key 'pasword_env'"),
        ('security = "tls"\n', "mail.security: expected one of starttls, ssl, none"),
        ("port = 70000\n", "mail.port: expected a number from 1 to 65535, got 70000"),
        (
            'cc = ["not an address"]\n',
            "mail.cc[0]: expected one plain mail address such as name@example.com, "
            "got 'not an address'",
        ),
        (
            'cc = ["a@example.com\\r\\nBcc: evil@example.net"]\n',
            "mail.cc[0]: expected one plain mail address such as name@example.com, "
            "got 'a@example.com\\r\\nBcc: evil@example.net'",
        ),
        ('username = "u"\n', "mail.password_env: required when mail.username is set"),
        (
            'username = "u"\npassword_env = "P"\nsecurity = "none"\n',
            'mail.username: a login with security = "none" would send the password in clear; '
            "use starttls or ssl",
        ),
        (
            'password_env = "$HOME"\n',
            "mail.password_env: expected the name of an environment variable (letters, digits "
            "and _), not the password itself (the value is not shown)",
        ),
        (
            'attach = ["../history.sqlite"]\n',
            "mail.attach[0]: expected a file inside the run folder, got '../history.sqlite'",
        ),
        (
            "max_attachment_mb = -1\n",
            "mail.max_attachment_mb: expected a number from 0 to 25, got -1",
        ),
    ],
)
def test_errors_name_the_file_and_the_key(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(InputError) as error:
        load(tmp_path, MINIMAL + extra)
    assert str(error.value) == f"{tmp_path / 'audit.toml'}: {message}"


ONE_ADDRESS = "expected one plain mail address such as name@example.com"
NAME_RULE = "expected `Display Name <name@example.com>` with a name of letters, digits and spaces"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("evil@example.net <a@example.com>", NAME_RULE),  # which one is it?
        ("a@example.com, b@example.com", ONE_ADDRESS),
        ("a@example.com; b@example.com", ONE_ADDRESS),
        ("undisclosed: a@example.com;", ONE_ADDRESS),
        ('"Audit, Team" <a@example.com>', NAME_RULE),
        ("Audit\x85Team <a@example.com>", NAME_RULE),  # NEL: a line break to some readers
        ("a\x0b@example.com", ONE_ADDRESS),
        ("a@example.com\u2028", ONE_ADDRESS),
        ("a@exa\x0cmple.com", ONE_ADDRESS),
        ("Audit\u2028 <a@example.com>", NAME_RULE),
        ("a@example.com (comment)", ONE_ADDRESS),
    ],
)
def test_each_entry_is_one_plain_address_or_a_plain_display_name(
    tmp_path: Path, entry: str, message: str
) -> None:
    text = MINIMAL + f"cc = [{json.dumps(entry)}]\n"
    with pytest.raises(InputError) as error:
        load(tmp_path, text)
    line = str(error.value)
    assert line == f"{tmp_path / 'audit.toml'}: mail.cc[0]: {line.split(': mail.cc[0]: ')[1]}"
    assert message in line and repr(entry) in line


def test_a_display_name_from_the_configuration_is_kept(tmp_path: Path) -> None:
    settings = load(tmp_path, MINIMAL + 'cc = ["Licence Auditors <auditors@example.com>"]\n')
    assert settings is not None and settings.cc == ("Licence Auditors <auditors@example.com>",)


@pytest.mark.parametrize("host", ["", "smtp.example.com\r\nRCPT TO:<x@example.net>", "a b"])
def test_a_host_that_is_no_host_name_is_a_configuration_error(tmp_path: Path, host: str) -> None:
    text = MINIMAL.replace('host = "smtp.example.com"', f"host = {json.dumps(host)}")
    with pytest.raises(InputError) as error:
        load(tmp_path, text)
    assert str(error.value) == (
        f"{tmp_path / 'audit.toml'}: mail.host: expected a host name or an IP address, got {host!r}"
    )


@pytest.mark.parametrize("value", ['"hunter2 pass!"', "12345678"])
def test_a_password_pasted_into_password_env_is_not_echoed(tmp_path: Path, value: str) -> None:
    with pytest.raises(InputError) as error:
        load(tmp_path, MINIMAL + f"password_env = {value}\n")
    assert "hunter2" not in str(error.value) and "12345678" not in str(error.value)
    assert "not the password itself" in str(error.value)


def test_an_unset_variable_whose_name_looks_like_a_password_is_not_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("Tr0ub4dor_3", raising=False)
    settings = load(tmp_path, MINIMAL + 'username = "u"\npassword_env = "Tr0ub4dor_3"\n')
    assert settings is not None
    with pytest.raises(InputError) as error:
        settings.password()
    assert "Tr0ub4dor" not in str(error.value) and "is not set" in str(error.value)


def test_attachments_over_25_mb_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="max_attachment_mb: expected a number from 0 to 25"):
        load(tmp_path, MINIMAL + "max_attachment_mb = 100\n")


def test_missing_key(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"audit.toml: \[mail\]: missing key 'to'$"):
        load(tmp_path, '[mail]\nhost = "h"\nfrom = "a@example.com"\n')


@pytest.mark.slow
def test_digest_of_a_first_run_and_of_an_incomplete_one(tmp_path: Path) -> None:
    fleet = {(PROD, 1): [api_vm(1, WIN, None), api_vm(2, LINUX, STD)]}
    run = job(tmp_path / "out", "2026-10", fleet, fail_on="medium")
    first = digest_from_run_dir(run.run_dir)
    assert first.new_unlicensed is None
    assert first.subject == (
        "Windows licence audit 2026-10 (period in progress: 1 of 31 days observed): "
        "1 Windows server ran unbilled"
    )
    assert (first.verdict.text, first.verdict.tone) == (
        "FAIL: 2 open finding(s) of severity medium or worse (--fail-on medium). "
        "Period in progress: 1 of 31 days observed.",
        "bad",
    )
    assert all(figure.change_text is None for figure in first.figures)
    settings = load(tmp_path, MINIMAL)
    assert settings is not None
    text = build_message(settings, first).get_body(("plain",))
    assert text is not None
    assert "  Since last run: First run: there is no previous run to compare with." in (
        text.get_content().splitlines()
    )

    failure = Failure(Scope.DATACENTER, f"/dedicatedCloud/{PROD}/datacenter/2", "500", PROD, 2)
    incomplete = job(tmp_path / "out", "2026-11", fleet, failures=(failure,))
    digest = digest_from_run_dir(incomplete.run_dir)
    assert digest.subject == (
        "Windows licence audit 2026-11 (INCOMPLETE) (period in progress: 1 of 30 days observed): "
        "1 Windows server ran unbilled, 0 new"
    )
    assert digest.verdict.text.startswith("INCOMPLETE: some objects could not be read")
    [unlicensed] = [f for f in digest.figures if f.key == "unlicensed_server_guests"]
    assert unlicensed.change_text == "no change since 2026-10"
    coverage = next(line for line in digest.summary if line.label == "Coverage")
    read = json.loads((incomplete.run_dir / "findings.json").read_text())["run"]["coverage"]
    assert read["complete"] is False and read["failures"]
    assert (coverage.text, coverage.tone) == (
        f"INCOMPLETE: {read['services_read']} of {read['services_listed']} service(s), "
        f"{read['datacenters_read']} of {read['datacenters_listed']} datacenter(s), "
        f"{read['vms_fetched']} of {read['vms_listed']} VM(s) read.",
        "bad",
    )


def test_a_run_that_predates_the_recorded_threshold_says_so(tmp_path: Path) -> None:
    """An older findings.json has no run.fail_on: the mail says it was not recorded, as the
    reports do, rather than judging it against today's configuration."""
    run = job(tmp_path / "out", "2026-10", {(PROD, 1): [api_vm(1, WIN, None)]}, fail_on="high")
    path = run.run_dir / "findings.json"
    document = json.loads(path.read_text())
    del document["run"]["fail_on"]
    path.write_text(json.dumps(document))
    digest = digest_from_run_dir(run.run_dir)
    assert digest.verdict.text == (
        "Not recorded: this run predates the recorded threshold. "
        "Period in progress: 1 of 31 days observed."
    )


def test_not_a_run_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"snapshot.json.gz: cannot read snapshot: No such file"):
        digest_from_run_dir(tmp_path)


def test_the_html_body_escapes_what_it_shows(tmp_path: Path) -> None:
    """The run folder's path is the one free text the summary shows: escaped, never markup."""
    out = tmp_path / "<script>alert(1)</script>"
    run = job(out, "2026-10", {(PROD, 1): [api_vm(1, WIN, None)]})
    settings = load(tmp_path, MINIMAL)
    assert settings is not None
    html = build_message(settings, digest_from_run_dir(run.run_dir)).get_body(("html",))
    assert html is not None
    assert "<script>" not in html.get_content()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html.get_content()
