"""The roll-up of several accounts, from account folders written in-process (fast); the
accounts file; each child's environment. `run --accounts` with real processes against two
simulators is in test_rollup_accounts.py."""

from __future__ import annotations

import csv
import email
import io
import json
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from audit.cli.main import main
from audit.config.accounts import (
    Account,
    CredentialsMissing,
    account_credentials,
    load_accounts,
)
from audit.deliver.capture import LocalSmtpServer, Mailbox
from audit.model.rollup import Outcome, worst_exit_code
from audit.model.snapshot import Failure, Scope
from audit.rollup import launch
from audit.rollup.folders import build_rollup, manifest_digest
from audit.support.errors import InputError
from tests.helpers.history import LINUX, PROD, STD, WIN, WIN_CLIENT, run_month
from tests.helpers.render import HOSTILE_NAMES
from tests.helpers.vms import api_vm

PERIOD = "2026-11"


def files(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def rollup(out: Path, *extra: str) -> int:
    return main(["rollup", str(out), "--period", PERIOD, *extra])


def document(out: Path, name: str = "findings.json") -> Any:
    return json.loads((out / "rollup" / PERIOD / name).read_text())


# ACCOUNTS.toml


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ACCOUNTS.toml"
    path.write_text(text)
    return path


def test_accounts_file_with_both_kinds_of_credentials(tmp_path: Path) -> None:
    (tmp_path / "ovh.conf").write_text("[beta]\n")
    (tmp_path / "exceptions.csv").write_text("")
    (tmp_path / "beta.toml").write_text("")
    path = write(
        tmp_path,
        '[[account]]\nname = "alpha"\nendpoint = "ovh-eu"\nenv_prefix = "ALPHA_"\n\n'
        '[[account]]\nname = "beta-2"\nendpoint = "ovh-ca"\novh_config = "ovh.conf"\n'
        'section = "beta"\nexceptions = "exceptions.csv"\nconfig = "beta.toml"\n',
    )
    alpha, beta = load_accounts(path)
    assert alpha == Account("alpha", "ovh-eu", env_prefix="ALPHA_")
    assert beta == Account(
        "beta-2",
        "ovh-ca",
        ovh_config=tmp_path / "ovh.conf",
        section="beta",
        exceptions=tmp_path / "exceptions.csv",
        config=tmp_path / "beta.toml",
    )


GOOD = '[[account]]\nname = "alpha"\nendpoint = "ovh-eu"\nenv_prefix = "A_"\n\n'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD + '[[account]]\nname = "Beta Corp"\n', "line 7: account[2].name: 'Beta Corp' is not"),
        (GOOD + '[[account]]\nname = "../x"\n', "line 7: account[2].name: '../x' is not"),
        (
            GOOD + '[[account]]\nendpoint = "e"\nenv_prefix = "B_"\nname = "alpha"\n',
            "line 9: account[2].name: 'alpha' is already account[1]'s name",
        ),
        (
            GOOD + '[[account]]\nname = "rollup"\nendpoint = "e"\nenv_prefix = "B_"\n',
            "line 7: account[2].name: 'rollup' is the roll-up's own folder",
        ),
        (GOOD + '[[account]]\nname = "b"\nendpint = "e"\n', "line 8: account[2].endpint: unknown"),
        (
            GOOD + '[[account]]\nname = "b"\nenv_prefix = "B_"\n',
            "line 6: account[2]: missing key 'endpoint'",
        ),
        (
            GOOD + '[[account]]\nname = "b"\nendpoint = "e"\n',
            "line 6: account[2]: missing credentials: env_prefix, or ovh_config and section",
        ),
        (
            GOOD + '[[account]]\nname = "b"\nendpoint = "e"\nsection = "s"\n',
            "line 6: account[2]: missing key 'ovh_config'",
        ),
        (
            GOOD + '[[account]]\nname = "b"\nendpoint = "e"\nenv_prefix = "B-"\n',
            "line 9: account[2].env_prefix: 'B-' is not the start of a variable name",
        ),
        (
            GOOD
            + '[[account]]\nname = "b"\nendpoint = "e"\nenv_prefix = "B_"\nconfig = "no.toml"\n',
            "line 10: account[2].config: file not found:",
        ),
        (GOOD + "[[account]]\nname = 3\n", "line 7: account[2].name: expected a non-empty string"),
        ('name = "alpha"\n', "line 1: unknown key 'name' (expected [[account]])"),
        ("", "line 1: account: expected one [[account]] table per account"),
        ("[[account]\n", "invalid TOML:"),
    ],
)
def test_a_malformed_accounts_file_names_the_line_and_key(
    tmp_path: Path, text: str, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(InputError) as error:
        load_accounts(path)
    assert str(error.value).startswith(f"{path}: ")
    assert expected in str(error.value)
    # From the command line: one line, exit 2, nothing written.
    out = tmp_path / "out"
    assert main(["run", "--accounts", str(path), "--out", str(out), "--period", PERIOD]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expected in err
    assert not out.exists()


def test_per_account_options_are_refused_with_accounts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, GOOD)
    args = ["run", "--accounts", str(path), "--out", str(tmp_path / "out"), "--period", PERIOD]
    assert main([*args, "--endpoint", "ovh-eu"]) == 2
    assert "--endpoint is set per account" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        main([*args, "--parallel", "0"])
    assert usage.value.code == 2
    assert not (tmp_path / "out").exists()


def test_credentials_from_a_prefix_or_an_ovh_conf_section(tmp_path: Path) -> None:
    env = {
        "ALPHA_OVH_APPLICATION_KEY": "ak",
        "ALPHA_OVH_APPLICATION_SECRET": "as",
        "ALPHA_OVH_CONSUMER_KEY": "ck",
    }
    alpha = Account("alpha", "ovh-eu", env_prefix="ALPHA_")
    assert account_credentials(alpha, env) == {
        "OVH_APPLICATION_KEY": "ak",
        "OVH_APPLICATION_SECRET": "as",
        "OVH_CONSUMER_KEY": "ck",
    }
    with pytest.raises(CredentialsMissing, match="ALPHA_OVH_CONSUMER_KEY is not set"):
        account_credentials(alpha, {**env, "ALPHA_OVH_CONSUMER_KEY": ""})
    conf = tmp_path / "ovh.conf"
    conf.write_text("[beta]\napplication_key=bk\napplication_secret=bs\nconsumer_key=bc\n")
    beta = Account("beta", "ovh-eu", ovh_config=conf, section="beta")
    assert account_credentials(beta, {})["OVH_CONSUMER_KEY"] == "bc"
    with pytest.raises(CredentialsMissing, match=r"no section \[gamma\]"):
        account_credentials(Account("g", "ovh-eu", ovh_config=conf, section="gamma"), {})
    conf.write_text("[beta]\napplication_key=bk\napplication_secret=bs\n")
    with pytest.raises(CredentialsMissing, match=r"\[beta\] has no consumer_key") as error:
        account_credentials(beta, {})
    assert "bs" not in str(error.value)


def test_an_account_without_its_credentials_fails_alone_without_a_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(launch, "CHILD_COMMAND", ("/nonexistent/never-started",))
    launcher = launch.Launcher(tmp_path, launch.ChildOptions(PERIOD), {})
    (outcome,) = launcher.run([Account("alpha", "ovh-eu", env_prefix="ALPHA_")])
    assert outcome == Outcome(
        "alpha", 2, "credentials: ALPHA_OVH_APPLICATION_KEY is not set", False, None
    )


def test_an_account_whose_process_cannot_start_fails_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(launch, "CHILD_COMMAND", (str(tmp_path / "missing-python"),))
    keys = ("OVH_APPLICATION_KEY", "OVH_APPLICATION_SECRET", "OVH_CONSUMER_KEY")
    env = {f"A_{name}": "x" for name in keys}
    launcher = launch.Launcher(tmp_path, launch.ChildOptions(PERIOD), env)
    (outcome,) = launcher.run([Account("alpha", "ovh-eu", env_prefix="A_")])
    assert (outcome.exit_code, outcome.wrote) == (2, False)
    assert (
        outcome.reason == f"cannot start {tmp_path / 'missing-python'}: No such file or directory"
    )


def test_a_child_gets_its_own_keys_and_no_other_ovh_variable() -> None:
    parent = {
        "PATH": "/usr/bin",
        "OVH_CONSUMER_KEY": "parent",
        "OVH_ENDPOINT": "ovh-eu",
        "ALPHA_OVH_APPLICATION_SECRET": "alpha",
        "beta_ovh_consumer_key": "beta",
        "SMTP_PASSWORD_NAME": "kept",
    }
    assert launch.child_environment(parent, {"OVH_CONSUMER_KEY": "mine"}) == {
        "PATH": "/usr/bin",
        "SMTP_PASSWORD_NAME": "kept",
        "OVH_CONSUMER_KEY": "mine",
    }
    account = Account("a", "ovh-eu", env_prefix="A_", config=Path("a.toml"))
    assert launch.child_arguments(account, Path("out"), launch.ChildOptions(PERIOD, ("-x",))) == [
        "run",
        "--endpoint",
        "ovh-eu",
        "--out",
        "out/a",
        "--period",
        PERIOD,
        "--config",
        "a.toml",
        "-x",
    ]


def test_the_worst_exit_code() -> None:
    assert worst_exit_code([0, 1, 0]) == 1
    assert worst_exit_code([1, 3]) == 3
    assert worst_exit_code([3, 4]) == 4
    assert worst_exit_code([4, 2, 1]) == 2
    assert worst_exit_code([2, 5]) == 5
    assert worst_exit_code([5, 143, 2]) == 143
    assert worst_exit_code([]) == 0


# The roll-up from account folders (each written by its own job, here in-process)

ALPHA = {(PROD, 1): [api_vm(1, WIN, None), api_vm(2, LINUX, STD), api_vm(3, WIN, STD)]}
BETA = {
    ("pcc-192-0-2-9", 4): [api_vm(7, WIN_CLIENT, None), api_vm(8, WIN, STD, power="poweredOff")]
}


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """Two account folders of the period, as two separate `run --out DIR/<name>` jobs."""
    folder = tmp_path / "audit"
    run_month(folder / "alpha", PERIOD, ALPHA, fail_on="high")
    run_month(folder / "beta", PERIOD, BETA, fail_on="high")
    return folder


def run_findings(folder: Path) -> list[dict[str, Any]]:
    return list(json.loads((folder / "findings.json").read_text())["findings"])


def test_rollup_of_separate_jobs_is_the_union_and_rebuilds_byte_for_byte(out: Path) -> None:
    assert rollup(out) == 1  # alpha's open WIN-UNLICENSED, beta has no high finding
    made = document(out)
    assert made["findings"] == [
        {"account": name, **f}
        for name in ("alpha", "beta")
        for f in run_findings(out / name / PERIOD)
    ]
    assert [(a["name"], a["status"], a["exit_code"]) for a in made["accounts"]] == [
        ("alpha", "complete", 1),
        ("beta", "complete", 0),
    ]
    beta = made["accounts"][1]
    assert beta["manifest_sha256"] == manifest_digest(out / "beta" / PERIOD)
    assert beta["headline"]["byol_covered_guests"] == 0
    assert beta["licences"] == {
        "vms_at_close": 1,
        "vcpus_at_close": 2,
        "licence_days": 1,
        "vmlicensed_at_close": 1,
    }
    assert beta["folder"] == f"beta/{PERIOD}" and beta["reason"] is None
    folder = out / "rollup" / PERIOD
    # Every report states OVHcloud's billing rule, the roll-up too.
    assert "billing guide, updated 2024-03-21" in (folder / "report.html").read_text()
    accounts = load_workbook(folder / "report.xlsx", read_only=True)["Accounts"]
    assert any(
        "is not seen" in str(value) for row in accounts.iter_rows(values_only=True) for value in row
    )
    before = files(folder)
    assert sorted(before) == [
        "findings.csv",
        "findings.json",
        "manifest.json",
        "report.html",
        "report.xlsx",
    ]
    # Rebuilt in place, and from nothing, from another spelling of the same folder.
    (folder / "report.xlsx").unlink()
    assert rollup(out) == 1
    assert files(folder) == before
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()
    assert main(["rollup", f"{out}/../{out.name}", "--period", PERIOD]) == 1
    assert files(folder) == before


def test_the_roll_up_manifest_names_each_accounts_manifest(out: Path) -> None:
    rollup(out)
    manifest = document(out, "manifest.json")
    assert manifest["accounts"] == [
        {
            "name": name,
            "status": "complete",
            "manifest": f"{name}/{PERIOD}/manifest.json",
            "manifest_sha256": manifest_digest(out / name / PERIOD),
        }
        for name in ("alpha", "beta")
    ]
    folder = out / "rollup" / PERIOD
    assert set(manifest["files"]) == {p.name for p in folder.iterdir()} - {"manifest.json"}
    # An edit of an account's run folder is caught: that account fails, the other is kept.
    (out / "beta" / PERIOD / "findings.csv").write_text("edited")
    assert rollup(out) == 2
    failed = document(out)["accounts"][1]
    assert failed["status"] == "failed"
    assert failed["reason"].startswith(f"beta/{PERIOD}/findings.csv: differs from its sha256")
    assert {f["account"] for f in document(out)["findings"]} == {"alpha"}


def test_an_older_period_never_stands_in_for_the_one_asked(out: Path) -> None:
    run_month(out / "gamma", "2026-10", ALPHA, fail_on="high")
    assert rollup(out) == 2
    gamma = document(out)["accounts"][2]
    assert gamma["name"] == "gamma" and gamma["status"] == "failed"
    assert (
        gamma["reason"] == "no run of 2026-11 in gamma/; its latest run is 2026-10, not rolled up"
    )
    assert gamma["headline"] == {} and gamma["licences"] is None and gamma["folder"] is None
    assert "gamma" not in {f["account"] for f in document(out)["findings"]}
    # An account named by --accounts with no folder at all is a failed row too.
    path = write(
        out.parent,
        GOOD.replace('"alpha"', '"delta"') + GOOD + GOOD.replace('"alpha"', '"beta"'),
    )
    assert rollup(out, "--accounts", str(path)) == 2
    names = [(a["name"], a["status"]) for a in document(out)["accounts"]]
    assert names == [("alpha", "complete"), ("beta", "complete"), ("delta", "failed")]
    assert document(out)["accounts"][2]["reason"].startswith("no folder delta/")


def test_an_incomplete_account_is_rolled_up_and_says_so(tmp_path: Path) -> None:
    out = tmp_path / "audit"
    failure = Failure(Scope.DATACENTER, f"/dedicatedCloud/{PROD}/datacenter/2/vm", "503", PROD, 2)
    run_month(out / "alpha", PERIOD, ALPHA, failures=(failure,), fail_on="high")
    run_month(out / "beta", PERIOD, BETA, fail_on="never")
    assert rollup(out) == 3
    alpha = document(out)["accounts"][0]
    assert (alpha["status"], alpha["exit_code"]) == ("incomplete", 3)
    assert alpha["reason"] == "collection incomplete: 1 object(s) could not be read"
    assert alpha["verdict"].startswith("INCOMPLETE")
    assert "INCOMPLETE: alpha" in (out / "rollup" / PERIOD / "report.html").read_text()


def test_a_failed_process_outranks_an_earlier_run_of_the_period(out: Path) -> None:
    """What `run --accounts` recorded: beta's process failed and left its earlier run of the
    period in place; that run is not rolled up. Once beta's folder changes (a later job),
    the record no longer applies."""
    digest = manifest_digest(out / "beta" / PERIOD)
    outcomes = {
        "alpha": Outcome("alpha", 1, None, True, manifest_digest(out / "alpha" / PERIOD)),
        "beta": Outcome("beta", 2, "GET /dedicatedCloud: the API refused", False, digest),
    }
    made = build_rollup(out, PERIOD, ["beta", "alpha"], outcomes)
    assert [a.name for a in made.accounts] == ["alpha", "beta"]
    beta = made.accounts[1]
    assert (beta.status.value, beta.exit_code) == ("failed", 2)
    assert beta.reason is not None
    assert beta.reason.startswith("GET /dedicatedCloud: the API refused; beta/2026-11/ holds an")
    assert beta.reason.endswith("(taken 2026-11-01T03:00:00Z), not rolled up")
    assert {item.account for item in made.findings} == {"alpha"}
    assert made.exit_code == 2
    run_month(out / "beta", PERIOD, {**BETA, ("pcc-192-0-2-9", 5): [api_vm(9, WIN, None)]})
    again = build_rollup(out, PERIOD, ["alpha", "beta"], outcomes)
    assert again.accounts[1].status.value == "complete"
    assert again.accounts[1].exit_code == 0  # fail_on never, from its findings.json


def test_hostile_vm_names_are_escaped_in_every_roll_up_format(tmp_path: Path) -> None:
    out = tmp_path / "audit"
    hostile = {(PROD, 1): [api_vm(i, WIN, None, name=n) for i, n in enumerate(HOSTILE_NAMES, 1)]}
    run_month(out / "alpha", PERIOD, hostile)
    run_month(out / "beta", PERIOD, BETA)
    assert rollup(out) == 0
    folder = out / "rollup" / PERIOD
    page = (folder / "report.html").read_text()
    assert "<script>alert" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "ctl\\x01char" in page and "\x01" not in page
    assert page.count("<script") == 0
    rows = list(csv.reader(io.StringIO((folder / "findings.csv").read_text("utf-8-sig"))))
    names = {row[rows[0].index("vm_name")] for row in rows[1:] if row[0] == "alpha"}
    assert '\'=HYPERLINK("http://x","y")' in names and "'@SUM(1+1)" in names
    assert not [n for n in names if n[:1] in "=+-@"]
    sheet = load_workbook(folder / "report.xlsx")["Findings"]
    header = [cell.value for cell in sheet[1]]
    cells = [row[header.index("VM name")] for row in sheet.iter_rows(min_row=2)]
    formula = next(c for c in cells if c.value == '=HYPERLINK("http://x","y")')
    assert formula.data_type == "s" and formula.quotePrefix
    assert {"<script>alert(1)</script>", "#N/A", "数据库-サーバー-ü-🚀"} <= {c.value for c in cells}
    assert not [c for c in cells if c.data_type in ("f", "e")]
    # findings.json keeps every value exactly (it is data).
    assert set(HOSTILE_NAMES) <= {f["vm_name"] for f in document(out)["findings"]}


def test_rollup_mail_sends_the_roll_up(out: Path, tmp_path: Path) -> None:
    mailbox = Mailbox()
    with LocalSmtpServer(mailbox) as server:
        config = tmp_path / "mail.toml"
        config.write_text(
            f'[mail]\nhost = "127.0.0.1"\nport = {server.port}\nsecurity = "none"\n'
            'from = "audit@example.com"\nto = ["msp@example.com"]\n'
        )
        assert rollup(out, "--mail", "--config", str(config)) == 1
    (received,) = mailbox.messages
    message = email.message_from_bytes(received.content, _class=EmailMessage, policy=default)
    assert message["Subject"].strip() == (
        "Windows licence audit 2026-11, 2 accounts: 1 Windows server ran unbilled"
    )
    attached = {part.get_filename() for part in message.iter_attachments()}
    assert attached == {"report.xlsx", "report.html"}
    body = message.get_body(("plain",))
    assert body is not None and "alpha: complete (exit 1)" in body.get_content()


def test_nothing_to_roll_up_is_an_input_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert rollup(tmp_path) == 2
    assert "nothing to roll up" in capsys.readouterr().err
    assert not (tmp_path / "rollup").exists()
