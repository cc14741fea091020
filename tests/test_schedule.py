"""The example schedule runs as written: examples/crontab's two lines, as cron hands them to
/bin/sh, against the simulator, with the example files installed in a temporary folder.

What changes from the crontab: its three install paths (/opt/ovh-license-audit, where this
checkout's venv stands in; /etc/ovh-license-audit and /srv/licence-audit, temporary folders),
`--date DAY` added to the daily line to observe past days, and in the copied example files what
points at the real world: the endpoint and keys (the simulator's), the SMTP server (a local one
with STARTTLS and a login, trusted through a test CA) and the SMTP password (its login's). The
environment is cron's: a short PATH, the crontab's variables (CRON_TZ=UTC), and a local time
zone whose date is not the UTC date now, so a job that took a local day or month for a UTC one
would file or close the wrong one."""

from __future__ import annotations

import email
import email.policy
import json
import subprocess
import sys
from calendar import monthrange
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from audit.simulator.generate import generate_fleet
from audit.simulator.server import Simulator
from tests.helpers import crontab
from tests.helpers.mail import SECRET, USER, make_pki, smtp_server

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
INSTALLED_TOOL = "/opt/ovh-license-audit/bin/ovh-license-audit"
ETC, OUT = "/etc/ovh-license-audit", "/srv/licence-audit"
# Local zones far from UTC on either side: at any hour, one of them is on another date.
LOCAL_ZONES = ("Australia/Sydney", "Pacific/Kiritimati", "Pacific/Pago_Pago")


def replace_once(text: str, old: str, new: str) -> str:
    """`old` must be in the example exactly once: an edited example fails here, loudly."""
    assert text.count(old) == 1, f"{old!r} is not in the example once"
    return text.replace(old, new)


def install_examples(etc: Path, out: Path, api_url: str, smtp_port: int, ca_file: Path) -> None:
    """The example files, copied where the crontab reads them, pointed at the test's servers."""
    etc.mkdir()
    edits = {
        "audit.toml": [
            ('endpoint = "ovh-eu"', f'endpoint = "{api_url}"'),
            ('host = "smtp.example.com"', 'host = "127.0.0.1"'),
            ("port = 587 ", f"port = {smtp_port} "),
            ('username = "licence-audit"', f'username = "{USER}"'),
            ('ca_file = "/etc/ssl/certs/ca-certificates.crt"', f'ca_file = "{ca_file}"'),
        ],
        "ovh.conf": [
            ("endpoint=ovh-eu", f"endpoint={api_url}"),
            ("[ovh-eu]", f"[{api_url}]"),
            ("REPLACE-WITH-APPLICATION-KEY", "sim-app-key"),
            ("REPLACE-WITH-APPLICATION-SECRET", "sim-app-secret"),
            ("REPLACE-WITH-READ-ONLY-CONSUMER-KEY", "sim-ck-readonly"),
        ],
        "licence-audit.env": [("replace-with-the-smtp-password", SECRET)],
        "exceptions.csv": [],
    }
    for name, replacements in edits.items():
        text = (EXAMPLES / name).read_text(encoding="utf-8")
        for old, new in replacements:
            text = replace_once(text, old, new)
        text = text.replace(OUT, str(out)).replace(ETC, str(etc))
        (etc / name).write_text(text, encoding="utf-8")


def local_zone(now: datetime) -> str:
    """A zone whose date differs from the UTC date at `now`."""
    return next(z for z in LOCAL_ZONES if now.astimezone(ZoneInfo(z)).date() != now.date())


def previous_month(today: date) -> tuple[str, list[date]]:
    """The UTC month before `today`'s, and the days of it the test observes."""
    last = today.replace(day=1) - timedelta(days=1)
    first = last.replace(day=1)
    return f"{last:%Y-%m}", [first, first + timedelta(days=1), last]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_example_crontab_observes_daily_and_closes_the_utc_month(tmp_path: Path) -> None:
    daily, monthly = crontab.jobs()
    assert (daily.schedule[2], monthly.schedule[2]) == ("*", "1")
    etc, out, home = tmp_path / "etc", tmp_path / "srv", tmp_path / "home"
    home.mkdir()
    tool = Path(sys.executable).parent / "ovh-license-audit"  # this checkout's installed tool
    now = datetime.now(UTC)
    zone = local_zone(now)
    environment = {
        "PATH": "/usr/bin:/bin",  # cron's: the tool is not on it
        "HOME": str(home),
        "LOGNAME": "licence-audit",
        "SHELL": "/bin/sh",
        "TZ": zone,
        **crontab.variables(),
    }
    assert environment["CRON_TZ"] == "UTC"

    def cron(job: crontab.CronJob, *extra: str) -> subprocess.CompletedProcess[str]:
        command = (
            job.command.replace(INSTALLED_TOOL, str(tool))
            .replace(ETC, str(etc))
            .replace(OUT, str(out))
        )
        assert "licence-audit.env && " in command  # the env file is sourced, not passed
        return subprocess.run(
            ["/bin/sh", "-c", " ".join([command, *extra])],
            cwd=home,
            env=environment,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )

    pki = make_pki(tmp_path)
    fleet = generate_fleet(30, seed=7).fleet
    with Simulator(fleet) as api, smtp_server(pki) as smtp:
        install_examples(etc, out, api.url, smtp.port, pki.ca_file)
        period, days = previous_month(now.date())
        for day in days:
            done = cron(daily, "--date", day.isoformat())
            assert done.returncode == 0, done.stderr
        today = cron(daily)  # as cron starts it: today's observation
        closed = cron(monthly)
        after = datetime.now(UTC)
        messages = list(smtp.mailbox.messages)

    if after.date() != now.date():
        pytest.xfail("the UTC day turned while the test ran: which one each job saw is unsure")
    # today's observation is filed under the UTC day, not the local one (another date)
    utc_day = after.date().isoformat()
    assert today.returncode == 0, today.stderr
    assert today.stdout.startswith(f"observation of {utc_day} recorded: 30 VM(s)"), today.stdout
    observed = [day.isoformat() for day in days]
    filed = sorted(path.name for path in (out / "observations").iterdir())
    assert filed == [f"{day}.json.gz" for day in [*observed, utc_day]]

    # the monthly line closed the UTC month that ended, over the daily observations
    assert closed.returncode == 1, closed.stderr  # exit 1: open findings at or above fail_on
    lines = closed.stdout.splitlines()
    assert lines[0].startswith(f"period {period}: coverage: complete: "), lines[0]
    assert any(line.startswith("verdict: FAIL: ") for line in lines)
    length = monthrange(days[0].year, days[0].month)[1]
    assert (
        f"period figures: 3 daily observation(s) of the {length} days of {period}, from "
        f"{out / 'history.sqlite'}; {length - 3} missing"
    ) in lines
    assert "monthly costs ([prices]):" in lines  # audit.toml's [prices]
    assert any(line.startswith(f"mail: {period} sent to ") for line in lines)
    findings = json.loads((out / period / "findings.json").read_text(encoding="utf-8"))
    assert findings["run"]["period"] == period
    assert (findings["exposure"]["source"], findings["exposure"]["observed_days"]) == (
        "observations",
        observed,
    )
    # one shared --out: the history, the observations and the run folder, nothing else
    assert {path.name for path in out.iterdir()} == {"history.sqlite", "observations", period}
    for name in ("report.html", "report.xlsx", "manifest.json", "remediation"):
        assert (out / period / name).exists(), name

    (message,) = messages  # --mail: delivered, logged in with the password the env file exports
    parsed = email.message_from_bytes(message.content, policy=email.policy.default)
    assert str(parsed["Subject"]).startswith(f"Windows licence audit {period}, Example SA")
