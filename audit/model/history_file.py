"""history.json: the history view a run's reports were rendered with, frozen in its folder.

The job writes it at run time and the manifest lists it, so `report RUN_DIR` and
`mail RUN_DIR` read the previous run's counts, the trend and the carried-forward reviews from
the folder alone: a history file edited or lost later changes no rebuild (DESIGN.md
"Evidence that rebuilds from the folder alone").
"""

from __future__ import annotations

import json
from pathlib import Path

from audit.model.fields import string
from audit.model.history import CarriedReview, HistoryView, PreviousCounts, TrendPoint
from audit.support.errors import InputError
from audit.support.jsontypes import JSONObject

HISTORY_VIEW_FILE = "history.json"


def _counts(data: object) -> dict[str, int]:
    if not isinstance(data, dict) or not all(
        isinstance(key, str) and isinstance(value, int) for key, value in data.items()
    ):
        raise ValueError("expected an object of counts")
    return dict(data)


def _previous_to_json(previous: PreviousCounts) -> JSONObject:
    return {
        "period": previous.period,
        "taken_at": previous.taken_at,
        "open_by_severity": dict(previous.open_by_severity),
        "by_severity": dict(previous.by_severity),
        "by_status": dict(previous.by_status),
        "open": previous.open,
        "findings": previous.findings,
        "headline": dict(previous.headline),
    }


def _previous_from_json(data: JSONObject) -> PreviousCounts:
    return PreviousCounts(
        period=string(data["period"]),
        taken_at=string(data["taken_at"]),
        open_by_severity=_counts(data["open_by_severity"]),
        by_severity=_counts(data["by_severity"]),
        by_status=_counts(data["by_status"]),
        open=int(data["open"]),
        findings=int(data["findings"]),
        headline=_counts(data["headline"]),
    )


def view_to_json(view: HistoryView) -> JSONObject:
    return {
        "previous": None if view.previous is None else _previous_to_json(view.previous),
        "trend": [
            {
                "period": point.period,
                "open_by_severity": dict(point.open_by_severity),
                "open": point.open,
            }
            for point in view.trend
        ],
        "reviews": {key: review.to_json() for key, review in sorted(view.reviews.items())},
    }


def view_from_json(data: JSONObject) -> HistoryView:
    previous = data["previous"]
    return HistoryView(
        previous=None if previous is None else _previous_from_json(previous),
        trend=tuple(
            TrendPoint(string(item["period"]), _counts(item["open_by_severity"]), int(item["open"]))
            for item in data["trend"]
        ),
        reviews={
            string(key): CarriedReview.from_json(value) for key, value in data["reviews"].items()
        },
    )


def dumps_view(view: HistoryView) -> str:
    """history.json's text (stable: sorted reviews, indented, one trailing newline)."""
    return json.dumps(view_to_json(view), indent=2, ensure_ascii=False) + "\n"


def read_view(run_dir: Path) -> HistoryView:
    """The run folder's frozen history view; a folder written before history.json existed has
    none and reads as an empty view (no history file is consulted). Damage is an input error."""
    path = run_dir / HISTORY_VIEW_FILE
    if not path.is_file():
        return HistoryView()
    try:
        return view_from_json(json.loads(path.read_text(encoding="utf-8")))
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"{path}: not a run's history view ({exc})") from None
