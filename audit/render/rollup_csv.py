"""The roll-up's findings.csv: an `account` column, then a single run's findings.csv columns."""

from __future__ import annotations

from pathlib import Path

from audit.model.rollup import Rollup
from audit.render.csv_findings import HEADER, finding_row, write_csv
from audit.render.safe_text import safe_text


class RollupCsv:
    """Every account's findings, cell for cell as its own findings.csv writes them."""

    filename = "findings.csv"

    def render(self, rollup: Rollup, path: Path) -> None:
        write_csv(
            path,
            ("account", *HEADER),
            ([safe_text(item.account), *finding_row(item.finding)] for item in rollup.findings),
        )
