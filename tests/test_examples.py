"""examples/: every sample file goes through the loader the tool uses, the schedules name options
that exist, cron and systemd run the same two commands into one output folder, and
`systemd-analyze verify` accepts the units, so the examples cannot drift from the code."""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from audit.cli.main import build_parser
from audit.collect.options import endpoint_from, factory_from
from audit.config import invoice as invoice_config
from audit.config import mail as mail_config
from audit.config import report as report_config
from audit.config import settings as config_module
from audit.config.settings import Config, RemediationConfig, load_config
from audit.evaluate.exceptions import load_exceptions
from audit.model.exceptions import ExceptionKind
from tests.helpers import crontab
from tests.helpers.external import require_or_skip

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SYSTEMD = EXAMPLES / "systemd"
# Where the examples say the files are installed.
INSTALLED_TOOL = "/opt/ovh-license-audit/bin/ovh-license-audit"
ETC = "/etc/ovh-license-audit"
ENV_FILE = f"{ETC}/licence-audit.env"
CONFIG = f"{ETC}/audit.toml"
SERVICES = {
    "observe": SYSTEMD / "ovh-license-audit-daily.service",
    "run": SYSTEMD / "ovh-license-audit-monthly.service",
}
ENVIRONMENT_D_GENERATOR = Path(
    "/usr/lib/systemd/user-environment-generators/30-systemd-environment-d-generator"
)


def audit_config() -> Config:
    return load_config(EXAMPLES / "audit.toml")


def table_keys(section: str) -> set[str]:
    """The keys the example sets in one section of audit.toml."""
    import tomllib

    data = tomllib.loads((EXAMPLES / "audit.toml").read_text(encoding="utf-8"))
    return set(data[section])


# --- audit.toml, remediate.toml, exceptions.csv, ovh.conf ----------------------------------


def test_audit_toml_sets_every_key_the_loader_accepts() -> None:
    config = audit_config()
    assert table_keys("audit") == config_module._AUDIT_KEYS
    assert table_keys("remediation") == {f.name for f in dataclasses.fields(RemediationConfig)}
    assert table_keys("mail") == mail_config._KEYS
    assert table_keys("prices") > config_module._PRICES_SETTINGS
    assert table_keys("invoice") == invoice_config._KEYS
    assert table_keys("report") == report_config._KEYS
    assert config.report.organisation == "Example SA"
    assert config.invoice.patterns, "the [invoice.patterns] example was not read"
    # every section was read, none left at its default
    assert config.mail is not None and config.prices is not None
    assert config.remediation != RemediationConfig()
    assert all(getattr(config, f.name) is not None for f in dataclasses.fields(Config))


def test_audit_toml_paths_are_the_examples_beside_it() -> None:
    """Relative paths are relative to the file: copied together, they find each other."""
    config = audit_config()
    assert config.exceptions == EXAMPLES / "exceptions.csv"
    assert config.ovh_config == EXAMPLES / "ovh.conf"
    assert config.out == Path("/srv/licence-audit")


def test_audit_toml_prices_are_marked_as_examples_never_defaults() -> None:
    text = (EXAMPLES / "audit.toml").read_text(encoding="utf-8")
    section = text.split("[prices]", 1)[1].split("\n[", 1)[0]
    assert "EXAMPLE PRICES ONLY" in section and "not a default" in section
    priced = [line for line in section.splitlines() if line.startswith('"windows')]
    assert priced and all("# example price" in line for line in priced)
    prices = audit_config().prices
    assert prices is not None and set(prices.monthly) == {line.split('"')[1] for line in priced}
    assert (prices.per.value, prices.min_cores) == ("core", 2)


def test_exceptions_csv_is_a_valid_register_with_both_kinds() -> None:
    rows = load_exceptions(EXAMPLES / "exceptions.csv")
    assert {row.kind for row in rows} == {ExceptionKind.BYOL, ExceptionKind.WAIVER}


@pytest.fixture
def no_ovh_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """The OVH_* variables win over every ovh.conf: none may hide which file was read."""
    for name in ("ENDPOINT", "APPLICATION_KEY", "APPLICATION_SECRET", "CONSUMER_KEY"):
        monkeypatch.delenv(f"OVH_{name}", raising=False)


@pytest.mark.usefixtures("no_ovh_variables")
def test_audit_and_remediation_keys_sit_side_by_side() -> None:
    """audit.toml's ovh_config gives the scheduled jobs the read-only key; remediate.toml's
    gives `remediate` the remediation key, with the same application and endpoint."""
    no_flag = argparse.Namespace(endpoint=None)
    audit = audit_config()
    remediation = load_config(EXAMPLES / "remediate.toml")
    assert remediation.ovh_config == EXAMPLES / "ovh-remediation.conf"
    audit_client = factory_from(no_flag, audit).new_client()
    remediation_client = factory_from(no_flag, remediation).new_client()
    assert audit_client._consumer_key == "REPLACE-WITH-READ-ONLY-CONSUMER-KEY"
    assert remediation_client._consumer_key == "REPLACE-WITH-REMEDIATION-CONSUMER-KEY"
    assert audit_client._application_key == remediation_client._application_key
    assert endpoint_from(no_flag, audit) == endpoint_from(no_flag, remediation) == "ovh-eu"


# --- licence-audit.env: the same variables for cron's shell and systemd's EnvironmentFile= ----


def shell_environment(env_file: Path) -> dict[str, str]:
    """What a command started after `. FILE &&` sees, as cron's /bin/sh runs it."""
    script = '. "$1" && exec "$2" -c "import json, os; print(json.dumps(dict(os.environ)))"'
    result = subprocess.run(
        ["/bin/sh", "-c", script, "sh", str(env_file), sys.executable],
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    environment: dict[str, str] = json.loads(result.stdout)
    return environment


def test_env_file_exports_the_smtp_password_to_the_job(monkeypatch: pytest.MonkeyPatch) -> None:
    environment = shell_environment(EXAMPLES / "licence-audit.env")
    mail = audit_config().mail
    assert mail is not None and mail.password_env is not None
    assert environment[mail.password_env] == "replace-with-the-smtp-password"
    assert not [name for name in environment if name.startswith("OVH_")]
    monkeypatch.setenv(mail.password_env, environment[mail.password_env])
    assert mail.password() == "replace-with-the-smtp-password"


def systemd_environment(text: str, folder: Path) -> tuple[dict[str, str], str]:
    """The variables systemd reads from an environment file, and its complaints: its parser
    of environment files (the environment.d generator shares it with EnvironmentFile=)."""
    if not ENVIRONMENT_D_GENERATOR.is_file():
        require_or_skip(f"{ENVIRONMENT_D_GENERATOR} is missing (Debian package systemd)")
    (folder / "environment.d").mkdir()
    (folder / "environment.d/licence-audit.conf").write_text(text, encoding="utf-8")
    result = subprocess.run(
        [str(ENVIRONMENT_D_GENERATOR)],
        env={"XDG_CONFIG_HOME": str(folder), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    pairs = (line.split("=", 1) for line in result.stdout.splitlines())
    return {name: "".join(shlex.split(value)) for name, value in pairs}, result.stderr


def test_env_file_reads_the_same_under_systemd(tmp_path: Path) -> None:
    text = (EXAMPLES / "licence-audit.env").read_text(encoding="utf-8")
    read, complaints = systemd_environment(text, tmp_path)
    assert "licence-audit.conf" not in complaints, complaints
    expected = shell_environment(EXAMPLES / "licence-audit.env")["SMTP_PASSWORD"]
    assert read["SMTP_PASSWORD"] == expected


def test_a_line_exporting_and_assigning_at_once_is_not_read_by_systemd(tmp_path: Path) -> None:
    """Why the env file keeps `NAME='value'` and `export NAME` on two lines."""
    read, _ = systemd_environment("export SMTP_PASSWORD='x'\n", tmp_path)
    assert "SMTP_PASSWORD" not in read


# --- crontab and systemd units: the same two commands, options that exist --------------------


def crontab_jobs() -> list[tuple[list[str], list[str], list[str]]]:
    """(time fields, what runs before `&&`, the command) of each job line of the crontab."""
    jobs = []
    for job in crontab.jobs():
        before, _, command = job.command.partition(" && ")
        jobs.append((list(job.schedule), shlex.split(before), shlex.split(command)))
    return jobs


def unit_settings(path: Path) -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.startswith(("#", ";", "[")):
            key, value = line.split("=", 1)
            settings.setdefault(key, []).append(value)
    return settings


def test_crontab_runs_in_utc_the_daily_observe_and_the_monthly_run() -> None:
    lines = (EXAMPLES / "crontab").read_text(encoding="utf-8").splitlines()
    first_job = next(i for i, line in enumerate(lines) if line[:1].isdigit())
    assert "CRON_TZ=UTC" in lines[:first_job]
    jobs = crontab_jobs()
    assert [job[0] for job in jobs] == [["5", "12", "*", "*", "*"], ["35", "12", "1", "*", "*"]]
    for _, before, command in jobs:
        assert before == [".", ENV_FILE]
        assert command[0] == INSTALLED_TOOL
    assert [command[1] for _, _, command in jobs] == ["observe", "run"]


@pytest.mark.parametrize("command", ["observe", "run"])
def test_cron_and_systemd_run_the_same_command(command: str) -> None:
    (_, _, from_cron) = next(job for job in crontab_jobs() if job[2][1] == command)
    settings = unit_settings(SERVICES[command])
    assert shlex.split(settings["ExecStart"][0]) == from_cron
    assert settings["EnvironmentFile"] == [ENV_FILE]


def test_schedules_name_options_that_exist_and_share_one_out() -> None:
    """Parsed by the tool's own parser: a renamed or missing option fails here."""
    parsed = {}
    for _, _, command in crontab_jobs():
        parsed[command[1]] = build_parser().parse_args(command[1:])
    observe, run = parsed["observe"], parsed["run"]
    assert observe.config == run.config == Path(CONFIG)
    assert observe.out == run.out == audit_config().out
    assert (run.period, run.mail) == ("previous", True)
    for service in SERVICES.values():
        assert unit_settings(service)["ReadWritePaths"] == [str(run.out)]


@pytest.mark.parametrize("name", ["daily", "monthly"])
def test_timers_run_in_utc_at_the_crontab_times_and_catch_up(name: str) -> None:
    settings = unit_settings(SYSTEMD / f"ovh-license-audit-{name}.timer")
    minute, hour, day, _, _ = crontab_jobs()[["daily", "monthly"].index(name)][0]
    day_field = "*" if day == "*" else f"{int(day):02}"
    assert settings["OnCalendar"] == [f"*-*-{day_field} {int(hour):02}:{int(minute):02}:00 UTC"]
    assert settings["Persistent"] == ["true"]
    service = unit_settings(SYSTEMD / f"ovh-license-audit-{name}.service")
    assert service["Type"] == ["oneshot"]
    for hardening in ("NoNewPrivileges", "PrivateTmp", "ProtectHome"):
        assert service[hardening] == ["true"]
    assert service["ProtectSystem"] == ["strict"]


def test_systemd_analyze_verify_accepts_the_units(tmp_path: Path) -> None:
    """The units as shipped, but for ExecStart's install path (verify checks that it is an
    executable): here the interpreter running the tests stands in for it."""
    tool = shutil.which("systemd-analyze")
    if tool is None:
        require_or_skip("systemd-analyze is missing (Debian package systemd)")
        return
    units = sorted(SYSTEMD.glob("*.service")) + sorted(SYSTEMD.glob("*.timer"))
    assert len(units) == 4
    for unit in units:
        text = unit.read_text(encoding="utf-8")
        if unit.suffix == ".service":
            assert text.count(f"ExecStart={INSTALLED_TOOL} ") == 1
            text = text.replace(INSTALLED_TOOL, sys.executable)
        (tmp_path / unit.name).write_text(text, encoding="utf-8")
    result = subprocess.run(
        [tool, "verify", *(str(tmp_path / unit.name) for unit in units)],
        capture_output=True,
        text=True,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "ovh-license-audit" not in output, output  # no warning about our units either


# --- README: it points at every example, and its cron lines are the example's ----------------

README = EXAMPLES.parent / "README.md"


def test_readme_points_at_every_example_file() -> None:
    linked = set(re.findall(r"\]\(examples/([^)]+)\)", README.read_text(encoding="utf-8")))
    assert all((EXAMPLES / name).exists() for name in linked)
    shipped = {path.name for path in EXAMPLES.iterdir()}
    assert shipped <= {name.split("/")[0] for name in linked}


def test_readme_cron_lines_are_the_examples_lines() -> None:
    cron_line = re.compile(r"[0-9*][0-9*,/-]*( +[0-9*][0-9*,/-]*){4} +.*ovh-license-audit")
    readme = {
        " ".join(line.split())
        for line in README.read_text(encoding="utf-8").splitlines()
        if cron_line.match(line.strip())
    }
    example = {
        " ".join(line.split())
        for line in (EXAMPLES / "crontab").read_text(encoding="utf-8").splitlines()
        if cron_line.match(line)
    }
    assert len(example) == 2
    assert readme == example
