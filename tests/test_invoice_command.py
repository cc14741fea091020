"""`invoice RUN_DIR` end to end: a run folder reconciled with the simulator's bills (the real
`ovh` client, the billing key) or a hand-written `--bills` file; what it writes, what it
refuses, and that `report` and `mail` take the updated folder as it is."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from audit.cli.main import main
from audit.config.mail import MailSettings, Security
from audit.deliver.capture import LocalSmtpServer, Mailbox
from audit.deliver.delivery import deliver
from audit.model.invoice import RowStatus
from audit.model.period import Period
from audit.model.run import RunReport
from audit.model.snapshot import Failure, Scope, write_snapshot
from audit.reconciliation import ObtainedBills
from audit.reconciliation.folder import stamp
from audit.simulator.api import (
    BILLING_CONSUMER_KEY,
    DEFAULT_APPLICATION_KEY,
    DEFAULT_APPLICATION_SECRET,
    READONLY_CONSUMER_KEY,
    SimulatorConfig,
)
from audit.simulator.billing import BillingOptions, bill_id, licence_counts
from audit.simulator.direct import snapshot_of
from audit.simulator.fleet import Fault, Fleet
from audit.simulator.generate import generate_fleet
from audit.simulator.server import Simulator
from tests.helpers.fleet import hand_written_fleet
from tests.helpers.folders import copy_of

PREVIOUS = Period.of(datetime.now(UTC).date()).previous()
NOVEMBER = Period(2026, 11)
PROD = "pcc-203-0-113-10"
DR = "pcc-198-51-100-24"
HOSTILE = '=HYPERLINK("http://x","y") <script>alert(1)</script>'


def tree(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def one_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1, err
    return err[0]


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OVH_APPLICATION_KEY", DEFAULT_APPLICATION_KEY)
    monkeypatch.setenv("OVH_APPLICATION_SECRET", DEFAULT_APPLICATION_SECRET)
    monkeypatch.setenv("OVH_CONSUMER_KEY", READONLY_CONSUMER_KEY)
    monkeypatch.delenv("OVH_ENDPOINT", raising=False)


def fleet() -> Fleet:
    return generate_fleet(40, 5).fleet


def run_previous(sim: Simulator, out: Path) -> Path:
    """The monthly job for last month from a snapshot of the simulator's fleet taken now (the
    snapshot alone: billed VMs are the ones running with a licence, as the simulator's bill
    counts them)."""
    snapshot = out.parent / "snapshot.json.gz"
    taken = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    write_snapshot(snapshot_of(sim.fleet, taken, sim.url), snapshot)
    args = ["run", "--from-snapshot", str(snapshot), "--out", str(out), "--period", PREVIOUS.label]
    assert main([*args, "--fail-on", "never"]) == 0
    return out / PREVIOUS.label


def invoice(
    monkeypatch: pytest.MonkeyPatch, run_dir: Path, *args: str, key: str = BILLING_CONSUMER_KEY
) -> int:
    monkeypatch.setenv("OVH_CONSUMER_KEY", key)
    return main(["invoice", str(run_dir), *args])


def assert_manifest_vouches(run_dir: Path) -> dict[str, Any]:
    """Every file is the one the manifest lists (what `mail` and `report` check first)."""
    manifest = json.loads((run_dir / "manifest.json").read_text())
    listed = {name: data for name, data in tree(run_dir).items() if name != "manifest.json"}
    assert {n: hashlib.sha256(d).hexdigest() for n, d in listed.items()} == manifest["files"]
    return manifest


# --- against the simulator ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "code", "wrong"),
    [
        (BillingOptions(), 0, []),
        (BillingOptions(extra_licence=True), 1, [("BILL-OVER", "1", "medium")]),
        (BillingOptions(missing_licence=True), 1, [("BILL-UNDER", "-1", "low")]),
        (BillingOptions(unrelated_lines=True), 0, []),
    ],
    ids=["matching", "extra", "missing", "unrelated"],
)
@pytest.mark.slow
def test_invoice_reconciles_a_run_with_the_simulators_bills(
    credentials: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    options: BillingOptions,
    code: int,
    wrong: list[tuple[str, str, str]],
) -> None:
    served = fleet()
    with Simulator(served, SimulatorConfig(billing=options)) as sim:
        url = sim.url
        run_dir = run_previous(sim, tmp_path / "out")
        before = tree(run_dir)
        capsys.readouterr()
        assert invoice(monkeypatch, run_dir, "--endpoint", url) == code
    printed = capsys.readouterr().out
    document = json.loads((run_dir / "invoice.json").read_text())
    rows = document["rows"]
    assert {(r["service_name"], r["license"]) for r in rows} == set(licence_counts(served))
    differing = [(r["status"], r["difference"]) for r in rows if r["status"] != "ok"]
    assert differing == [(status, difference) for status, difference, _ in wrong]
    # The row statuses are findings of the documented severities.
    assert [(s, RowStatus(s).severity) for s, _, _ in wrong] == [(s, v) for s, _, v in wrong]
    for status, difference, _ in wrong:
        shown = f"+{difference}" if difference == "1" else difference
        assert f"  {status:<10} " in printed and f"({shown})" in printed
    # The bill dated the period's first day (last month's licences) and the period's own.
    months = (PREVIOUS.previous(), PREVIOUS)
    assert [b["bill_id"] for b in document["bills"]] == [bill_id(p.year, p.month) for p in months]
    # The lines of other domains are not the run's; the services' own other products are
    # listed whole (the rental of the period's month on its first bill).
    unclassified = document["unclassified"]
    if options.unrelated_lines:
        assert {line["description"] for line in unclassified} == {
            "Hosted Private Cloud host rental - 2 x Premier 384"
        }
        assert all(line["status"] == "BILL-UNCLASSIFIED" for line in unclassified)
    else:
        assert unclassified == []
    domains = {line["domain"] for line in (*unclassified, *document["outside_period"])}
    assert domains <= set(served.services)
    # findings.json holds the same document, typed; snapshot, plan and script are untouched.
    findings = json.loads((run_dir / "findings.json").read_text())
    assert findings["reconciliation"] == document
    assert RunReport.read(run_dir / "findings.json").reconciliation is not None
    after = tree(run_dir)
    for name in ("snapshot.json.gz", "remediation/plan.json", "remediation/remediate.py"):
        assert after[name] == before[name]
    manifest = assert_manifest_vouches(run_dir)
    stamp = manifest["reconciliation"]
    assert stamp["source"] == "api" and stamp["endpoint"] == url
    assert datetime.fromisoformat(stamp["reconciled_at"]).tzinfo is not None
    assert "invoice.json" in manifest["files"]


@pytest.mark.slow
def test_invoice_twice_gives_the_same_files_and_report_keeps_them(
    credentials: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Simulator(fleet(), SimulatorConfig(billing=BillingOptions(extra_licence=True))) as sim:
        run_dir = run_previous(sim, tmp_path / "out")
        assert invoice(monkeypatch, run_dir, "--endpoint", sim.url) == 1
        first = tree(run_dir)
        assert invoice(monkeypatch, run_dir, "--endpoint", sim.url) == 1
        assert tree(run_dir) == first  # byte for byte, the manifest's time included
    # `report` rebuilds the same reports and keeps the reconciliation's stamp.
    assert main(["report", str(run_dir)]) == 0
    assert tree(run_dir) == first


def test_a_key_that_may_not_read_bills_is_one_line_and_nothing_is_written(
    credentials: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with Simulator(fleet(), SimulatorConfig()) as sim:
        run_dir = run_previous(sim, tmp_path / "out")
        before = tree(run_dir)
        capsys.readouterr()
        code = invoice(monkeypatch, run_dir, "--endpoint", sim.url, key=READONLY_CONSUMER_KEY)
    assert code == 2
    message = one_error(capsys)
    assert "GET /me/bill: this consumer key may not read bills" in message
    assert "it lacks the right GET /me/bill" in message and "auth request --billing" in message
    assert tree(run_dir) == before


@pytest.mark.slow
def test_a_bill_line_that_cannot_be_read_writes_nothing(
    credentials: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    identifier = bill_id(PREVIOUS.year, PREVIOUS.month)
    broken = f"/me/bill/{identifier}/details/{identifier[2:]}0001"
    served = replace(fleet(), faults=(Fault(broken, 500),))  # no retry cures it
    config = tmp_path / "fast.toml"
    config.write_text("[audit]\nmax_retries = 1\nretry_base_delay_s = 0.01\n")
    with Simulator(served, SimulatorConfig()) as sim:
        run_dir = run_previous(sim, tmp_path / "out")
        before = tree(run_dir)
        capsys.readouterr()
        code = invoice(monkeypatch, run_dir, "--endpoint", sim.url, "--config", str(config))
    assert code == 3
    message = one_error(capsys)
    assert f"GET {broken}: HTTP 500" in message and message.endswith("nothing written")
    assert tree(run_dir) == before


@pytest.mark.slow
def test_mail_sends_the_reconciled_folder(
    credentials: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Simulator(fleet(), SimulatorConfig(billing=BillingOptions(extra_licence=True))) as sim:
        run_dir = run_previous(sim, tmp_path / "out")
        assert invoice(monkeypatch, run_dir, "--endpoint", sim.url) == 1
    with LocalSmtpServer(Mailbox()) as server:
        settings = MailSettings(
            host="127.0.0.1",
            port=server.port,
            security=Security.NONE,
            sender="audit@example.com",
            to=("owner@example.com",),
        )
        deliver(run_dir, settings)
    message = message_from_bytes(server.mailbox.messages[-1].content, policy=policy.default)
    [workbook] = [
        part.get_content()
        for part in message.iter_attachments()
        if part.get_filename() == "report.xlsx"
    ]
    assert workbook == (run_dir / "report.xlsx").read_bytes()
    assert "Reconciliation" in openpyxl.load_workbook(io.BytesIO(workbook)).sheetnames


# --- a hand-written --bills file -----------------------------------------------------------


def detail(
    detail_id: str, description: str, quantity: Any, total: str, domain: str = PROD, **extra: Any
) -> dict[str, Any]:
    """A `billing.BillDetail` written by hand, as a customer would copy it from a bill."""
    return {
        "billDetailId": detail_id,
        "description": description,
        "domain": domain,
        "periodStart": "2026-11-01",
        "periodEnd": "2026-11-30",
        "quantity": quantity,
        "unitPrice": {"currencyCode": "EUR", "value": 24.5, "text": "24.50 EUR"},
        "totalPrice": {"currencyCode": "EUR", "value": float(total), "text": f"{total} EUR"},
        **extra,
    }


HAND_WRITTEN = [
    # 2019 Standard Core: one VM runs it (1074), one invoiced: ok.
    detail("L1", "Windows Server 2019 Standard Core, SPLA", "1", "24.50"),
    # 2022 Standard: one VM runs it (1076), two invoiced: BILL-OVER by 1.
    detail("L2", "Windows Server 2022 Standard, SPLA", "2", "49.00"),
    # 2022 Datacenter: one VM (2001), "1.0" invoiced: ok. 2012 R2 Standard (1077) is not
    # invoiced at all: BILL-UNDER by 1.
    detail("L3", "Windows Server 2022 Datacenter, SPLA", "1.0", "129.00"),
    # A line of the service that names no licence value, with a hostile description.
    detail("L4", HOSTILE, "1", "10.00"),
    # Another domain: not the run's.
    detail("L5", "Windows Server 2022 Standard", "3", "73.50", domain="ns3001234.ip-203-0-113.eu"),
]


@pytest.fixture(scope="module")
def hand_written_november(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """November from a stored snapshot of the hand-written fleet, taken on December 1st: the
    VMs running with a licence are the ones billed (built once; each test gets a copy)."""
    tmp_path = tmp_path_factory.mktemp("hand-run")
    fleet_data = {**hand_written_fleet(), "faults": []}
    snapshot = tmp_path / "snapshot.json.gz"
    taken = "2026-12-01T02:00:00Z"
    write_snapshot(snapshot_of(Fleet.from_json(fleet_data, "fleet"), taken), snapshot)
    out = tmp_path / "out"
    args = ["run", "--from-snapshot", str(snapshot), "--out", str(out), "--period", "2026-11"]
    assert main([*args, "--fail-on", "never"]) == 0
    return out


@pytest.fixture
def hand_run(hand_written_november: Path, tmp_path: Path) -> Path:
    """This test's own copy of the November run folder (under an output folder of its own)."""
    return copy_of(hand_written_november, tmp_path / "out") / NOVEMBER.label


def bills_file(tmp_path: Path, lines: Any, name: str = "bills.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(lines), encoding="utf-8")
    return path


def test_hand_written_bills_give_the_exact_rows(
    hand_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["invoice", str(hand_run), "--bills", str(bills_file(tmp_path, HAND_WRITTEN))]) == 1
    document = json.loads((hand_run / "invoice.json").read_text())
    rows = {
        (r["service_name"], r["license"]): (r["invoiced_quantity"], r["billed_vms"], r["status"])
        for r in document["rows"]
    }
    assert rows == {
        (PROD, "windows 2012 R2 Standard"): ("0", 1, "BILL-UNDER"),
        (PROD, "windows 2019 Standard Core"): ("1", 1, "ok"),
        (PROD, "windows 2022 Datacenter"): ("1", 1, "ok"),
        (PROD, "windows 2022 Standard"): ("2", 1, "BILL-OVER"),
    }
    over = next(r for r in document["rows"] if r["status"] == "BILL-OVER")
    assert (over["difference"], over["lines"], over["total"]) == ("1", ["L2"], "49.0")
    [line] = document["unclassified"]
    assert (line["bill_detail_id"], line["description"], line["status"]) == (
        "L4",
        HOSTILE,
        "BILL-UNCLASSIFIED",
    )
    assert line["reason"] == "no [invoice] pattern matches its description"
    assert document["bills"] == []
    manifest = assert_manifest_vouches(hand_run)
    assert manifest["reconciliation"]["source"] == "--bills"
    assert manifest["reconciliation"]["file"] == "bills.json"  # a name, never a path
    printed = capsys.readouterr().out
    assert "rows: 2 ok, 1 BILL-OVER, 1 BILL-UNDER; 1 line(s) BILL-UNCLASSIFIED" in printed
    under = f"BILL-UNDER {PROD} windows 2012 R2 Standard: invoiced 0, billed VMs 1 (-1)"
    assert under in printed


def test_the_reports_show_the_reconciliation_with_hostile_text_made_safe(
    hand_run: Path, tmp_path: Path
) -> None:
    csv_before = (hand_run / "findings.csv").read_bytes()
    assert main(["invoice", str(hand_run), "--bills", str(bills_file(tmp_path, HAND_WRITTEN))]) == 1
    html = (hand_run / "report.html").read_text(encoding="utf-8")
    section = html.split('<section id="reconciliation">', 1)[1].split("</section>", 1)[0]
    assert '<a href="#reconciliation">' in html
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in section
    assert "The wording of real invoice lines is unverified" in section
    assert "[invoice] patterns" in section
    for text in ("BILL-OVER", "BILL-UNDER", "BILL-UNCLASSIFIED", "49.00 EUR", "24.50 EUR"):
        assert text in section, text
    assert 'class="badge sev-medium">BILL-OVER' in section
    assert 'class="badge sev-low">BILL-UNDER' in section
    assert 'class="badge sev-info">BILL-UNCLASSIFIED' in section
    # The workbook's sheet: the row figures as numbers, the hostile description as text.
    book = openpyxl.load_workbook(hand_run / "report.xlsx")
    sheet = book["Reconciliation"]
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    over = next(row for row in values if "BILL-OVER" in row)
    assert over[:11] == [
        PROD,
        "windows 2022 Standard",
        2,
        24.5,
        49,
        "EUR",
        1,
        1,
        "BILL-OVER",
        "medium",
        "L2",
    ]
    [cell] = [c for row in sheet.iter_rows() for c in row if c.value == HOSTILE]
    assert cell.data_type == "s" and cell.quotePrefix
    assert any("unverified" in str(v) for row in values for v in row)
    with zipfile.ZipFile(hand_run / "report.xlsx") as archive:
        names = archive.namelist()
        sheets = [archive.read(n).decode() for n in names if n.startswith("xl/worksheets/")]
    assert not any("<f>" in text for text in sheets)  # no formula anywhere
    # findings.csv lists findings only: the bill's text never reaches it.
    assert (hand_run / "findings.csv").read_bytes() == csv_before
    rows = list(csv.reader(io.StringIO(csv_before.decode("utf-8-sig"))))
    assert all(HOSTILE not in cell for row in rows for cell in row)


def test_an_incomplete_run_is_reconciled_with_a_warning(
    tmp_path: Path, fleet_data: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """What the run could not read has no billed VMs: the rows may say BILL-OVER for it."""
    snapshot = snapshot_of(
        Fleet.from_json({**fleet_data, "faults": []}, "fleet"), "2026-12-01T02:00:00Z"
    )
    failure = Failure(Scope.DATACENTER, f"/dedicatedCloud/{DR}/datacenter/3/vm", "HTTP 503", DR, 3)
    snapshot = replace(snapshot, coverage=replace(snapshot.coverage, failures=(failure,)))
    stored = tmp_path / "snapshot.json.gz"
    write_snapshot(snapshot, stored)
    out = tmp_path / "out"
    args = ["run", "--from-snapshot", str(stored), "--out", str(out), "--period", "2026-11"]
    assert main([*args, "--fail-on", "never"]) == 3
    capsys.readouterr()
    bills = bills_file(tmp_path, HAND_WRITTEN)
    assert main(["invoice", str(out / "2026-11"), "--bills", str(bills)]) == 1
    assert "warning: the run's collection was incomplete" in one_error(capsys)


def test_a_run_without_reconciliation_has_no_section_or_sheet(hand_run: Path) -> None:
    assert 'id="reconciliation"' not in (hand_run / "report.html").read_text(encoding="utf-8")
    assert "Reconciliation" not in openpyxl.load_workbook(hand_run / "report.xlsx").sheetnames


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{", "not valid JSON: line 1 column 2"),
        ('{"lines": []}', "expected a JSON array of BillDetail objects"),
        (json.dumps([detail("L1", "x", "1", "1.00", domain=None)]), "[0].domain: expected a"),
        (
            json.dumps([detail("L1", "x", "1", "1"), detail("L1", "y", "1", "1")]),
            "[1].billDetailId: 'L1' already at [0]",
        ),
    ],
    ids=["json", "object", "field", "duplicate"],
)
def test_a_bad_bills_file_is_one_line_and_nothing_is_written(
    hand_run: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: str,
    expected: str,
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    before = tree(hand_run)
    capsys.readouterr()
    assert main(["invoice", str(hand_run), "--bills", str(path)]) == 2
    message = one_error(capsys)
    assert str(path) in message and expected in message
    assert tree(hand_run) == before


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ('"windows 2019 Standard" = "(unclosed"', "invalid regular expression"),
        ('"windows 2099 Standard" = "x"', "not a licence value OVHcloud bills"),
    ],
    ids=["regex", "value"],
)
def test_bad_patterns_are_one_line_and_nothing_is_written(
    hand_run: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    section: str,
    expected: str,
) -> None:
    config = tmp_path / "audit.toml"
    config.write_text(f"[invoice.patterns]\n{section}\n", encoding="utf-8")
    bills = bills_file(tmp_path, HAND_WRITTEN)
    before = tree(hand_run)
    capsys.readouterr()
    assert main(["invoice", str(hand_run), "--bills", str(bills), "--config", str(config)]) == 2
    message = one_error(capsys)
    assert str(config) in message and expected in message
    assert tree(hand_run) == before


def test_a_pattern_maps_an_unclassified_line_and_is_recorded(
    hand_run: Path, tmp_path: Path
) -> None:
    """The README's way: copy a listed line's description into [invoice.patterns]."""
    lines = [*HAND_WRITTEN, detail("L6", "SPLA WinSvr Std 2012R2", "1", "24.50")]
    config = tmp_path / "audit.toml"
    config.write_text(
        "[invoice.patterns]\n\"windows 2012 R2 Standard\" = 'SPLA WinSvr Std 2012R2'\n",
        encoding="utf-8",
    )
    bills = bills_file(tmp_path, lines)
    assert main(["invoice", str(hand_run), "--bills", str(bills), "--config", str(config)]) == 1
    document = json.loads((hand_run / "invoice.json").read_text())
    row = next(r for r in document["rows"] if r["license"] == "windows 2012 R2 Standard")
    assert (row["status"], row["lines"]) == ("ok", ["L6"])
    assert document["patterns"] == {"windows 2012 R2 Standard": "SPLA WinSvr Std 2012R2"}
    html = (hand_run / "report.html").read_text(encoding="utf-8")
    assert "SPLA WinSvr Std 2012R2</code>" in html


def test_a_run_folder_changed_since_the_run_is_refused(
    hand_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = hand_run / "remediation" / "plan.json"
    plan.write_text(plan.read_text() + " ", encoding="utf-8")
    before = tree(hand_run)
    bills = bills_file(tmp_path, HAND_WRITTEN)
    capsys.readouterr()
    assert main(["invoice", str(hand_run), "--bills", str(bills)]) == 2
    message = one_error(capsys)
    assert str(plan) in message and "manifest.json" in message and "nothing written" in message
    assert tree(hand_run) == before


def test_endpoint_and_bills_together_are_a_usage_error(
    hand_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bills = bills_file(tmp_path, HAND_WRITTEN)
    with pytest.raises(SystemExit) as stopped:
        main(["invoice", str(hand_run), "--bills", str(bills), "--endpoint", "ovh-eu"])
    assert stopped.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_the_reconciliation_reads_back_as_written(hand_run: Path, tmp_path: Path) -> None:
    assert main(["invoice", str(hand_run), "--bills", str(bills_file(tmp_path, HAND_WRITTEN))]) == 1
    path = hand_run / "findings.json"
    report = RunReport.read(path)
    assert report.dumps() == path.read_text(encoding="utf-8")
    assert report.reconciliation is not None
    over = next(r for r in report.reconciliation.rows if r.status.value == "BILL-OVER")
    assert over.difference == Decimal(1) and over.unit_price is not None
    document = json.loads(path.read_text(encoding="utf-8"))
    document["reconciliation"]["rows"][0]["invoiced_quantity"] = "1e3"
    with pytest.raises(Exception, match=r"findings.json: reconciliation: damaged \(expected a"):
        RunReport.from_json(document, str(path))


def test_the_stamp_keeps_its_time_only_for_the_same_invoice_from_the_same_source() -> None:
    origin = {"source": "--bills", "file": "bills.json", "sha256": "ab"}
    obtained = ObtainedBills(lines=(), bills=(), origin=origin)
    first = stamp(obtained, "{}\n", None, lambda: datetime(2026, 12, 2, 8, 0, tzinfo=UTC))
    assert first["reconciled_at"] == "2026-12-02T08:00:00+00:00"
    later = lambda: datetime(2026, 12, 3, 9, 30, tzinfo=UTC)  # noqa: E731
    assert stamp(obtained, "{}\n", first, later) == first
    assert stamp(obtained, '{"rows": []}\n', first, later)["reconciled_at"] == (
        "2026-12-03T09:30:00+00:00"
    )
    moved = ObtainedBills(lines=(), bills=(), origin={**origin, "sha256": "cd"})
    assert stamp(moved, "{}\n", first, later)["reconciled_at"] == "2026-12-03T09:30:00+00:00"
