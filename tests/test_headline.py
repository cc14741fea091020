"""Headline figures checked against the findings that define them, on a fleet where each one
differs from the naive count the reports used to show."""

from __future__ import annotations

from audit.evaluate.headline import (
    DEFINITIONS,
    FigureKey,
    byol_covered_guests,
    headline,
    licence_fits,
    licences_possibly_wasted,
    unlicensed_server_guests,
    wasted_licences,
    windows_coverage,
    windows_guests_correctly_licensed,
)
from audit.evaluate.inventory import inventory_of
from audit.evaluate.records import VmRecord
from audit.model.findings import Status
from tests.helpers.headline import SERVER, VMS, W19, W22, S, evaluated
from tests.helpers.vms import api_vm


def test_unlicensed_server_guests_is_the_open_win_unlicensed_count() -> None:
    _, findings = evaluated()
    figure = unlicensed_server_guests(findings)
    assert figure.value == 1  # VM 1; VM 2 is waived, VM 3 is a desktop OS
    naive = sum(1 for v in VMS if v["license"] is None and v["powerState"] != "deleted")
    assert naive == 3 != figure.value
    opened = [f for f in findings if f.rule_id == "WIN-UNLICENSED" and f.status is Status.OPEN]
    assert figure.value == len(opened)


def test_correctly_licensed_follows_the_rules_not_the_licence_kind() -> None:
    snapshot, findings = evaluated()
    figure = windows_guests_correctly_licensed(windows_coverage(inventory_of(snapshot), findings))
    assert (figure.value, figure.of) == (2, 8)  # VMs 4 and 10 of 1-7 and 10
    naive = sum(1 for v in VMS if v["vmId"] in (4, 5, 6, 7, 10))  # a billable or managed value
    assert naive == 5 != figure.value


def test_licence_fits_uses_the_misfit_rules() -> None:
    server = VmRecord.from_api(api_vm(4, SERVER, W19), S, 1, None)
    assert licence_fits(server, set())
    assert licence_fits(server, {"LIC-LEGACY", "LIC-BYOL-BILLED"})
    assert not licence_fits(server, {"LIC-VERSION-MISMATCH"})
    assert not licence_fits(server, ["WIN-CLIENT-OS"])
    assert not licence_fits(VmRecord.from_api(api_vm(1, SERVER, None), S, 1, None), set())
    unlicensed = VmRecord.from_api(api_vm(1, SERVER, "unlicensed windows guestos"), S, 1, None)
    assert not licence_fits(unlicensed, set())


def test_wasted_counts_open_findings_once_per_vm_with_byol_billed() -> None:
    _, findings = evaluated()
    assert wasted_licences(findings) == {(S, 1, 7): W19, (S, 1, 8): W22}
    assert licences_possibly_wasted(findings).value == 2
    naive = sum(1 for f in findings if f.rule_id in ("LIC-NON-WINDOWS", "LIC-POWERED-OFF"))
    assert naive == 3  # VM 8 twice, waived VM 9, and VM 7's double payment missed


def test_byol_covered_guests_counts_vms_with_a_byol_finding() -> None:
    _, findings = evaluated()
    assert byol_covered_guests(findings).value == 1  # VM 7, though it carries a licence
    byol = [f for f in findings if f.status is Status.BYOL]
    assert {f.vm_id for f in byol} == {7}
    duplicated = (*findings, *byol)  # two byol findings of one VM still count once
    assert byol_covered_guests(duplicated).value == 1


def test_headline_order_and_definitions_are_data() -> None:
    snapshot, findings = evaluated()
    figures = headline(inventory_of(snapshot), findings)
    assert [f.key for f in figures] == list(FigureKey)
    assert [f.value for f in figures] == [1, 2, 2, 1]
    for figure in figures:
        sentence = figure.to_json()["definition"]
        assert sentence == DEFINITIONS[figure.key].sentence
        assert sentence.endswith(".") and "\n" not in sentence
    assert figures[1].to_json()["of"] == 8
