"""A run's report: the `findings.json` document as typed records, written and read only here.

`findings.json` is a public contract (docs/DESIGN.md, "Output folder"). Its shape:

    {"run": RunInfo.to_json(),
     "summary": Summary.to_json(),
     "exceptions": [ExceptionState.to_json(), ...],
     "findings": [Finding.to_json(), ...],
     "licences": [LicenceRow.to_json(), ...], "control_panel": [ControlPanelRow.to_json(), ...],
     "costs": [Cost.to_json(), ...] (only with [prices]),
     then, once the history stage has run: "previous_run", "resolved", "unverified", "changes",
     and "exposure": Exposure.to_json() (the period's figures; absent in older files),
     "shortfalls": [Shortfall.to_json(), ...] (the period's) and
     "unsettled_shortfalls": [UnsettledShortfall.to_json(), ...] (earlier periods' not
     reviewed `settled`; both absent in older files),
     "remediation_applied": [RemediationApplied.to_json(), ...] (the remediation recorded in the
     history since the previous run, set by the history stage; absent in older files),
     and once `invoice RUN_DIR` has run: "reconciliation": Reconciliation.to_json() (the
     document invoice.json holds)}

Readers ignore keys they do not know.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from audit.model.exceptions import ExceptionState
from audit.model.exposure import Exposure, Shortfall, UnsettledShortfall
from audit.model.fields import optional_int, optional_string, string
from audit.model.findings import Finding, Summary
from audit.model.history import HistoryResult
from audit.model.invoice import Reconciliation
from audit.model.period import Period
from audit.model.position import ControlPanelRow, LicenceRow
from audit.model.prices import Cost
from audit.model.remediation import RemediationApplied
from audit.model.snapshot import Coverage
from audit.support.errors import InputError
from audit.support.jsontypes import JSONObject
from audit.support.timestamps import parse_utc

_T = TypeVar("_T")


@dataclass(frozen=True)
class RegisterFile:
    """The exceptions register a run applied: its file name (never a path) and sha256."""

    file: str
    sha256: str

    def to_json(self) -> JSONObject:
        return {"file": self.file, "sha256": self.sha256}

    @classmethod
    def from_json(cls, data: JSONObject) -> RegisterFile:
        return cls(file=string(data["file"]), sha256=string(data["sha256"]))


@dataclass(frozen=True)
class PlanSummary:
    """The remediation plan's size and the sha256 of remediation/plan.json."""

    set_license: int
    remove_license: int
    manual: int
    sha256: str

    @property
    def actions(self) -> int:
        return self.set_license + self.remove_license + self.manual

    def to_json(self) -> JSONObject:
        return {
            "setLicense": self.set_license,
            "removeLicense": self.remove_license,
            "manual": self.manual,
            "sha256": self.sha256,
        }

    @classmethod
    def from_json(cls, data: JSONObject) -> PlanSummary:
        return cls(
            set_license=_count(data["setLicense"]),
            remove_license=_count(data["removeLicense"]),
            manual=_count(data["manual"]),
            sha256=string(data["sha256"]),
        )


@dataclass(frozen=True)
class RunInfo:
    """findings.json "run": which run, of what, by which version.

    The fields after `coverage` came later: written when set, absent in older files (None),
    so `report RUN_DIR` and `mail RUN_DIR` of an old run still work and simply say less.
    """

    period: Period
    taken_at: str
    endpoint: str
    tool_version: str
    snapshot_sha256: str
    coverage: Coverage
    fail_on: str | None = None
    exceptions_register: RegisterFile | None = None
    remediation_plan: PlanSummary | None = None
    organisation: str | None = None  # [report] organisation: whose estate the run covers

    @cached_property
    def taken(self) -> datetime | None:
        """`taken_at` as an aware UTC datetime; None when a damaged file holds no timestamp."""
        return parse_utc(self.taken_at)

    def to_json(self) -> JSONObject:
        data: JSONObject = {
            "period": self.period.label,
            "taken_at": self.taken_at,
            "endpoint": self.endpoint,
            "tool_version": self.tool_version,
            "snapshot_sha256": self.snapshot_sha256,
            "coverage": self.coverage.to_json(),
        }
        if self.fail_on is not None:
            data["fail_on"] = self.fail_on
        if self.exceptions_register is not None:
            data["exceptions_register"] = self.exceptions_register.to_json()
        if self.remediation_plan is not None:
            data["remediation_plan"] = self.remediation_plan.to_json()
        if self.organisation is not None:
            data["organisation"] = self.organisation
        return data

    @classmethod
    def from_json(cls, data: JSONObject) -> RunInfo:
        register, plan = data.get("exceptions_register"), data.get("remediation_plan")
        return cls(
            # YYYY-MM only: it names folders and goes into the mail's subject
            period=Period.from_label(string(data["period"])),
            taken_at=string(data["taken_at"]),
            endpoint=string(data["endpoint"]),
            tool_version=string(data["tool_version"]),
            snapshot_sha256=string(data["snapshot_sha256"]),
            coverage=Coverage.from_json(data["coverage"]),
            fail_on=optional_string(data.get("fail_on")),
            exceptions_register=None if register is None else RegisterFile.from_json(register),
            remediation_plan=None if plan is None else PlanSummary.from_json(plan),
            organisation=optional_string(data.get("organisation")),
        )


@dataclass(frozen=True)
class RunReport:
    """Everything a run states: evaluation results and, once recorded, the history's."""

    run: RunInfo
    summary: Summary
    exceptions: tuple[ExceptionState, ...]
    findings: tuple[Finding, ...]
    history: HistoryResult | None = None
    licences: tuple[LicenceRow, ...] = ()
    control_panel: tuple[ControlPanelRow, ...] = ()
    costs: tuple[Cost, ...] = ()  # only with [prices]
    exposure: Exposure | None = None
    shortfalls: tuple[Shortfall, ...] = ()
    unsettled_shortfalls: tuple[UnsettledShortfall, ...] = ()
    # Since the previous run, from the history; None: not looked up (no history, older file).
    remediation_applied: tuple[RemediationApplied, ...] | None = None
    reconciliation: Reconciliation | None = None  # added by `invoice RUN_DIR`

    def to_json(self) -> JSONObject:
        data: JSONObject = {
            "run": self.run.to_json(),
            "summary": self.summary.to_json(),
            "exceptions": [state.to_json() for state in self.exceptions],
            "findings": [finding.to_json() for finding in self.findings],
            "licences": [row.to_json() for row in self.licences],
            "control_panel": [row.to_json() for row in self.control_panel],
        }
        if self.costs:
            data["costs"] = [cost.to_json() for cost in self.costs]
        if self.history is not None:
            data.update(self.history.to_json())
        if self.exposure is not None:
            data["exposure"] = self.exposure.to_json()
        data["shortfalls"] = [shortfall.to_json() for shortfall in self.shortfalls]
        data["unsettled_shortfalls"] = [item.to_json() for item in self.unsettled_shortfalls]
        if self.remediation_applied is not None:
            data["remediation_applied"] = [item.to_json() for item in self.remediation_applied]
        if self.reconciliation is not None:
            data["reconciliation"] = self.reconciliation.to_json()
        return data

    def dumps(self) -> str:
        """The findings.json text."""
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, data: Any, source: str = "findings.json") -> RunReport:
        """Validate a findings.json document; InputError naming `source` and the field."""
        if not isinstance(data, dict) or "findings" not in data or "run" not in data:
            raise InputError(f"{source}: not a findings.json document")
        history = None
        if "previous_run" in data:
            history = _field(source, "history keys", HistoryResult.from_json, data)
        exposure = None
        if "exposure" in data:
            exposure = _field(source, "exposure", Exposure.from_json, data["exposure"])
        reconciliation = None
        if "reconciliation" in data:
            reconciliation = _field(
                source, "reconciliation", Reconciliation.from_json, data["reconciliation"]
            )
        return cls(
            run=_field(source, "run", RunInfo.from_json, data.get("run")),
            summary=_field(source, "summary", Summary.from_json, data.get("summary")),
            exceptions=_items(source, "exceptions", ExceptionState.from_json, data),
            findings=_items(source, "findings", Finding.from_json, data),
            history=history,
            licences=_optional_items(source, "licences", LicenceRow.from_json, data),
            control_panel=_optional_items(source, "control_panel", ControlPanelRow.from_json, data),
            costs=_optional_items(source, "costs", Cost.from_json, data),
            exposure=exposure,
            shortfalls=_optional_items(source, "shortfalls", Shortfall.from_json, data),
            unsettled_shortfalls=_optional_items(
                source, "unsettled_shortfalls", UnsettledShortfall.from_json, data
            ),
            remediation_applied=(
                _items(source, "remediation_applied", RemediationApplied.from_json, data)
                if "remediation_applied" in data
                else None
            ),
            reconciliation=reconciliation,
        )

    @classmethod
    def read(cls, path: Path) -> RunReport:
        """Read and validate a stored findings.json; damage is an input error."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: not valid JSON: {exc}") from None
        return cls.from_json(data, str(path))


def _field(source: str, name: str, parse: Callable[[Any], _T], value: Any) -> _T:
    try:
        return parse(value)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InputError(f"{source}: {name}: damaged ({_reason(exc)})") from None


def _items(source: str, key: str, parse: Callable[[Any], _T], data: JSONObject) -> tuple[_T, ...]:
    items = data.get(key)
    if not isinstance(items, list):
        raise InputError(f"{source}: {key}: expected a list")
    return tuple(_field(source, f"{key}[{index}]", parse, item) for index, item in enumerate(items))


def _optional_items(
    source: str, key: str, parse: Callable[[Any], _T], data: JSONObject
) -> tuple[_T, ...]:
    """A list key added after the first findings.json: absent in older files."""
    return () if key not in data else _items(source, key, parse, data)


def _count(value: Any) -> int:
    count = optional_int(value)
    if count is None or count < 0:
        raise ValueError(f"expected a count, got {value!r}")
    return count


def _reason(exc: Exception) -> str:
    return f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
