"""`demo` end to end on a small fleet: what `make demo` shows a new user must keep working."""

from __future__ import annotations

import json
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from audit.cli.main import main


@pytest.mark.slow
def test_demo_runs_two_months_and_the_applied_plan_shows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "demo"
    assert (
        main(["demo", "--vms", "150", "--seed", "7", "--latency-ms", "0", "--out", str(out)]) == 0
    )
    periods = sorted(p.name for p in out.iterdir() if p.is_dir() and p.name[:2] == "20")
    assert len(periods) == 2
    first, second = (json.loads((out / p / "findings.json").read_text()) for p in periods)
    assert second["previous_run"]["period"] == periods[0]
    fixed = [gone for gone in second["resolved"] if gone["reason"] == "fixed"]
    assert fixed, "the first month's applied plan must resolve findings in the second"
    assert {event["event"] for event in second["changes"]} >= {"licence_set", "vm_added"}
    assert len(first["findings"]) > 0
    # The plan applied in between is listed by the second month (plan, period, applied).
    [applied] = second["remediation_applied"]
    assert applied["plan_sha256"] == first["run"]["remediation_plan"]["sha256"]
    assert applied["period"] == periods[0] and applied["applied"] > 0
    assert (
        "Remediation applied since the previous run"
        in (out / periods[1] / "report.html").read_text()
    )

    # The first month shows each case of OVHcloud's billing rule (docs/DESIGN.md, "What the month
    # cost"), each from a change the demo prints.
    printed = capsys.readouterr().out
    found = {(f["rule_id"], f["vm_id"]): f for f in first["findings"]}
    build = next(s for s in first["shortfalls"] if s["vm_name"] == "tmp-build-01")
    assert "no longer listed" in found[("WIN-UNLICENSED", build["vm_id"])]["message"]
    started = int(printed.split("(no licence, powered off) started")[0].rsplit("VM ", 1)[1])
    assert started in {s["vm_id"] for s in first["shortfalls"]}
    assert "powered off at the snapshot" in found[("WIN-UNLICENSED", started)]["message"]
    licensed = int(printed.split(" given 'windows 2019 Standard'")[0].rsplit("VM ", 1)[1])
    assert ("WIN-UNLICENSED-INTERIM", licensed) in found
    deleted = int(printed.split(" deleted in vCenter")[0].rsplit("VM ", 1)[1])
    assert ("LIC-DELETED-DECLARED", deleted) in found
    assert any(rule == "LIC-VERSION-DOWNGRADE" for rule, _ in found)
    sql = int(printed.split(" loses its licence 'windows")[0].rsplit("VM ", 1)[1])
    plan = json.loads((out / periods[0] / "remediation" / "plan.json").read_text())
    [kept] = [a for a in plan["actions"] if a["vm_id"] == sql]
    assert kept["action"] == "setLicense" and " SQL" in kept["target_license"]
    assert kept["target_license"] in printed.split(f"VM {sql} loses its licence")[1].split("\n")[0]
    [off] = [a for a in plan["actions"] if a["vm_id"] == started]
    assert off["action"] == "manual"
    # The first month is reconciled with its bill, which invoices one licence too many: one
    # BILL-OVER, every other row ok (the bill counts the VMs of every day, as the rule does).
    invoice = json.loads((out / periods[0] / "invoice.json").read_text())
    assert [(r["status"], r["difference"]) for r in invoice["rows"] if r["status"] != "ok"] == [
        ("BILL-OVER", "1")
    ]
    assert invoice["unclassified"] == [] and first["reconciliation"] == invoice
    assert f"invoice reconciliation of {periods[0]}" in printed and "1 BILL-OVER" in printed
    assert 'class="badge sev-medium">BILL-OVER' in (out / periods[0] / "report.html").read_text()
    # The next month lists the first month's shortfalls, none reviewed settled.
    unsettled = {(s["period"], s["vm_id"]) for s in second["unsettled_shortfalls"]}
    assert {(periods[0], build["vm_id"]), (periods[0], started)} <= unsettled
    printed += capsys.readouterr().out
    last_lines = [line.strip() for line in printed.splitlines()[-4:]]
    assert last_lines == [
        str(out / period / name) for period in periods for name in ("report.html", "report.xlsx")
    ]
    assert all(Path(path).stat().st_size > 0 for path in last_lines)
    # The second month's report went by mail to a local server; the message is kept as .eml.
    saved = out / "mail" / f"{periods[1]}.eml"
    assert f"  the message as received: {saved}\n" in printed
    message = message_from_bytes(saved.read_bytes(), policy=policy.default)
    # The second month is run before it ends: the subject says the period is in progress.
    assert message["Subject"].startswith(
        f"Windows licence audit {periods[1]} (period in progress: "
    )
    assert [part.get_filename() for part in message.iter_attachments()] == [
        "report.xlsx",
        "report.html",
    ]
