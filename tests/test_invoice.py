"""The invoice reconciliation's core on hand-written bill lines (never simulator output):
parsing, classification, the comparison with billed VMs, invoice.json, and bad input."""

from __future__ import annotations

import json
import re
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from audit.config.invoice import with_patterns
from audit.config.settings import load_config
from audit.invoice import (
    Bill,
    InvoiceSettings,
    RowStatus,
    bill_line,
    bill_window,
    billed_by_service,
    classify,
    invoice_document,
    invoice_json,
    licence_of,
    load_bill_lines,
    missing_billing_rights,
    parse_quantity,
    reconcile,
)
from audit.model.licences import BILLABLE_LICENCES
from audit.model.period import Period
from audit.support.errors import InputError

PROD = "pcc-203-0-113-10"
DR = "pcc-198-51-100-24"
NOVEMBER = Period(2026, 11)
CASES = Path(__file__).parent / "data" / "invoice" / "classification.toml"


def line(
    detail_id: str,
    description: str,
    quantity: Any,
    total: str,
    *,
    domain: str = PROD,
    unit: str | None = None,
    currency: str = "EUR",
    period: tuple[str, str] | None = ("2026-11-01", "2026-11-30"),
) -> dict[str, Any]:
    """A `billing.BillDetail` as the API or a `--bills` file gives it."""
    return {
        "billDetailId": detail_id,
        "description": description,
        "domain": domain,
        "periodStart": None if period is None else period[0],
        "periodEnd": None if period is None else period[1],
        "quantity": quantity,
        "unitPrice": {"currencyCode": currency, "value": float(unit or total), "text": "..."},
        "totalPrice": {
            "currencyCode": currency,
            "value": float(total),
            "text": f"{total} {currency}",
            "priceInUcents": int(Decimal(total) * 100_000_000),
        },
    }


# Two bills of November's window, written by hand: what each line must come to is below.
LINES = [
    # PROD, 2019 Standard Core: one line in EUR, one in USD: 2 invoiced, 2 billed, two totals.
    line("101", "Windows Server 2019 Standard Core - SPLA licence", "1.00", "24.50"),
    line("102", "Windows Server 2019 Standard Core - SPLA licence", "1", "26.00", currency="USD"),
    # PROD, 2022 Standard on both bills: 2 + 2 invoiced for 3 billed: BILL-OVER by 1.
    line("103", "SPLA Windows Server 2022 Standard", "2", "49.00", unit="24.50"),
    line("201", "SPLA Windows Server 2022 Standard", "2", "49.00", unit="24.50"),
    # PROD, 2022 Datacenter: half a month invoiced for one VM billed: BILL-UNDER by 0.5.
    line("104", "windows server 2022 datacenter edition", "0.5", "64.50", unit="129.00"),
    # A quantity that is not a number: unclassified with the reason, never dropped.
    line("105", "Windows Server 2019 Standard", "two", "49.00"),
    # Another product of the service: unclassified.
    line("106", "Hosted Private Cloud host rental", "2", "2580.00"),
    # A tie between two values of five words: unclassified, naming both.
    line("107", "Windows 2019 Standard SQL2019 Standard Web", "1", "10.00"),
    # October's licences on November's first bill: not November's.
    line("108", "Windows Server 2022 Standard", "5", "122.50", period=("2026-10-01", "2026-10-31")),
    # Another domain: not the run's, ignored whatever it says.
    line("109", "Windows Server 2019 Standard", "7", "171.50", domain="ns3001234.ip-203-0-113.eu"),
    # DR, 2016 Standard in USD, no period: one invoiced, none billed: BILL-OVER by 1.
    line(
        "202", "Windows Server 2016 Standard", "1", "30.00", domain=DR, currency="USD", period=None
    ),
]
BILLS = (Bill("FR1", "2026-11-01T00:00:00+00:00"), Bill("FR2", "2026-12-01T00:00:00+00:00"))
BILLED = {
    (PROD, "windows 2019 Standard Core"): 2,
    (PROD, "windows 2022 Standard"): 3,
    (PROD, "windows 2022 Datacenter"): 1,
    (DR, "windows 2019 Standard"): 1,  # billed, not invoiced: BILL-UNDER by 1
    (DR, "windows 2016 Datacenter"): 0,  # neither billed nor invoiced: no row
}


def november(lines: list[dict[str, Any]] = LINES, **settings: Any) -> Any:
    records = [bill_line(item, "FR2" if item["billDetailId"] >= "2" else "FR1") for item in lines]
    return reconcile(
        records,
        period=NOVEMBER,
        services={PROD, DR},
        billed_vms=BILLED,
        settings=InvoiceSettings(**settings),
        bills=BILLS,
    )


def test_hand_written_lines_give_the_exact_differences() -> None:
    rows = {
        (row.service_name, row.license): (
            row.invoiced_quantity,
            row.billed_vms,
            row.difference,
            row.status,
            row.lines,
        )
        for row in november().rows
    }
    assert rows == {
        (DR, "windows 2016 Standard"): (Decimal(1), 0, Decimal(1), RowStatus.BILL_OVER, ("202",)),
        (DR, "windows 2019 Standard"): (Decimal(0), 1, Decimal(-1), RowStatus.BILL_UNDER, ()),
        (PROD, "windows 2019 Standard Core"): (
            Decimal(2),
            2,
            Decimal(0),
            RowStatus.OK,
            ("101", "102"),
        ),
        (PROD, "windows 2022 Datacenter"): (
            Decimal("0.5"),
            1,
            Decimal("-0.5"),
            RowStatus.BILL_UNDER,
            ("104",),
        ),
        (PROD, "windows 2022 Standard"): (
            Decimal(4),
            3,
            Decimal(1),
            RowStatus.BILL_OVER,
            ("103", "201"),
        ),
    }
    assert november().differs


def test_the_findings_each_row_and_line_would_raise() -> None:
    result = november()
    statuses = [(row.service_name, row.license, row.status.severity) for row in result.rows]
    assert statuses == [
        (DR, "windows 2016 Standard", "medium"),
        (DR, "windows 2019 Standard", "low"),
        (PROD, "windows 2019 Standard Core", None),
        (PROD, "windows 2022 Datacenter", "low"),
        (PROD, "windows 2022 Standard", "medium"),
    ]
    unclassified = {entry.line.bill_detail_id: entry.reason for entry in result.unclassified}
    assert unclassified == {
        "105": "quantity 'two' is not a decimal number (its description names "
        '"windows 2019 Standard")',
        "106": "no [invoice] pattern matches its description",
        "107": 'the patterns of "windows 2019 Standard SQL2019 Standard" and '
        '"windows 2019 Standard SQL2019 Web" match it equally (5 words each)',
    }
    [aside] = result.outside_period
    assert aside.line.bill_detail_id == "108"
    assert aside.reason == "billed for 2026-10-01 to 2026-10-31, outside 2026-11"


def test_amounts_keep_their_currency_and_are_never_summed_across_currencies() -> None:
    rows = {(row.service_name, row.license): row for row in november().rows}
    mixed = rows[(PROD, "windows 2019 Standard Core")]
    assert (mixed.currency, mixed.total) == (None, None)
    assert [(t.currency, t.total) for t in mixed.totals] == [
        ("EUR", Decimal("24.5")),
        ("USD", Decimal("26.0")),
    ]
    assert mixed.unit_price is None  # two currencies: no single unit price
    standard = rows[(PROD, "windows 2022 Standard")]
    assert (standard.currency, standard.total) == ("EUR", Decimal("98.0"))
    assert standard.unit_price is not None and standard.unit_price.value == Decimal("24.5")
    assert rows[(DR, "windows 2016 Standard")].currency == "USD"
    uninvoiced = rows[(DR, "windows 2019 Standard")]
    assert (uninvoiced.currency, uninvoiced.total, uninvoiced.totals) == (None, None, ())


def test_invoice_json_has_the_contract_shape_and_exact_decimals() -> None:
    document = json.loads(invoice_json(november()))
    assert list(document) == [
        "period",
        "bills_from",
        "bills_to",
        "patterns",
        "bills",
        "rows",
        "unclassified",
        "outside_period",
    ]
    assert (document["bills_from"], document["bills_to"]) == ("2026-11-01", "2026-12-20")
    assert document["bills"] == [
        {"bill_id": "FR1", "date": "2026-11-01T00:00:00+00:00"},
        {"bill_id": "FR2", "date": "2026-12-01T00:00:00+00:00"},
    ]
    datacenter = document["rows"][3]
    assert datacenter == {
        "service_name": PROD,
        "license": "windows 2022 Datacenter",
        "invoiced_quantity": "0.5",
        "billed_vms": 1,
        "difference": "-0.5",
        "status": "BILL-UNDER",
        "currency": "EUR",
        "total": "64.5",
        "totals": [{"currency": "EUR", "total": "64.5"}],
        "unit_price": {"currency": "EUR", "value": "129.0", "text": "..."},
        "lines": ["104"],
    }
    assert document["rows"][2]["invoiced_quantity"] == "2"  # "1.00" + "1", no trailing zeros
    quantity_line = document["unclassified"][0]
    assert quantity_line["status"] == "BILL-UNCLASSIFIED"
    assert quantity_line == {
        "status": "BILL-UNCLASSIFIED",
        "reason": quantity_line["reason"],
        "bill_id": "FR1",
        "bill_detail_id": "105",
        "domain": PROD,
        "description": "Windows Server 2019 Standard",
        "period_start": "2026-11-01",
        "period_end": "2026-11-30",
        "quantity": "two",
        "unit_price": {"currency": "EUR", "value": "49.0", "text": "..."},
        "total_price": {"currency": "EUR", "value": "49.0", "text": "49.00 EUR"},
    }


def test_invoice_json_names_the_configured_patterns_in_force() -> None:
    settings = InvoiceSettings(
        patterns=with_patterns({"windows 2019 Standard": re.compile("WinSvr Std 2019")})
    )
    result = reconcile([], period=NOVEMBER, services={PROD}, billed_vms={}, settings=settings)
    assert invoice_document(result)["patterns"] == {"windows 2019 Standard": "WinSvr Std 2019"}
    assert invoice_document(november())["patterns"] == {}


def test_billed_vms_of_several_datacenters_add_up_per_service() -> None:
    rows = [
        (PROD, "windows 2022 Standard", 2),  # datacenter 1
        (PROD, "windows 2022 Standard", 1),  # datacenter 2
        (DR, "windows 2022 Standard", 4),
    ]
    assert billed_by_service(rows) == {
        (PROD, "windows 2022 Standard"): 3,
        (DR, "windows 2022 Standard"): 4,
    }


def test_invoice_json_is_the_same_bytes_every_time() -> None:
    assert invoice_json(november()) == invoice_json(november())
    assert invoice_json(november()).endswith("}\n")


def test_a_hostile_description_is_kept_whole_and_escaped_by_json() -> None:
    hostile = '<script>alert(1)</script>\n=HYPERLINK("http://x")\u202e\ud800'
    result = november([line("1", hostile, "1", "1.00")])
    [entry] = result.unclassified
    assert entry.line.description == hostile.replace("\ud800", "\ufffd")
    text = invoice_json(result)
    assert json.loads(text)["unclassified"][0]["description"] == entry.line.description
    assert "\n=HYPERLINK" not in text  # the newline is escaped inside the JSON string
    text.encode("utf-8")  # writable: the lone surrogate is gone


def test_every_row_is_ok_when_the_invoice_matches() -> None:
    lines = [
        line("1", "Windows Server 2019 Standard Core", "2", "49.00"),
        line("2", "Windows Server 2022 Standard", "3", "73.50"),
        line("3", "Windows Server 2022 Datacenter", "1.000", "129.00"),
        line("4", "Windows Server 2019 Standard", "1", "24.50", domain=DR),
    ]
    result = november(lines)
    assert [row.status for row in result.rows] == [RowStatus.OK] * 4
    assert not result.differs and result.unclassified == ()


@pytest.mark.parametrize(
    ("text", "number", "problem"),
    [
        ("3", Decimal(3), None),
        ("3.00", Decimal("3.00"), None),
        (" 0.5 ", Decimal("0.5"), None),
        ("-1", Decimal(-1), None),
        (".5", Decimal("0.5"), None),
        (4, Decimal(4), None),  # a hand-written file may give a number
        ("1,000", None, "quantity '1,000' is not a decimal number"),
        ("1e3", None, "quantity '1e3' is not a decimal number"),
        ("NaN", None, "quantity 'NaN' is not a decimal number"),
        ("", None, "quantity '' is not a decimal number"),
        (None, None, "the line has no quantity"),
        (True, None, "quantity True is not a string"),
        (["1"], None, "quantity ['1'] is not a string"),
    ],
)
def test_quantity_is_parsed_as_a_decimal_or_explained(
    text: object, number: Decimal | None, problem: str | None
) -> None:
    assert parse_quantity(text) == (number, problem)


def _cases() -> list[Any]:
    cases = tomllib.loads(CASES.read_text(encoding="utf-8"))["case"]
    return [pytest.param(case, id=case["name"]) for case in cases]


@pytest.mark.parametrize("case", _cases())
def test_classification_cases(case: dict[str, Any]) -> None:
    patterns = with_patterns(
        {
            value: re.compile(regex, re.IGNORECASE)
            for value, regex in case.get("patterns", {}).items()
        }
    )
    found = licence_of(case["description"], patterns)
    assert found.license == case.get("licence")
    if "reason" in case:
        assert found.reason is not None and case["reason"] in found.reason


def test_every_billable_value_has_a_pattern_that_finds_its_own_words() -> None:
    """Written as the value itself, every value is read back as itself, never as another."""
    patterns = InvoiceSettings().patterns
    assert [p.license for p in patterns] == list(BILLABLE_LICENCES)
    for value in BILLABLE_LICENCES:
        assert licence_of(f"Licence {value} (SPLA)", patterns).license == value


def test_a_line_with_an_unreadable_quantity_is_unclassified_even_when_its_value_is_known() -> None:
    record = bill_line(line("1", "Windows Server 2022 Standard", "n/a", "24.50"))
    found = classify(record, InvoiceSettings().patterns)
    assert found.license is None
    assert found.reason == (
        "quantity 'n/a' is not a decimal number (its description names \"windows 2022 Standard\")"
    )


def test_the_bill_window_runs_to_days_after_the_period() -> None:
    assert bill_window(NOVEMBER, 20).first.isoformat() == "2026-11-01"
    assert bill_window(NOVEMBER, 20).last.isoformat() == "2026-12-20"
    assert bill_window(Period(2026, 2), 0).last.isoformat() == "2026-02-28"
    assert invoice_document(november(days_after=5))["bills_to"] == "2026-12-05"


# --- a --bills file -------------------------------------------------------------------------


def test_a_bills_file_is_read_like_the_api(tmp_path: Path) -> None:
    path = tmp_path / "bills.json"
    path.write_text(json.dumps(LINES), encoding="utf-8")
    from_file = load_bill_lines(path)
    assert [record.bill_detail_id for record in from_file] == [x["billDetailId"] for x in LINES]
    assert all(record.bill_id is None for record in from_file)
    result = reconcile(
        from_file,
        period=NOVEMBER,
        services={PROD, DR},
        billed_vms=BILLED,
        settings=InvoiceSettings(),
    )
    assert [row.difference for row in result.rows] == [row.difference for row in november().rows]
    assert result.bills == ()


def test_a_bills_file_keeps_its_amounts_exact(tmp_path: Path) -> None:
    path = tmp_path / "bills.json"
    item = line("1", "Windows Server 2022 Standard", "3", "73.50")
    text = json.dumps([item]).replace('"value": 73.5,', '"value": 73.50,')
    path.write_text(text, encoding="utf-8")
    [record] = load_bill_lines(path)
    assert str(record.total_price.value) == "73.50"


def _valid() -> dict[str, Any]:
    return line("1", "Windows Server 2022 Standard", "1", "24.50")


def _without(key: str) -> list[dict[str, Any]]:
    item = _valid()
    del item[key]
    return [item]


def _with(path: tuple[str, ...], value: Any) -> list[dict[str, Any]]:
    item = _valid()
    target = item
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return [item]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", r"bills\.json: not valid JSON: line 1 column 2: "),
        (json.dumps({"lines": []}), r"bills\.json: expected a JSON array of BillDetail objects"),
        (json.dumps([_valid(), "line"]), r"bills\.json: \[1\]: expected an object, got 'line'"),
        (json.dumps(_without("description")), r"bills\.json: \[0\]\.description: missing"),
        (json.dumps(_without("domain")), r"bills\.json: \[0\]\.domain: missing"),
        (json.dumps(_without("billDetailId")), r"bills\.json: \[0\]\.billDetailId: missing"),
        (json.dumps(_without("totalPrice")), r"bills\.json: \[0\]\.totalPrice: missing"),
        (
            json.dumps(_with(("totalPrice", "value"), "24.50")),
            r"bills\.json: \[0\]\.totalPrice\.value: expected a number, got '24\.50'",
        ),
        (
            json.dumps(_with(("unitPrice", "currencyCode"), None)),
            r"bills\.json: \[0\]\.unitPrice\.currencyCode: expected a string, got None",
        ),
        (
            json.dumps(_with(("periodStart",), "01/11/2026")),
            r"bills\.json: \[0\]\.periodStart: expected a date YYYY-MM-DD or null",
        ),
        (
            json.dumps(_with(("periodEnd",), "2026-02-30")),
            r"bills\.json: \[0\]\.periodEnd: not a calendar date: '2026-02-30'",
        ),
        (
            json.dumps(_with(("description",), ["x\ny"])),
            r"bills\.json: \[0\]\.description: expected a string, got \['x\\ny'\]",
        ),
        (
            json.dumps([_valid()]).replace("24.5,", "NaN,", 1),
            r"bills\.json: not valid JSON: NaN is not a number JSON allows",
        ),
        (
            json.dumps([_valid(), _valid()]),
            r"bills\.json: \[1\]\.billDetailId: '1' already at \[0\]",
        ),
    ],
)
def test_a_bad_bills_file_is_one_line_naming_file_index_and_field(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "bills.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=message) as raised:
        load_bill_lines(path)
    assert str(raised.value).startswith(str(path))
    assert "\n" not in str(raised.value)


def test_a_missing_or_undecodable_bills_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"missing\.json: cannot read"):
        load_bill_lines(tmp_path / "missing.json")
    latin = tmp_path / "latin.json"
    latin.write_bytes(b'["\xe9"]')
    with pytest.raises(InputError, match=r"latin\.json: not UTF-8 text"):
        load_bill_lines(latin)


# --- [invoice] in the configuration file ------------------------------------------------------


def _config(tmp_path: Path, text: str) -> Any:
    path = tmp_path / "audit.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def test_invoice_settings_default_without_the_section(tmp_path: Path) -> None:
    settings = _config(tmp_path, "[audit]\n").invoice
    assert settings.days_after == 20 and settings.configured() == {}


def test_invoice_settings_from_the_file(tmp_path: Path) -> None:
    settings = _config(
        tmp_path,
        "[invoice]\ndays_after = 10\n[invoice.patterns]\n"
        '"windows 2019 Standard" = "WinSvr Std 2019"\n',
    ).invoice
    assert settings.days_after == 10
    assert settings.configured() == {"windows 2019 Standard": "WinSvr Std 2019"}
    assert licence_of("spla winsvr std 2019", settings.patterns).license == "windows 2019 Standard"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[invoice.patterns]\n"windows 2019 Standard" = "Std (2019"\n',
            r'audit\.toml: invoice\.patterns\."windows 2019 Standard": invalid regular '
            r"expression: missing \), unterminated subpattern at position 4",
        ),
        (
            '[invoice.patterns]\n"windows 2019 Standrd" = "x"\n',
            r'audit\.toml: invoice\.patterns\."windows 2019 Standrd": not a licence value '
            r"OVHcloud bills, exactly as the API spells it "
            r'\(did you mean "windows 2019 Standard"\?\)',
        ),
        (
            '[invoice.patterns]\n"OVHcloud managed" = "x"\n',
            r'invoice\.patterns\."OVHcloud managed": not a licence value OVHcloud bills',
        ),
        (
            '[invoice.patterns]\n"windows 2019 Standard" = " "\n',
            r"an empty pattern would match every line",
        ),
        ('[invoice.patterns]\n"windows 2019 Standard" = 3\n', r"expected str, got 3"),
        ("[invoice]\ndays_after = -1\n", r"invoice\.days_after: expected a number from 0 to 366"),
        ('[invoice]\ndays_after = "20"\n', r"invoice\.days_after: expected int"),
        ("[invoice]\npattern = 1\n", r"\[invoice\]: unknown key 'pattern'"),
        ('[invoice]\npatterns = "x"\n', r"invoice\.patterns: expected dict"),
    ],
)
def test_bad_invoice_settings_are_one_line_input_errors(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(InputError, match=message) as raised:
        _config(tmp_path, text)
    assert "\n" not in str(raised.value)


# --- the rights a key needs ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rules", "missing"),
    [
        ([("GET", "/me/bill"), ("GET", "/me/bill/*")], []),
        ([("GET", "/*")], []),
        ([("GET", "/me/*")], []),
        ([("GET", "/me")], [("GET", "/me/bill"), ("GET", "/me/bill/*")]),
        ([("GET", "/me/bill*")], []),
        ([("GET", "/me/bill")], [("GET", "/me/bill/*")]),
        ([("GET", "/me/bill/*/details")], [("GET", "/me/bill"), ("GET", "/me/bill/*")]),
        (
            [("POST", "/me/bill"), ("POST", "/me/bill/*")],
            [("GET", "/me/bill"), ("GET", "/me/bill/*")],
        ),
        (
            [("GET", "/dedicatedCloud"), ("GET", "/dedicatedCloud/*")],
            [("GET", "/me/bill"), ("GET", "/me/bill/*")],
        ),
    ],
)
def test_missing_billing_rights(
    rules: list[tuple[str, str]], missing: list[tuple[str, str]]
) -> None:
    assert list(missing_billing_rights(rules)) == missing
