"""The roll-up's report.html: the Accounts table first, then every account's findings.

The single-account page's jinja2 environment (autoescape, StrictUndefined, control characters
made visible) and stylesheet, under the same Content-Security-Policy; no script.
"""

from __future__ import annotations

from itertools import islice
from pathlib import Path

from markupsafe import Markup

from audit.evaluate import headline
from audit.model.exposure import BILLING_RULE
from audit.model.rollup import AccountStatus, Rollup
from audit.render.html import _asset, _environment, _sha256
from audit.render.rollup_view import (
    FIGURE_KEYS,
    FIGURE_LABELS,
    FINDING_HEADERS,
    LICENCE_LABELS,
    account_rows,
    finding_cells,
    status_text,
    summary_line,
    totals,
)

# Findings listed on the page; the workbook and findings.csv hold them all.
ROWS_SHOWN = 2000


class RollupHtml:
    """The roll-up's page."""

    filename = "report.html"

    def __init__(self, rows_shown: int = ROWS_SHOWN) -> None:
        self.rows_shown = rows_shown

    def render(self, rollup: Rollup, path: Path) -> None:
        """Write the page; unencodable API text (lone surrogates) is escaped, never fatal."""
        page = render_rollup_html(rollup, self.rows_shown)
        path.write_bytes(page.encode("utf-8", errors="backslashreplace"))


def render_rollup_html(rollup: Rollup, rows_shown: int = ROWS_SHOWN) -> str:
    css = _asset("report.css") + _asset("rollup.css")
    rows = account_rows(rollup)
    findings = [finding_cells(item) for item in islice(rollup.findings, rows_shown)]
    template = _environment().get_template("rollup.html.j2")
    return template.render(
        css=Markup(css),  # noqa: S704 - our packaged stylesheet, not data
        csp=f"default-src 'none'; style-src '{_sha256(css)}'; base-uri 'none'; form-action 'none'",
        rollup=rollup,
        rows=rows,
        total=totals(rollup, rows),
        summary=summary_line(rollup),
        incomplete=any(a.status is AccountStatus.INCOMPLETE for a in rollup.accounts),
        status_text=status_text,
        figure_labels=FIGURE_LABELS,
        licence_labels=LICENCE_LABELS,
        definitions=[headline.DEFINITIONS[key] for key in FIGURE_KEYS],
        finding_headers=FINDING_HEADERS,
        findings=findings,
        shown=len(findings),
        billing_rule=BILLING_RULE,
    )
