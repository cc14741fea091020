"""Reading bills (audit.collect.bills) from the simulator with the real `ovh` client, the
reconciliation of what it reads, and the billing rights of `auth request` / `auth check`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from audit.cli.main import main
from audit.collect.api import ClientFactory, Credentials, resolve_endpoint
from audit.collect.bills import BillsRead, read_bills
from audit.collect.collector import CollectOptions
from audit.collect.retry import RetryPolicy
from audit.invoice import InvoiceSettings, RowStatus, bill_window, reconcile
from audit.model.period import Period
from audit.simulator.api import (
    BILLING_CONSUMER_KEY,
    DEFAULT_APPLICATION_KEY,
    DEFAULT_APPLICATION_SECRET,
    READONLY_CONSUMER_KEY,
    SimulatorConfig,
)
from audit.simulator.billing import BillingOptions, bill_id, licence_counts
from audit.simulator.fleet import Fault, Fleet
from audit.simulator.generate import generate_fleet
from audit.simulator.server import Simulator
from audit.support.errors import CredentialError, ExitCode

FAST = CollectOptions(
    workers=4, max_rps=None, retry=RetryPolicy(max_retries=6, base_delay_s=0.001, max_delay_s=0.01)
)


def last_period() -> Period:
    return Period.of(datetime.now(UTC).date()).previous()


def factory(sim: Simulator, consumer_key: str = BILLING_CONSUMER_KEY) -> ClientFactory:
    credentials = Credentials(DEFAULT_APPLICATION_KEY, DEFAULT_APPLICATION_SECRET, consumer_key)
    return ClientFactory(resolve_endpoint(sim.url), credentials)


@pytest.fixture
def fleet() -> Fleet:
    return generate_fleet(120, 7).fleet


def read(fleet: Fleet, options: CollectOptions = FAST, **config: Any) -> BillsRead:
    with Simulator(fleet, SimulatorConfig(**config)) as sim:
        return read_bills(factory(sim), bill_window(last_period(), 20), options)


def reconciled(fleet: Fleet, bills: BillsRead) -> Any:
    """The simulator bills the VMs powered on with a billable licence: as billed_vms."""
    return reconcile(
        bills.lines,
        period=last_period(),
        services=set(fleet.services),
        billed_vms=licence_counts(fleet),
        settings=InvoiceSettings(),
        bills=bills.bills,
    )


def test_reads_the_bills_of_the_window_and_every_line(fleet: Fleet) -> None:
    bills = read(fleet, billing=BillingOptions(unrelated_lines=True))
    assert bills.complete and bills.failures == ()
    period = last_period()
    # The window opens on the period's first day: the bill of the month before (dated then)
    # and the period's own (dated the 1st of the next month).
    assert [b.bill_id for b in bills.bills] == [
        bill_id(period.previous().year, period.previous().month),
        bill_id(period.year, period.month),
    ]
    day_after = period.end + timedelta(days=1)
    assert [b.date[:10] for b in bills.bills] == [period.start.isoformat(), day_after.isoformat()]
    assert len({line.bill_detail_id for line in bills.lines}) == len(bills.lines)
    assert {line.bill_id for line in bills.lines} == {b.bill_id for b in bills.bills}
    assert bills.calls == 1 + 2 * 2 + len(bills.lines)


def test_a_matching_invoice_reconciles_to_ok_and_sets_the_rest_aside(fleet: Fleet) -> None:
    bills = read(fleet, billing=BillingOptions(unrelated_lines=True))
    result = reconciled(fleet, bills)
    assert result.rows and all(row.status is RowStatus.OK for row in result.rows)
    assert {(row.service_name, row.license) for row in result.rows} == set(licence_counts(fleet))
    # Last month's licences on the period's first bill and the next month's rental are not the
    # period's; the rental of the period's own month (on its first bill) is unclassified.
    earlier = bills.bills[0].bill_id
    assert {e.line.bill_id for e in result.outside_period} == {earlier, bills.bills[1].bill_id}
    assert {e.line.description for e in result.unclassified} == {
        "Hosted Private Cloud host rental - 2 x Premier 384"
    }
    domains = {e.line.domain for e in (*result.unclassified, *result.outside_period)}
    assert domains <= set(fleet.services)  # other domains are never the run's


@pytest.mark.parametrize(
    ("options", "status", "difference"),
    [
        (BillingOptions(extra_licence=True), RowStatus.BILL_OVER, 1),
        (BillingOptions(missing_licence=True), RowStatus.BILL_UNDER, -1),
    ],
)
def test_one_licence_too_many_or_too_few_is_exactly_one_row(
    fleet: Fleet, options: BillingOptions, status: RowStatus, difference: int
) -> None:
    result = reconciled(fleet, read(fleet, billing=options))
    wrong = [row for row in result.rows if row.status is not RowStatus.OK]
    assert [(row.status, row.difference) for row in wrong] == [(status, difference)]
    assert result.differs


def test_transient_faults_are_retried_to_the_same_result(fleet: Fleet) -> None:
    clean = read(fleet)
    faulty = read(fleet, fault_rate=0.3, seed=4)
    assert faulty.complete and faulty.retries > 0
    assert faulty.lines == clean.lines and faulty.bills == clean.bills


def test_a_line_that_cannot_be_read_makes_the_result_incomplete(fleet: Fleet) -> None:
    period = last_period()
    identifier = bill_id(period.year, period.month)
    broken = f"/me/bill/{identifier}/details/{identifier[2:]}0002"
    options = replace(FAST, retry=RetryPolicy(max_retries=1, base_delay_s=0.001))
    bills = read(replace(fleet, faults=(Fault(broken, 500),)), options)
    assert not bills.complete
    assert [(f.path, f.error.split(":")[0]) for f in bills.failures] == [(broken, "HTTP 500")]
    assert broken.rsplit("/", 1)[1] not in {line.bill_detail_id for line in bills.lines}


def test_a_key_without_the_right_to_read_bills_stops_with_one_line(fleet: Fleet) -> None:
    with (
        Simulator(fleet, SimulatorConfig()) as sim,
        pytest.raises(CredentialError) as raised,
    ):
        read_bills(factory(sim, READONLY_CONSUMER_KEY), bill_window(last_period(), 20), FAST)
    assert str(raised.value) == (
        "GET /me/bill: this consumer key may not read bills: it lacks the right GET /me/bill "
        "(ask for a key that has it: ovh-license-audit auth request --billing)"
    )
    assert raised.value.exit_code is ExitCode.INPUT


# --- auth request --billing and auth check ---------------------------------------------------


@pytest.fixture
def application(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Simulator]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OVH_APPLICATION_KEY", DEFAULT_APPLICATION_KEY)
    monkeypatch.setenv("OVH_APPLICATION_SECRET", DEFAULT_APPLICATION_SECRET)
    monkeypatch.delenv("OVH_CONSUMER_KEY", raising=False)
    with Simulator(generate_fleet(40, 1).fleet, SimulatorConfig()) as sim:
        yield sim


def validated_key(sim: Simulator, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    """A key from `auth request`, validated as the account owner would."""
    assert main(["auth", "request", "--endpoint", sim.url, *extra]) == 0
    out = capsys.readouterr().out.splitlines()
    url = next(line.strip() for line in out if "credentialToken=" in line)
    assert requests.get(url, timeout=5).status_code == 200
    return out[out.index(next(x for x in out if "shown only this once" in x)) + 1].strip()


def check(sim: Simulator, capsys: pytest.CaptureFixture[str]) -> list[str]:
    assert main(["auth", "check", "--endpoint", sim.url]) == 0
    return capsys.readouterr().out.splitlines()


def test_auth_request_billing_asks_for_the_bill_reads_and_check_says_bills_are_readable(
    application: Simulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    key = validated_key(application, capsys, "--billing")
    monkeypatch.setenv("OVH_CONSUMER_KEY", key)
    out = check(application, capsys)
    assert "bills: readable (GET /me/bill and /me/bill/*)" in out
    assert out[out.index("rules:") + 1 :] == [
        "  GET /dedicatedCloud",
        "  GET /dedicatedCloud/*",
        "  GET /me/bill",
        "  GET /me/bill/*",
    ]
    bills = read_bills(factory(application, key), bill_window(last_period(), 20), FAST)
    assert bills.complete and bills.bills


def test_auth_check_says_when_a_key_cannot_read_bills(
    application: Simulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OVH_CONSUMER_KEY", READONLY_CONSUMER_KEY)
    assert (
        "bills: not readable: lacks GET /me/bill and GET /me/bill/* "
        "(auth request --billing asks for them)"
    ) in check(application, capsys)
    monkeypatch.setenv("OVH_CONSUMER_KEY", BILLING_CONSUMER_KEY)
    assert "bills: readable (GET /me/bill and /me/bill/*)" in check(application, capsys)


def test_a_key_that_may_list_bills_but_not_read_them_names_the_right_it_lacks(
    application: Simulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    make_client: Any,
) -> None:
    """A key asked for by hand with GET /me/bill only: the walk stops at the first bill."""
    client = make_client(application, consumer_key=None)  # the application alone asks
    request = client.new_consumer_key_request()
    request.add_rules(["GET"], "/me/bill")
    answer = request.request()
    assert requests.get(answer["validationUrl"], timeout=5).status_code == 200
    monkeypatch.setenv("OVH_CONSUMER_KEY", answer["consumerKey"])
    assert "bills: not readable: lacks GET /me/bill/* (auth request --billing asks for them)" in (
        check(application, capsys)
    )
    with pytest.raises(CredentialError, match=r"it lacks the right GET /me/bill/\* \(ask"):
        read_bills(
            factory(application, answer["consumerKey"]), bill_window(last_period(), 20), FAST
        )
