"""report.html parsed back: escaping, no external request, per-rule cap, determinism, Chromium."""

from __future__ import annotations

import base64
import hashlib
import shutil
import struct
import subprocess
from pathlib import Path

import lxml.html
import pytest

from audit.evaluate.rules.registry import RULE_IDS
from audit.render.base import ReportInput
from audit.render.html import ARRIVALS_SHOWN_OPEN, HtmlReport, render_html
from tests.helpers.external import require_or_skip
from tests.helpers.render import HOSTILE_NAMES, make_empty_run, make_run, with_history

CAP = 200
BULK = 230  # unlicensed VMs added to WIN-UNLICENSED, past the cap


@pytest.fixture(scope="module")
def run() -> ReportInput:
    return make_run(bulk=BULK)


@pytest.fixture(scope="module")
def page(run: ReportInput, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("html") / "report.html"
    HtmlReport(rows_per_rule=CAP).render(run, path)
    return path


@pytest.fixture(scope="module")
def doc(page: Path) -> lxml.html.HtmlElement:
    return lxml.html.fromstring(page.read_bytes())


@pytest.fixture(scope="module")
def small_run() -> ReportInput:
    """Every hostile VM within the cap."""
    return make_run()


@pytest.fixture(scope="module")
def small_page(small_run: ReportInput) -> str:
    return render_html(small_run, CAP)


@pytest.fixture(scope="module")
def small_doc(small_page: str) -> lxml.html.HtmlElement:
    return lxml.html.fromstring(small_page)


@pytest.fixture(scope="module")
def rich(run: ReportInput) -> lxml.html.HtmlElement:
    """The page with everything the history stage adds."""
    return lxml.html.fromstring(render_html(with_history(run), CAP))


def _hash(source: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode()


def test_hostile_names_are_text_not_markup(
    small_doc: lxml.html.HtmlElement, small_page: str, small_run: ReportInput
) -> None:
    doc = small_doc
    (script,) = doc.iter("script")
    assert "alert" not in (script.text or "")
    assert small_page.count("<script") == 1 and "<img" not in small_page
    assert not doc.xpath("//img")
    handlers = [name for el in doc.iter() for name in el.attrib if name.startswith("on")]
    assert handlers == []
    # Escaped in the source, and read back whole as text.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in small_page
    assert "&#34;&gt;&lt;img src=x onerror=alert(2)&gt;" in small_page
    names = {el.text_content() for el in doc.find_class("vm-name")}
    reported = {f["vm_name"] for f in small_run.report.to_json()["findings"]} & set(HOSTILE_NAMES)
    assert len(reported) >= 10
    for hostile in reported - {"ctl\x01char"}:
        assert hostile in names, hostile
    assert "ctl\\x01char" in names  # a control character is shown, not swallowed
    assert "\x01" not in small_page
    register = doc.get_element_by_id("exceptions").text_content()
    assert '=HYPERLINK("http://x")' in register and "=1+2" in register


def test_no_external_url_and_a_strict_csp(doc: lxml.html.HtmlElement) -> None:
    for el in doc.iter():
        for name in ("src", "href", "action", "srcset", "poster", "data", "xlink:href"):
            value = el.get(name)
            assert value is None or value.startswith("#"), (el.tag, name, value)
    (style,) = doc.iter("style")
    (script,) = doc.iter("script")
    assert "url(" not in (style.text or "")
    assert "http" not in (style.text or "") + (script.text or "")
    (csp,) = doc.xpath('//meta[@http-equiv="Content-Security-Policy"]/@content')
    assert "default-src 'none'" in csp
    assert f"style-src '{_hash(style.text or '')}'" in csp
    assert f"script-src '{_hash(script.text or '')}'" in csp


def test_structure_for_readers_without_javascript(
    doc: lxml.html.HtmlElement, run: ReportInput
) -> None:
    sections = [el.get("id") for el in doc.xpath("//main/section[@id]")]
    assert sections == [
        "position",
        "executive",
        "summary",
        "findings",
        "exposure",
        "exceptions",
        "coverage",
        "rules",
        "appendix-position",
        "sign-off",
    ]
    links = doc.xpath("//nav[@class='toc']/a/@href")
    assert links == [
        "#position",
        "#executive",
        "#summary",
        "#findings",
        "#exceptions",
        "#coverage",
        "#rules",
        "#appendix-position",
        "#sign-off",
    ]
    banner = doc.find_class("banner")[0]
    assert "bad" in banner.classes and "INCOMPLETE" in banner.text_content()
    assert f"1 of {22 + BULK} VMs could not be read" in banner.text_content()
    assert len(doc.find_class("tile")) == 7  # open findings, the four headline figures, 2 more
    assert len(doc.xpath("//figure[contains(@class, 'chart')]/svg")) == 3
    groups = doc.xpath("//section[@id='findings']/details[contains(@class, 'rule')]")
    rule_ids = {f["rule_id"] for f in run.report.to_json()["findings"]}
    assert {g.get("id") for g in groups} == {f"rule-{r}" for r in rule_ids}
    assert groups[0].get("id") == "rule-WIN-UNLICENSED" and groups[0].get("open") is not None
    # Everything is in the page without script: the controls that need it hide without it.
    (toolbar,) = doc.find_class("toolbar")
    assert "js-only" in toolbar.classes
    (style,) = doc.iter("style")
    assert ".js-only { display: none; }" in (style.text or "")
    catalogue = doc.xpath("//section[@id='rules']//tbody/tr")
    assert len(catalogue) == len(RULE_IDS)  # every rule of the registry
    footer = doc.find_class("footer")[0].text_content()
    assert run.snapshot_sha256 in footer and "ovh-license-audit" in footer


def test_counts_equal_the_document(
    small_doc: lxml.html.HtmlElement, small_run: ReportInput
) -> None:
    findings = small_run.report.to_json()["findings"]
    summary = small_run.report.to_json()["summary"]
    shown = 0
    for rule_id, total in summary["by_rule"].items():
        if total == 0:  # WIN-UNLICENSED-INTERIM needs observations: no group without findings
            assert not small_doc.xpath(f"//*[@id='rule-{rule_id}']"), rule_id
            continue
        group = small_doc.get_element_by_id(f"rule-{rule_id}")
        rows = group.xpath(".//tbody/tr")
        assert len(rows) == total, rule_id
        statuses = [row.get("data-status") for row in rows]
        assert statuses == sorted(statuses, key=["open", "waived", "byol"].index), rule_id
        opened = sum(1 for f in findings if f["rule_id"] == rule_id and f["status"] == "open")
        counts = " ".join(group.find_class("counts")[0].text_content().split())
        assert counts == f"{opened} open \u00b7 {total} total", rule_id
        shown += len(rows)
    assert shown == len(findings)
    tiles = {
        tile.find_class("tile-label")[0].text_content(): tile.find_class("tile-value")[0].text
        for tile in small_doc.find_class("tile")
    }
    assert tiles["Open findings"] == str(sum(summary["open_by_severity"].values()))
    assert tiles["Exceptions"] == str(len(small_run.report.to_json()["exceptions"]))
    exceptions = small_doc.xpath("//section[@id='exceptions']//tbody/tr")
    states = [row.find_class("badge")[0].text for row in exceptions]
    assert states == [e["state"] for e in small_run.report.to_json()["exceptions"]]
    by_rule = small_doc.get_element_by_id("chart-by-rule").xpath("./svg/g/text[@class='value']")
    assert sorted(int(el.text) for el in by_rule) == sorted(
        v for v in summary["by_rule"].values() if v
    )


def test_rows_capped_per_rule_with_a_pointer_to_the_workbook(
    doc: lxml.html.HtmlElement, run: ReportInput
) -> None:
    total = sum(1 for f in run.report.to_json()["findings"] if f["rule_id"] == "WIN-UNLICENSED")
    assert total > CAP
    group = doc.get_element_by_id("rule-WIN-UNLICENSED")
    assert len(group.xpath(".//tbody/tr")) == CAP
    more = group.find_class("more")[0].text_content()
    assert f"{total - CAP} more" in more and "report.xlsx" in more
    client = doc.get_element_by_id("rule-WIN-CLIENT-OS")
    assert not client.find_class("more")


def test_history_sections_only_when_present(
    run: ReportInput, doc: lxml.html.HtmlElement, rich: lxml.html.HtmlElement
) -> None:
    assert not doc.find_class("changes") and not doc.find_class("delta")
    assert (
        doc.xpath("//*[@id='changes' or @id='arrivals' or @id='gone' or @id='chart-trend']") == []
    )
    assert "First seen" not in doc.find(".//main").text_content()
    section = rich.get_element_by_id("changes")
    assert section.tag == "section"
    assert rich.xpath("//main/section/@id")[:5] == [
        "position",
        "executive",
        "summary",
        "changes",
        "findings",
    ]
    assert rich.xpath("//nav[@class='toc']/a/@href")[3] == "#changes"
    assert "(2025-10)" in section.find("h2").text_content()
    pills = section.find_class("changes")[0].text_content()
    assert "gone: unverified" in pills and "licence set" in pills
    assert [d.get("id") for d in section.iter("details")] == ["arrivals", "gone", "licence-changes"]
    document = with_history(run).report.to_json()
    arrivals = rich.get_element_by_id("arrivals")
    new = sum(1 for f in document["findings"] if f["change"] == "new")
    assert len(arrivals.xpath(".//tbody/tr")) == new > ARRIVALS_SHOWN_OPEN
    assert arrivals.get("open") is None  # many: folded, like the other history parts
    few = lxml.html.fromstring(render_html(with_history(make_run()), CAP))
    assert few.get_element_by_id("arrivals").get("open") is not None
    open_now = sum(run.report.to_json()["summary"]["open_by_severity"].values())
    assert f"{open_now - 12:+,} since 2025-10" in rich.find_class("delta")[0].text_content()
    assert "=old()" in rich.get_element_by_id("gone").text_content()
    assert "@rm -rf" in rich.get_element_by_id("licence-changes").text_content()
    assert len(rich.get_element_by_id("chart-trend").xpath("./svg/g")) == 3
    assert "First seen" in rich.find(".//main").text_content()
    (review,) = [td for td in rich.find_class("l-review") if td.text_content().strip()]
    assert review.text_content() == "accepted=Janeticket <CHG-1>"
    # Earlier periods' shortfalls not reviewed settled, names as text.
    exposure = rich.get_element_by_id("exposure")
    unsettled = exposure.xpath(".//h3[starts-with(., 'Shortfalls of earlier')]/following::table[1]")
    rows = [row.text_content() for row in unsettled[0].xpath(".//tbody/tr")]
    assert len(rows) == 2 and "<b>tmp-build</b>" in rows[0] and "=Jane" in rows[0]
    assert "2025-09" in rows[1] and not exposure.xpath(".//b")
    assert "billing guide, updated 2024-03-21" in exposure.text_content()


def test_rerender_is_byte_identical(run: ReportInput, page: Path, tmp_path: Path) -> None:
    again = tmp_path / "report.html"
    HtmlReport(rows_per_rule=CAP).render(run, again)
    assert again.read_bytes() == page.read_bytes()


@pytest.mark.slow
def test_chromium_renders_the_page(page: Path, tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        require_or_skip("Chromium missing: apt-get install chromium")
    shot = tmp_path / "report.png"
    subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={shot}",
            "--window-size=1280,2000",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=90,
    )
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", data[16:24]) == (1280, 2000)
    assert len(data) > 50_000  # a rendered page, not a blank one


@pytest.mark.slow
def test_a_100000_vm_fleet_stays_small() -> None:
    big = make_run(bulk=100_000)
    html = render_html(big).encode()
    assert len(html) < 10_000_000
    hidden = big.report.to_json()["summary"]["by_rule"]["WIN-UNLICENSED"] - 200
    assert f"{hidden:,} more findings of this rule".encode() in html


def test_an_empty_account_reads_as_complete_and_clean() -> None:
    doc = lxml.html.fromstring(render_html(make_empty_run()))
    assert "ok" in doc.find_class("banner")[0].classes
    assert "No findings" in doc.get_element_by_id("findings").text_content()
