"""The business figures, computed once in evaluate (audit/evaluate/figures.py)."""

from __future__ import annotations

from audit.evaluate.figures import verdict
from audit.evaluate.position import usage_totals
from audit.model.findings import Finding, Severity, Status
from audit.model.position import LicenceUsage, UsageTotal
from audit.support.errors import ExitCode
from tests.helpers.render import make_run


def finding(severity: Severity, status: Status = Status.OPEN) -> Finding:
    return Finding(
        "WIN-UNLICENSED", severity, status, "pcc-1", 1, 1, None, None, None, None, None, "m"
    )


def test_the_verdict_is_the_exit_code() -> None:
    findings = (finding(Severity.MEDIUM), finding(Severity.HIGH, Status.WAIVED))
    assert verdict(True, "high", findings).exit_code is ExitCode.OK
    failing = verdict(True, "medium", findings)
    assert (failing.failing, failing.exit_code) == (1, ExitCode.FINDINGS)
    assert verdict(True, "low", findings).failing == 1  # worse severities count too
    assert verdict(True, "never", findings).exit_code is ExitCode.OK
    assert verdict(True, None, findings).failing == 0  # not recorded: no threshold
    assert verdict(False, "never", findings).exit_code is ExitCode.INCOMPLETE


def test_usage_totals_per_licence_and_overall() -> None:
    usage = (
        LicenceUsage("a", 1, None, 2, 4, 1, 2),
        LicenceUsage("a", 1, "windows 2019 Standard", 1, 8, 1, 8),
        LicenceUsage("a", 2, "", 1, 2, 0, 0),  # an empty value counts as no licence
        LicenceUsage("b", 1, "windows 2019 Standard", 3, 6, 0, 0),
    )
    totals = usage_totals(usage)
    assert totals.by_licence == (
        UsageTotal(None, 3, 6, 1, 2),
        UsageTotal("windows 2019 Standard", 4, 14, 1, 8),
    )
    assert totals.overall == UsageTotal(None, 7, 20, 2, 10)
    assert (totals.overall.vms_powered_off, totals.overall.vcpus_powered_off) == (5, 10)


def test_the_figures_agree_with_findings_json() -> None:
    run = make_run()
    figures = run.figures
    summary = run.report.summary
    assert [count.findings for count in figures.severities] == list(summary.by_severity.values())
    assert figures.open == sum(summary.open_by_severity.values())
    assert figures.vms.audited == sum(1 for vm in run.inventory.vms() if not vm.deleted)
    correctly = next(f for f in figures.headline if f.of is not None)
    assert (correctly.value, correctly.of) == (
        figures.windows_total.licensed,
        figures.windows_total.windows,
    )
    assert sum(row.windows for row in figures.windows_by_service) == correctly.of
    assert figures.position.rows == run.report.licences
