"""`check`: every input a run reads, one line per item, exit 0 or 2, never a secret, and no API
call unless --online."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from audit.cli.main import main
from audit.simulator.api import (
    DEFAULT_APPLICATION_KEY,
    DEFAULT_APPLICATION_SECRET,
    READONLY_CONSUMER_KEY,
)
from audit.simulator.server import Simulator

# Nothing listens on the discard port: a command that called the API would fail.
NO_API = "http://127.0.0.1:9/1.0"
APP_SECRET = "app-secret-that-must-never-show"
CONSUMER_KEY = "consumer-key-that-must-never-show"
SMTP_SECRET = "smtp-password-that-must-never-show"
SECRETS = (APP_SECRET, CONSUMER_KEY, SMTP_SECRET, DEFAULT_APPLICATION_SECRET)

REGISTER_HEADER = (
    "service_name,datacenter_id,vm_id,rule_id,kind,reason,approved_by,expires,reference"
)
MAIL = """
[mail]
host = "smtp.example.com"
username = "licence-audit"
password_env = "AUDIT_SMTP_PASSWORD"
from = "audit@example.com"
to = ["owner@example.com"]
"""


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No OVH_* variable and no ovh.conf of the machine: each test gives its own."""
    for name in list(os.environ):
        if name.startswith("OVH_") or name == "AUDIT_SMTP_PASSWORD":
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def env_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OVH_APPLICATION_KEY", DEFAULT_APPLICATION_KEY)
    monkeypatch.setenv("OVH_APPLICATION_SECRET", APP_SECRET)
    monkeypatch.setenv("OVH_CONSUMER_KEY", CONSUMER_KEY)


def check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, str], str]:
    """Exit code, {item: its line} and everything printed; no secret may be in it."""
    code = main(["check", *args])
    captured = capsys.readouterr()
    printed = captured.out + captured.err
    for secret in SECRETS:
        assert secret not in printed
    return code, items_of(captured.out), printed


def items_of(out: str) -> dict[str, str]:
    """{item: "status: detail"} from check's lines."""
    items = {}
    for line in out.splitlines():
        status, _, rest = line.partition("  ")
        if status.strip() in ("ok", "error", "skip"):
            name, _, detail = rest.strip().partition(": ")
            items[name] = f"{status.strip()}: {detail}"
    return items


@pytest.mark.usefixtures("env_credentials")
def test_everything_ok_without_a_config_and_no_api_call(capsys: pytest.CaptureFixture[str]) -> None:
    code, items, printed = check(capsys, "--endpoint", NO_API)
    assert code == 0
    assert items["config"].startswith("ok: none given")
    assert items["exceptions"].startswith("ok: none")
    assert items["endpoint"] == f"ok: {NO_API}, from --endpoint"
    for name in ("application_key", "application_secret", "consumer_key"):
        assert items[name] == f"ok: found in OVH_{name.upper()}"
    assert "no API call made" in printed


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "audit.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.usefixtures("env_credentials")
def test_each_section_is_reported_on_its_own(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = write_config(
        tmp_path,
        '[audit]\nworkers = 4\n[remediation]\ndefault_edition = "Standrad"\n'
        '[prices]\ncurrency = "EUR"\n"windows 2022 Standard" = 30\n'
        f"{MAIL}",
    )
    code, items, _ = check(capsys, "--config", str(config), "--endpoint", NO_API)
    assert code == 2
    assert items["config"] == f"ok: {config}"
    assert items["[audit]"] == "ok: workers 4"
    assert items["[remediation]"].startswith("error: ")
    assert "remediation.default_edition: 'Standrad'" in items["[remediation]"]
    assert items["[prices]"].startswith("ok: 1 licence price(s) in EUR")
    assert items["[mail]"].startswith("ok: smtp.example.com:587 (starttls)")
    # One broken section does not hide the rest, nor what comes after the file.
    assert items["consumer_key"] == "ok: found in OVH_CONSUMER_KEY"


@pytest.mark.usefixtures("env_credentials")
def test_a_file_that_is_not_toml_is_one_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = write_config(tmp_path, "[audit\nworkers = 4\n")
    code, items, _ = check(capsys, "--config", str(config), "--endpoint", NO_API)
    assert code == 2
    assert items["config"].startswith(f"error: {config}: invalid TOML")
    assert "[audit]" not in items


@pytest.mark.usefixtures("env_credentials")
def test_mail_password_variable_named_never_read_out(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path, MAIL)
    code, items, _ = check(capsys, "--config", str(config), "--endpoint", NO_API)
    assert code == 2
    assert items["[mail] password"] == (
        f"error: {config}: mail.password_env: the environment variable AUDIT_SMTP_PASSWORD "
        "is not set"
    )
    monkeypatch.setenv("AUDIT_SMTP_PASSWORD", SMTP_SECRET)
    code, items, _ = check(capsys, "--config", str(config), "--endpoint", NO_API)
    assert code == 0
    assert items["[mail] password"] == "ok: in AUDIT_SMTP_PASSWORD, which is set"


@pytest.mark.usefixtures("env_credentials")
def test_exceptions_register_from_the_flag_or_the_config(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    good = tmp_path / "exceptions.csv"
    good.write_text(
        f"{REGISTER_HEADER}\npcc-1,1,10,WIN-CLIENT-OS,byol,EA,j.doe,,CHG-1\n", encoding="utf-8"
    )
    bad = tmp_path / "bad.csv"
    bad.write_text(f"{REGISTER_HEADER}\npcc-1,1,x,WIN-CLIENT-OS,byol,EA,j.doe,,\n")
    config = write_config(tmp_path, '[audit]\nexceptions = "exceptions.csv"\n')
    code, items, _ = check(capsys, "--config", str(config), "--endpoint", NO_API)
    assert code == 0 and items["exceptions"] == f"ok: {good}: 1 row(s)"
    code, items, _ = check(capsys, "--exceptions", str(bad), "--endpoint", NO_API)
    assert code == 2
    assert items["exceptions"].startswith(f"error: {bad}")
    assert "line 2" in items["exceptions"] and "vm_id" in items["exceptions"]


def check_process(folder: Path, *args: str, **env: str) -> tuple[int, dict[str, str]]:
    """`check` in a fresh interpreter run from `folder`, which is also its HOME: importing
    `ovh` fixes where it looks for ovh.conf, and this test process imported it long ago."""
    clean = {name: value for name, value in os.environ.items() if not name.startswith("OVH_")}
    done = subprocess.run(
        [sys.executable, "-m", "audit", "check", *args],
        cwd=folder,
        env={**clean, "HOME": str(folder), "PYTHONPATH": str(Path(__file__).parents[1]), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    for secret in SECRETS:
        assert secret not in done.stdout + done.stderr
    return done.returncode, items_of(done.stdout)


@pytest.mark.slow
def test_credentials_located_in_files_and_sections_never_printed(tmp_path: Path) -> None:
    home = tmp_path / ".ovh.conf"
    home.write_text(
        f"[default]\nendpoint=ovh-ca\n[ovh-ca]\napplication_key=home-key\n"
        f"application_secret={APP_SECRET}\nconsumer_key=old-key\n"
    )
    # ./ovh.conf wins over ~/.ovh.conf, the file ovh_config names wins over both.
    (tmp_path / "ovh.conf").write_text(f"[ovh-ca]\napplication_secret={APP_SECRET}\n")
    (tmp_path / "audit-ovh.conf").write_text(f"[ovh-ca]\nconsumer_key={CONSUMER_KEY}\n")
    write_config(tmp_path, '[audit]\novh_config = "audit-ovh.conf"\n')
    code, items = check_process(tmp_path, "--config", "audit.toml")
    assert code == 0
    assert items["endpoint"] == f"ok: ovh-ca (https://ca.api.ovh.com/1.0), from {home} [default]"
    assert items["application_key"] == f"ok: found in {home} [ovh-ca]"
    assert items["application_secret"] == "ok: found in ovh.conf [ovh-ca]"
    assert items["consumer_key"] == "ok: found in audit-ovh.conf [ovh-ca]"
    # A variable wins over every file.
    code, items = check_process(tmp_path, "--config", "audit.toml", OVH_CONSUMER_KEY=CONSUMER_KEY)
    assert code == 0 and items["consumer_key"] == "ok: found in OVH_CONSUMER_KEY"


def test_missing_or_empty_credentials_are_errors(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OVH_APPLICATION_KEY", DEFAULT_APPLICATION_KEY)
    monkeypatch.setenv("OVH_APPLICATION_SECRET", "")
    code, items, printed = check(capsys)
    assert code == 2
    assert items["application_secret"] == "error: OVH_APPLICATION_SECRET: set but empty"
    assert items["consumer_key"] == (
        "error: not found: set OVH_CONSUMER_KEY, or consumer_key in the [ovh-eu] section of an "
        "ovh.conf"
    )
    assert printed.splitlines()[-1] == "check: 2 of 7 item(s) in error"


@pytest.mark.usefixtures("env_credentials")
def test_a_broken_ovh_conf_is_named_not_quoted(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OVH_CONSUMER_KEY")
    (tmp_path / "ovh.conf").write_text(f"consumer_key={CONSUMER_KEY}\n")  # no section
    code, items, _ = check(capsys, "--endpoint", NO_API)
    assert code == 2
    assert items["credentials"].startswith("error: ovh.conf: not a valid ovh.conf")


@pytest.mark.parametrize(
    ("how", "source"),
    [
        ("flag", "--endpoint"),
        ("config", "audit.endpoint in audit.toml"),
        ("variable", "OVH_ENDPOINT"),
        ("nothing", "the default"),
    ],
)
@pytest.mark.usefixtures("env_credentials")
def test_the_endpoint_and_what_chose_it(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    how: str,
    source: str,
) -> None:
    args = []
    if how == "flag":
        args = ["--endpoint", "ovh-us"]
    elif how == "config":
        write_config(tmp_path, '[audit]\nendpoint = "ovh-us"\n')
        args = ["--config", "audit.toml"]
    elif how == "variable":
        monkeypatch.setenv("OVH_ENDPOINT", "ovh-us")
    code, items, _ = check(capsys, *args)
    assert code == 0
    shown = "ovh-eu (https://eu.api.ovh.com/1.0)" if how == "nothing" else "ovh-us"
    assert items["endpoint"].startswith(f"ok: {shown}")
    assert items["endpoint"].endswith(f", from {source}")


@pytest.mark.usefixtures("env_credentials")
def test_an_unknown_endpoint_or_a_missing_ovh_config_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = write_config(tmp_path, '[audit]\novh_config = "nowhere.conf"\n')
    code, items, _ = check(capsys, "--config", str(config), "--endpoint", "ovh-mars")
    assert code == 2
    assert items[f"ovh_config {tmp_path / 'nowhere.conf'}"].endswith("ovh_config file not found")
    assert items["endpoint"].startswith("error: --endpoint 'ovh-mars': unknown endpoint name")


@pytest.mark.usefixtures("env_credentials")
def test_the_output_folder_and_its_history(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = write_config(tmp_path, '[audit]\nout = "audit-out"\n')
    code, items, _ = check(capsys, "--config", str(config), "--endpoint", NO_API)
    assert code == 0
    assert "no history.sqlite yet" in items[f"out {tmp_path / 'audit-out'}"]
    (tmp_path / "audit-out").mkdir()
    (tmp_path / "audit-out" / "history.sqlite").write_bytes(b"")
    code, items, _ = check(capsys, "--config", str(config), "--endpoint", NO_API)
    assert items[f"out {tmp_path / 'audit-out'}"].startswith("ok: history.sqlite present")
    (tmp_path / "audit-out" / "history.sqlite").unlink()
    (tmp_path / "audit-out").rmdir()
    (tmp_path / "audit-out").write_text("a file")
    code, items, _ = check(capsys, "--config", str(config), "--endpoint", NO_API)
    assert code == 2
    assert items[f"out {tmp_path / 'audit-out'}"] == "error: exists and is not a folder"


def test_online_shows_what_auth_check_shows(
    capsys: pytest.CaptureFixture[str], simulator: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OVH_APPLICATION_KEY", DEFAULT_APPLICATION_KEY)
    monkeypatch.setenv("OVH_APPLICATION_SECRET", DEFAULT_APPLICATION_SECRET)
    monkeypatch.setenv("OVH_CONSUMER_KEY", READONLY_CONSUMER_KEY)
    assert main(["auth", "check", "--endpoint", simulator.url]) == 0
    auth_lines = capsys.readouterr().out.splitlines()
    code, items, printed = check(capsys, "--endpoint", simulator.url, "--online")
    assert code == 0
    assert items["online"] == "ok: the API accepts the key (auth check):"
    shown = printed.splitlines()
    start = shown.index(next(line for line in shown if line.startswith("ok     online")))
    online = [line.strip() for line in shown[start + 1 : start + 1 + len(auth_lines)]]
    # the same lines, but `last use`, which the first call just set
    assert [line for line in online if not line.startswith("last use")] == [
        line.strip() for line in auth_lines if not line.startswith("last use")
    ]
    assert "GET /dedicatedCloud/*" in online


def test_online_refused_key_is_an_error_and_skipped_after_other_errors(
    capsys: pytest.CaptureFixture[str], simulator: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OVH_APPLICATION_KEY", DEFAULT_APPLICATION_KEY)
    monkeypatch.setenv("OVH_APPLICATION_SECRET", DEFAULT_APPLICATION_SECRET)
    monkeypatch.setenv("OVH_CONSUMER_KEY", CONSUMER_KEY)  # unknown to the simulator
    code, items, _ = check(capsys, "--endpoint", simulator.url, "--online")
    assert code == 2
    assert items["online"].startswith("error: GET /auth/currentCredential: ")
    monkeypatch.delenv("OVH_CONSUMER_KEY")
    code, items, _ = check(capsys, "--endpoint", simulator.url, "--online")
    assert code == 2
    assert items["online"] == "skip: not tried: fix the errors above first"
