"""`ovh-license-audit demo`: the simulator plus the real monthly job, two months running,
the first one observed every day and reconciled with its bill (one licence too many).

The job talks to the simulator over HTTP through the real `ovh` client, signing every call
with the simulator's read-only key, exactly as it would talk to a real account. The daily
observations of the first month go through `observe`'s recording path; a few of them are
collected over HTTP, the others are read straight from the simulated fleet as it changes (the
same content, without 30 collections), so the demo stays under two minutes.
"""

from __future__ import annotations

import argparse
import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import MappingProxyType

from audit.cli.invoice import summary_lines
from audit.cli.options import HelpFormatter, exit_codes_epilog, number_argument
from audit.cli.run import print_summary
from audit.collect.api import ClientFactory, Credentials, resolve_endpoint
from audit.collect.collector import CollectOptions
from audit.config.invoice import InvoiceSettings
from audit.config.mail import MailSettings, Security
from audit.config.values import Range
from audit.deliver.delivery import deliver
from audit.evaluate.exceptions import load_exceptions
from audit.evaluate.knowledge import GuestKind, interpret_guest_os
from audit.exposure.observe import record_day
from audit.history.store import HISTORY_FILE
from audit.job import (
    REMEDIATION_DIR,
    JobResult,
    JobSpec,
    SnapshotSource,
    register_file,
    run_job,
)
from audit.model.exceptions import REGISTER_COLUMNS
from audit.model.licences import UNLICENSED
from audit.model.period import Period
from audit.model.snapshot import encode_snapshot
from audit.reconciliation import BillsFromApi, Reconciled, reconcile_run
from audit.remediate.record import SOURCE_APPLY, record_results
from audit.remediate.script import PLAN_FILE
from audit.runtime.plan import read_plan
from audit.runtime.runner import ApplyOptions, remediate
from audit.simulator.api import (
    BILLING_CONSUMER_KEY,
    DEFAULT_APPLICATION_KEY,
    DEFAULT_APPLICATION_SECRET,
    READONLY_CONSUMER_KEY,
    REMEDIATE_CONSUMER_KEY,
    SimulatorConfig,
)
from audit.simulator.billing import BillingOptions
from audit.simulator.direct import snapshot_of
from audit.simulator.fleet import TOOLS_GUEST_OS_FAMILY, Datacenter, Fleet, Vm
from audit.simulator.generate import GeneratedFleet, generate_fleet
from audit.simulator.licences import GUEST_VERSIONS, licence_fits_guest
from audit.simulator.server import Simulator
from audit.support.crash import note_output_folder
from audit.support.errors import ExitCode
from audit.support.fsutil import atomic_write_bytes, atomic_write_text

DEMO_OUT = Path("reports/demo")
DEMO_MAX_CHANGES = 25

# A fleet of at least one VM (the bench goes to 100,000), and a latency that is a number of
# milliseconds a request may take.
DEMO_VMS = Range(1, 200_000)
DEMO_LATENCY_MS = Range(0, 10_000)


def demo_periods(today: date) -> tuple[Period, Period]:
    """Last month and this month, so the second run has a previous one to compare with."""
    this_month = Period.of(today)
    return this_month.previous(), this_month


def demo_register(generated: GeneratedFleet, today: date) -> str:
    """A small exceptions register for the generated fleet: BYOL, a waiver, stale, expired."""
    rows: list[dict[str, str]] = []
    wanted = [
        ("WIN-CLIENT-OS", "byol", "Covered by our Microsoft EA (VDI)", ""),
        (
            "LIC-POWERED-OFF",
            "waiver",
            "Cold standby, licence kept for DR tests",
            (today + timedelta(days=90)).isoformat(),
        ),
        (
            "GUEST-OS-UNKNOWN",
            "waiver",
            "Appliance, vendor-supported",
            (today - timedelta(days=10)).isoformat(),
        ),
    ]
    for rule_id, kind, reason, expires in wanted:
        for (service, dc, vm), rules in sorted(generated.expected.items()):
            if rule_id in rules:
                rows.append(
                    dict(
                        service_name=service,
                        datacenter_id=str(dc),
                        vm_id=str(vm),
                        rule_id=rule_id,
                        kind=kind,
                        reason=reason,
                        approved_by="j.martin@example.com",
                        expires=expires,
                        reference=f"CHG-{1000 + len(rows)}",
                    )
                )
                break
    first_service = min(key[0] for key in generated.expected)
    rows.append(
        dict(
            service_name=first_service,
            datacenter_id="1",
            vm_id="999999",
            rule_id="*",
            kind="byol",
            reason="VM decommissioned in March",
            approved_by="j.martin@example.com",
            expires="",
            reference="CHG-0999",
        )
    )
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=REGISTER_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def api_source(simulator: Simulator) -> SnapshotSource:
    """Collection over HTTP with the simulator's read-only key."""
    endpoint = resolve_endpoint(simulator.url)
    credentials = Credentials(
        DEFAULT_APPLICATION_KEY, DEFAULT_APPLICATION_SECRET, READONLY_CONSUMER_KEY
    )
    return SnapshotSource(
        factory=ClientFactory(endpoint, credentials),
        options=CollectOptions(workers=8, max_rps=None),
        endpoint_label=simulator.url,
    )


def _observed_dc(fleet: Fleet) -> Datacenter:
    """The datacenter the month's changes happen in (its vmLicensed follows the VMs)."""
    return next(
        dc
        for service in fleet.services.values()
        for dc in service.datacenters.values()
        if dc.vms and dc.vm_licensed is None
    )


def _set(dc: Datacenter, vm_id: int, **fields: object) -> None:
    dc.vms[vm_id] = Vm(MappingProxyType({**dc.vms[vm_id].fields, **fields}))


@dataclass
class MonthOfChanges:
    """The first month's life, day by day, one case of OVHcloud's billing rule each: a build
    VM runs Windows unlicensed from the 3rd and is deleted on the 20th (billed nothing: a
    shortfall); a powered-off unlicensed server runs from the 10th to the 12th (a shortfall,
    off at the snapshot: no licence planned); a running unlicensed server gets its licence on
    the 15th (billed for the month: interim, covered); a licensed VM is deleted on the 22nd
    with its licence still declared; a SQL Server VM loses its licence on the 25th (the plan
    sets its SQL bundle back, never plain Windows)."""

    fleet: Fleet
    build_id: int = 0
    started_id: int | None = None

    def day(self, day: int) -> list[str]:
        dc = _observed_dc(self.fleet)
        server = "windows2019srv_64Guest"
        stopped = [
            (where, vm.vm_id)
            for _, _, vm in self.fleet.vms()
            for where in self._datacenter_of(vm.vm_id)
            if vm.license is None
            and interpret_guest_os(vm.guest_os_family).kind is GuestKind.WINDOWS_SERVER
            and vm.fields.get("powerState") == "poweredOff"
        ]
        running = [
            (where, vm.vm_id)
            for _, _, vm in self.fleet.vms()
            for where in self._datacenter_of(vm.vm_id)
            if vm.license in (None, UNLICENSED)
            and vm.guest_os_family == server
            and vm.fields.get("powerState") == "poweredOn"
            and vm.vm_id != self.build_id
        ]
        changes: list[str] = []
        if day == 3:
            self.build_id = max(vm.vm_id for _, _, vm in self.fleet.vms()) + 1000
            template = next(iter(dc.vms.values())).fields
            fields = {
                "vmId": self.build_id,
                "moRef": f"vm-{self.build_id}",
                "name": "tmp-build-01",
                "powerState": "poweredOn",
                "guestOsFamily": server,
                "license": None,
            }
            dc.vms[self.build_id] = Vm(MappingProxyType({**template, **fields}))
            changes.append(f"VM {self.build_id} tmp-build-01 created ({server}, no licence, on)")
        elif day == 10 and stopped:
            where, self.started_id = stopped[0]
            _set(where, self.started_id, powerState="poweredOn")
            changes.append(f"VM {self.started_id} (no licence, powered off) started")
        elif day == 13 and self.started_id is not None:
            for where in self._datacenter_of(self.started_id):
                _set(where, self.started_id, powerState="poweredOff")
            changes.append(f"VM {self.started_id} powered off again")
        elif day == 15 and running:
            where, licensed = running[0]
            where.set_license(licensed, "windows 2019 Standard")
            changes.append(f"VM {licensed} given 'windows 2019 Standard' (unlicensed until now)")
        elif day == 20 and self.build_id in dc.vms:
            del dc.vms[self.build_id]
            changes.append(f"VM {self.build_id} tmp-build-01 deleted")
        elif day == 22 and (plain := self._running_with(sql=False)):
            where, vm = plain[0]
            _set(where, vm.vm_id, powerState="deleted")
            changes.append(f"VM {vm.vm_id} deleted in vCenter, its '{vm.license}' still declared")
        elif day == 25 and (bundles := self._running_with(sql=True)):
            where, vm = bundles[0]
            where.set_license(vm.vm_id, None)
            changes.append(f"VM {vm.vm_id} loses its licence '{vm.license}' (removed by mistake)")
        return changes

    def _running_with(self, sql: bool) -> list[tuple[Datacenter, Vm]]:
        """Running VMs whose licence fits a guest of one Windows version, with a SQL Server
        bundle or a plain Windows edition."""
        return [
            (where, vm)
            for _, _, vm in self.fleet.vms()
            for where in self._datacenter_of(vm.vm_id)
            if vm.fields.get("powerState") == "poweredOn"
            and vm.license is not None
            and ("SQL" in vm.license) == sql
            and len(GUEST_VERSIONS.get(vm.guest_os_family or "", ())) == 1
            and licence_fits_guest(vm.license, vm.guest_os_family)
            and vm.tools_guest_os_family == vm.guest_os_family
        ]

    def _datacenter_of(self, vm_id: int) -> list[Datacenter]:
        return [
            dc
            for service in self.fleet.services.values()
            for dc in service.datacenters.values()
            if vm_id in dc.vms
        ]


def observe_month(simulator: Simulator, period: Period, out: Path) -> None:
    """A daily observation of every day of `period`, recorded as `observe --date` would."""
    last_day = period.end.day
    http_days = {1, 15, last_day}
    changes = MonthOfChanges(simulator.fleet)
    for day in range(1, last_day + 1):
        when = period.start.replace(day=day)
        for line in changes.day(day):
            print(f"  {when.isoformat()}: {line}")
        simulator.record_usage(period.year, period.month)  # what the month's bill invoices
        if day in http_days:
            snapshot, data = api_source(simulator).load()
        else:
            taken_at = f"{when.isoformat()}T02:00:00Z"
            snapshot = snapshot_of(simulator.fleet, taken_at, simulator.url)
            data = encode_snapshot(snapshot)
        record_day(out, snapshot, data, when, source="observe --date")
    print(f"  {last_day} daily observations recorded ({len(http_days)} collected over HTTP)")


def run_month(simulator: Simulator, period: Period, out: Path, exceptions_path: Path) -> JobResult:
    source = api_source(simulator)
    spec = JobSpec(
        out_dir=out,
        period=period,
        source=source,
        exceptions=load_exceptions(exceptions_path),
        register=register_file(exceptions_path),
    )
    return run_job(spec)


def reconcile_month(simulator: Simulator, run_dir: Path) -> Reconciled:
    """`invoice RUN_DIR` with the simulator's billing key (GET on the bills as well)."""
    credentials = Credentials(
        DEFAULT_APPLICATION_KEY, DEFAULT_APPLICATION_SECRET, BILLING_CONSUMER_KEY
    )
    source = BillsFromApi(
        ClientFactory(resolve_endpoint(simulator.url), credentials),
        CollectOptions(workers=8, max_rps=None),
    )
    return reconcile_run(run_dir, source, InvoiceSettings())


def apply_plan(simulator: Simulator, result: JobResult, out: Path) -> None:
    """The operator's step between the two months: apply the plan with the key that may POST."""
    plan = read_plan(result.run_dir / REMEDIATION_DIR / PLAN_FILE)
    credentials = Credentials(
        DEFAULT_APPLICATION_KEY, DEFAULT_APPLICATION_SECRET, REMEDIATE_CONSUMER_KEY
    )
    client = ClientFactory(resolve_endpoint(simulator.url), credentials).new_client()
    options = ApplyOptions(apply=True, max_changes=DEMO_MAX_CHANGES)
    report = remediate(client, plan, options, out / REMEDIATION_DIR)
    # As `remediate --apply` does: the next month's report lists what was applied.
    history = out / HISTORY_FILE
    recorded = record_results(
        history,
        report.results_path,
        SOURCE_APPLY,
        lambda period: out / period / REMEDIATION_DIR / PLAN_FILE,
    )
    print(recorded.line(history))


def evolve_fleet(fleet: Fleet) -> list[str]:
    """A month's life in vCenter, so the second report shows licence events: a Windows VM is
    added without a licence, a Linux VM is reinstalled as Windows, the last VM is deleted.

    Called between the months, when no request or licence task is in flight.
    """
    dc = next(
        dc
        for service in fleet.services.values()
        for dc in service.datacenters.values()
        if dc.vms and dc.vm_licensed is None  # vmLicensed follows the VMs
    )
    next_id = max(vm.vm_id for _, _, vm in fleet.vms()) + 1
    template = next(iter(dc.vms.values())).fields
    windows = "windows2019srvNext_64Guest"
    fields = {"vmId": next_id, "moRef": f"vm-{next_id}", "name": "sql-prod-new-01"}
    dc.vms[next_id] = Vm(
        MappingProxyType(
            {
                **template,
                **fields,
                "powerState": "poweredOn",
                "guestOsFamily": windows,
                "license": None,
            }
        )
    )
    changes = [f"VM {next_id} sql-prod-new-01 added ({windows}, no licence)"]
    linux = next(
        (
            vm
            for vm in dc.vms.values()
            if vm.license is None
            and vm.guest_os_family is not None
            and not vm.guest_os_family.lower().startswith(("win", "other"))
        ),
        None,
    )
    if linux is not None:
        reinstalled = {**linux.fields, "guestOsFamily": windows}
        reinstalled.pop(TOOLS_GUEST_OS_FAMILY, None)
        dc.vms[linux.vm_id] = Vm(MappingProxyType(reinstalled))
        changes.append(f"VM {linux.vm_id} reinstalled: {linux.guest_os_family} -> {windows}")
    kept = {next_id, linux.vm_id if linux is not None else next_id}
    removed = dc.vms.pop(max(vm_id for vm_id in dc.vms if vm_id not in kept))
    changes.append(f"VM {removed.vm_id} {removed.fields.get('name')} deleted")
    return changes


def mail_report(run_dir: Path, out: Path) -> tuple[str, Path]:
    """Mail a run to an SMTP server started here for the purpose; keep the message it received
    as an .eml file (any mail reader opens it) beside the run folders."""
    from audit.deliver.capture import LocalSmtpServer, Mailbox  # aiosmtpd: only the demo needs it

    with LocalSmtpServer(Mailbox()) as server:
        settings = MailSettings(
            host="127.0.0.1",
            port=server.port,
            security=Security.NONE,
            sender="ovh-license-audit <audit@example.com>",
            to=("licence-owner@example.com",),
            cc=("auditors@example.com",),
        )
        sent = deliver(run_dir, settings)
    saved = out / "mail" / f"{run_dir.name}.eml"
    saved.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(saved, server.mailbox.messages[-1].content)
    return sent, saved


def demo_command(args: argparse.Namespace) -> int:
    out: Path = args.out
    note_output_folder(out)
    today = datetime.now(UTC).date()
    generated = generate_fleet(args.vms, args.seed)
    exceptions_path = out / "exceptions.csv"
    atomic_write_text(exceptions_path, demo_register(generated, today))
    # The first month's bill invoices one licence too many: its reconciliation shows it.
    config = SimulatorConfig(latency_ms=args.latency_ms, billing=BillingOptions(extra_licence=True))
    with Simulator(generated.fleet, config) as simulator:
        print(f"simulator: {simulator.url} ({args.vms} generated VMs, seed {args.seed})")
        first, second = demo_periods(today)
        print(f"\n== daily observations of {first} (`observe`, cron every day)")
        observe_month(simulator, first, out)
        bill = simulator.issue_bill(first.year, first.month)
        print(f"  {first}'s bill issued: {bill} (one licence too many)")
        for period in (first, second):
            print(f"\n== monthly job for {period}")
            result = run_month(simulator, period, out, exceptions_path)
            print_summary(result)
            if period == first:
                print(f"\n== invoice reconciliation of {period} (`invoice`, with the billing key)")
                reconciled = reconcile_month(simulator, result.run_dir)
                for line in summary_lines(reconciled, today.isoformat()):
                    print(line)
                print(f"\n== applying the {period} plan (at most {DEMO_MAX_CHANGES} changes)")
                apply_plan(simulator, result, out)
                for line in evolve_fleet(simulator.fleet):
                    print(f"  fleet change: {line}")
    print(f"\n== mailing the {second} report to a local SMTP server")
    sent, saved = mail_report(out / second.label, out)
    print(f"{sent}\n  the message as received: {saved}")
    print(f"\nexceptions register used: {exceptions_path}")
    print(f"history: {out / HISTORY_FILE}")
    print("\nthe reports to open:")
    for period in (first, second):
        for name in ("report.html", "report.xlsx"):
            print(f"  {out / period.label / name}")
    return int(ExitCode.OK)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the monthly job against the built-in simulator, two months running",
        description="Start the simulator with a generated fleet and run the job against it.",
        epilog=exit_codes_epilog(
            ("0", "the demo ran; it lists the reports to open"),
            ("2", "usage error, or an output folder it cannot write"),
        ),
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--out", type=Path, default=DEMO_OUT, help="output folder")
    parser.add_argument(
        "--vms",
        type=number_argument(int, DEMO_VMS),
        default=800,
        help=f"size of the generated fleet, {DEMO_VMS.low:g} to {DEMO_VMS.high:g} (default 800)",
    )
    parser.add_argument("--seed", type=int, default=2026, help="seed of the generated fleet")
    parser.add_argument(
        "--latency-ms",
        type=number_argument(float, DEMO_LATENCY_MS),
        default=5.0,
        help=f"simulated API latency, {DEMO_LATENCY_MS.low:g} to {DEMO_LATENCY_MS.high:g} ms "
        "(default 5)",
    )
    parser.set_defaults(handler=demo_command)
