"""The plan: what to do to which VM, as the operator reviewed and approved it (by its sha256).

A plan is data only; values (VM names come from vCenter) are checked field by field on reading
and never reach a URL or the code unquoted.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import quote

from audit.runtime.text import printable


class ActionKind(StrEnum):
    """What a plan action does to its VM."""

    SET_LICENSE = "setLicense"
    REMOVE_LICENSE = "removeLicense"
    MANUAL = "manual"  # listed for a person; never sent to the API


class PlanError(ValueError):
    """The plan (or results file) is not what it should be; the message names the field."""


@dataclass(frozen=True)
class Action:
    """One step of a plan. `current_license` and `guest_os_family` are the VM's state when the
    plan was made: an action whose VM no longer shows both is skipped, never applied blind."""

    action: ActionKind
    service_name: str
    datacenter_id: int | None
    vm_id: int | None
    vm_name: str | None
    rule_id: str
    current_license: str | None
    target_license: str | None
    reason: str
    bypass_guest_os_family_check: bool = False
    guest_os_family: str | None = None

    @property
    def changes_licence(self) -> bool:
        return self.action is not ActionKind.MANUAL

    @property
    def vm_path(self) -> str:
        """The VM's API path, each segment quoted: plan values never reach the URL raw."""
        return (
            f"/dedicatedCloud/{quote(self.service_name, safe='')}"
            f"/datacenter/{self.datacenter_id}/vm/{self.vm_id}"
        )

    @property
    def label(self) -> str:
        name = "" if self.vm_name is None else f" {self.vm_name!r}"  # repr escapes controls
        return (
            f"{printable(self.service_name)} dc {self.datacenter_id} vm {self.vm_id}{name}"
            f" [{printable(self.rule_id)}]"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action.value,
            "service_name": self.service_name,
            "datacenter_id": self.datacenter_id,
            "vm_id": self.vm_id,
            "vm_name": self.vm_name,
            "rule_id": self.rule_id,
            "current_license": self.current_license,
            "target_license": self.target_license,
            "reason": self.reason,
            "bypassGuestOsFamilyCheck": self.bypass_guest_os_family_check,
            "guest_os_family": self.guest_os_family,
        }

    @classmethod
    def from_json(cls, data: object, where: str) -> Action:
        """Validate one action object; unknown keys are ignored (later versions may add some)."""
        if not isinstance(data, dict):
            raise PlanError(f"{where}: expected an object")
        fields = _Fields(data, where)
        kind_text = fields.text("action")
        try:
            kind = ActionKind(kind_text)
        except ValueError:
            choices = ", ".join(kind.value for kind in ActionKind)
            raise PlanError(f"{where}.action: expected one of {choices}") from None
        action = cls(
            action=kind,
            service_name=fields.text("service_name"),
            datacenter_id=fields.integer("datacenter_id"),
            vm_id=fields.integer("vm_id"),
            vm_name=fields.text("vm_name", nullable=True),
            rule_id=fields.text("rule_id"),
            current_license=fields.text("current_license", nullable=True),
            target_license=fields.text("target_license", nullable=True),
            reason=fields.text("reason"),
            bypass_guest_os_family_check=fields.boolean("bypassGuestOsFamilyCheck"),
            guest_os_family=fields.text("guest_os_family", nullable=True, required=False),
        )
        located = action.service_name and None not in (action.datacenter_id, action.vm_id)
        if action.changes_licence and not located:
            raise PlanError(f"{where}: {kind} needs service_name, datacenter_id and vm_id")
        if action.changes_licence and "guest_os_family" not in data:
            raise PlanError(
                f"{where}.guest_os_family: missing (a licence action is checked against the "
                "VM's guest OS before it is sent)"
            )
        if kind is ActionKind.SET_LICENSE and not action.target_license:
            raise PlanError(f"{where}.target_license: setLicense needs the licence to set")
        return action


class _Fields:
    """Typed access to one JSON object's fields, with errors that name the field."""

    def __init__(self, data: dict[str, Any], where: str) -> None:
        self._data = data
        self._where = where

    def _get(self, key: str, required: bool) -> Any:
        if key not in self._data and required:
            raise PlanError(f"{self._where}.{key}: missing")
        return self._data.get(key)

    def text(self, key: str, nullable: bool = False, required: bool = True) -> Any:
        value = self._get(key, required)
        if value is None and (nullable or not required):
            return None
        if not isinstance(value, str):
            raise PlanError(f"{self._where}.{key}: expected a string")
        return value

    def integer(self, key: str) -> int | None:
        value = self._get(key, True)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise PlanError(f"{self._where}.{key}: expected an integer or null")
        return value

    def boolean(self, key: str) -> bool:
        value = self._get(key, True)
        if not isinstance(value, bool):
            raise PlanError(f"{self._where}.{key}: expected true or false")
        return value


@dataclass(frozen=True)
class Plan:
    """`{"snapshot_sha256": ..., "actions": [...]}`; a rollback plan also names the plan it
    undoes (`rollback_of`, that plan's sha256) and has no snapshot."""

    snapshot_sha256: str | None
    actions: tuple[Action, ...]
    rollback_of: str | None = None

    def to_text(self) -> str:
        """The canonical file text: ASCII JSON, one action per line, so reviews and diffs read
        well and the same plan always has the same sha256."""
        return self._text

    @cached_property
    def _text(self) -> str:
        """Made once: plan.json, its sha256, remediate.py and findings.json all quote it."""
        head = [f'  "snapshot_sha256": {json.dumps(self.snapshot_sha256)},']
        if self.rollback_of is not None:
            head.append(f'  "rollback_of": {json.dumps(self.rollback_of)},')
        lines = [json.dumps(action.to_json()) for action in self.actions]
        body = "\n" + ",\n".join(f"    {line}" for line in lines) + "\n  " if lines else ""
        return "{\n" + "\n".join(head) + f'\n  "actions": [{body}]\n' + "}\n"

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.to_text().encode("ascii")).hexdigest()

    def counts(self) -> dict[str, int]:
        """Actions per kind, every kind present."""
        counts = Counter(action.action.value for action in self.actions)
        return {kind.value: counts.get(kind.value, 0) for kind in ActionKind}

    @classmethod
    def from_text(cls, text: str, source: str) -> Plan:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PlanError(f"{source}: not valid JSON: line {exc.lineno}: {exc.msg}") from None
        if not isinstance(data, dict) or not isinstance(data.get("actions"), list):
            raise PlanError(f'{source}: not a remediation plan (no "actions" list)')
        fields = _Fields(data, source)
        return cls(
            snapshot_sha256=fields.text("snapshot_sha256", nullable=True),
            rollback_of=fields.text("rollback_of", nullable=True, required=False),
            actions=tuple(
                Action.from_json(item, f"{source}: actions[{index}]")
                for index, item in enumerate(data["actions"])
            ),
        )


def read_plan(path: Path) -> Plan:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise PlanError(f"{path}: not UTF-8 text") from None
    return Plan.from_text(text, str(path))
