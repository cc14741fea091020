"""findings.json is written and read only through RunReport: the round trip is exact."""

from __future__ import annotations

import copy
import json
import re

import pytest

from audit.model.run import RunReport
from audit.support.errors import InputError
from tests.helpers.render import make_run, with_history


def test_round_trip_is_exact_without_and_with_history() -> None:
    for run in (make_run(), with_history(make_run())):
        document = run.report.to_json()
        again = RunReport.from_json(json.loads(json.dumps(document)))
        assert again.to_json() == document
        assert list(again.to_json()) == list(document)  # key order too
        assert again.findings == run.report.findings


def test_history_keys_only_once_recorded() -> None:
    assert "previous_run" not in make_run().report.to_json()
    annotated = with_history(make_run()).report.to_json()
    assert list(annotated)[-6:] == [
        "previous_run",
        "resolved",
        "unverified",
        "changes",
        "shortfalls",
        "unsettled_shortfalls",
    ]
    assert "first_seen" in annotated["findings"][0]


def test_shortfalls_round_trip_and_are_absent_from_older_documents() -> None:
    report = with_history(make_run()).report
    [unsettled, older] = report.unsettled_shortfalls
    assert (unsettled.period, unsettled.review_status, unsettled.owner) == (
        "2025-10",
        "accepted",
        "=Jane",
    )
    assert unsettled.shortfall == report.shortfalls[0]
    assert (older.period, older.shortfall.vm_id, older.review_status) == ("2025-09", 1078, None)
    document = report.to_json()
    assert document["shortfalls"][0]["days_unlicensed"] == 17
    del document["shortfalls"], document["unsettled_shortfalls"]
    again = RunReport.from_json(document)
    assert (again.shortfalls, again.unsettled_shortfalls) == ((), ())


@pytest.mark.parametrize(
    ("damage", "field"),
    [
        (lambda d: d["findings"][1].pop("severity"), "findings[1]"),
        (lambda d: d["findings"][0].update(vm_id="12"), "findings[0]"),
        (lambda d: d["exceptions"][0]["row"].update(kind="gift"), "exceptions[0]"),
        (lambda d: d["summary"].update(by_rule=[]), "summary"),
        (lambda d: d["run"].pop("period"), "run"),
        (lambda d: d["run"].update(period="2026-11\nBcc: x@example.com"), "run"),
        (lambda d: d["run"].update(period="2026-13"), "run"),
        (lambda d: d.update(findings={}), "findings"),
        (lambda d: d.update(shortfalls=[{"vm_id": 1}]), "shortfalls[0]"),
    ],
)
def test_damaged_document_is_an_input_error_naming_the_field(damage, field) -> None:  # type: ignore[no-untyped-def]
    document = copy.deepcopy(make_run().report.to_json())
    damage(document)
    with pytest.raises(InputError, match=rf"^run/findings\.json: {re.escape(field)}:"):
        RunReport.from_json(document, "run/findings.json")
