"""A small validator for OVHcloud's published API schema (tests/data/ovh-schema), no network.

It reads the schema's `apis` (routes, methods, parameters, response types) and `models`
(objects with typed, possibly nullable properties; string enums) and says what in a value, a
query or a body does not match, so a test can fail on the first drift from the real API.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

SCHEMA_DIR = Path(__file__).parent.parent / "data" / "ovh-schema"
SCHEMA_FILE = SCHEMA_DIR / "dedicatedCloud.json"
ME_SCHEMA_FILE = SCHEMA_DIR / "me.json"  # /me: the bills

_MAP = re.compile(r"map\[string\](?P<value>.+)")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _parses(parse: Callable[[str], object]) -> Callable[[object], bool]:
    """A check that a value is a string `parse` accepts (a datetime, a uuid)."""

    def check(value: object) -> bool:
        if not isinstance(value, str):
            return False
        try:
            parse(value)
        except ValueError:
            return False
        return True

    return check


_is_datetime = _parses(datetime.fromisoformat)


def _is_date(value: object) -> bool:
    """A `date`: YYYY-MM-DD exactly (fromisoformat alone also takes 20261101)."""
    return (
        isinstance(value, str)
        and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) is not None
        and _parses(date.fromisoformat)(value)
    )


_PRIMITIVES = {
    "string": lambda v: isinstance(v, str),
    "password": lambda v: isinstance(v, str),
    "long": _is_int,
    "double": lambda v: _is_int(v) or isinstance(v, float),
    "boolean": lambda v: isinstance(v, bool),
    "datetime": _is_datetime,
    "date": _is_date,
    "uuid": _parses(uuid.UUID),
}

# How a query string spells a value of a primitive type (everything arrives as text).
_QUERY_PRIMITIVES = {
    "string": lambda v: True,
    "long": lambda v: re.fullmatch(r"-?\d+", v) is not None,
    "double": lambda v: re.fullmatch(r"-?\d+(\.\d+)?", v) is not None,
    "boolean": lambda v: v in ("true", "false"),
    "datetime": _is_datetime,
}


@dataclass(frozen=True)
class Operation:
    """One method of one route: its path template, parameters and response type."""

    method: str
    path: str
    parameters: tuple[Mapping[str, Any], ...]
    response_type: str

    def params(self, kind: str) -> dict[str, Mapping[str, Any]]:
        """Named parameters of one `paramType` (`path`, `query`, `body`)."""
        return {p["name"]: p for p in self.parameters if p["paramType"] == kind and "name" in p}


class Schema:
    """The published schema of one API section, as read from its JSON file."""

    def __init__(self, path: Path = SCHEMA_FILE) -> None:
        data = json.loads(path.read_text(encoding="utf-8"))
        self.resource_path: str = data["resourcePath"]
        self.models: dict[str, Mapping[str, Any]] = data["models"]
        self.operations: dict[tuple[str, str], Operation] = {
            (op["httpMethod"], api["path"]): Operation(
                method=op["httpMethod"],
                path=api["path"],
                parameters=tuple(op["parameters"]),
                response_type=op["responseType"],
            )
            for api in data["apis"]
            for op in api["operations"]
        }

    @cached_property
    def _patterns(self) -> list[tuple[re.Pattern[str], Operation]]:
        return [
            (re.compile(re.sub(r"\{\w+\}", "[^/]+", path)), op)
            for (_, path), op in self.operations.items()
        ]

    def enum(self, name: str) -> list[str]:
        values: list[str] = self.models[name]["enum"]
        return values

    def operation(self, method: str, path: str) -> Operation | None:
        """The operation a concrete call (`GET /dedicatedCloud/pcc-1/datacenter/2`) is."""
        for pattern, op in self._patterns:
            if op.method == method and pattern.fullmatch(path):
                return op
        return None

    # --- values ---------------------------------------------------------------------------

    def check(self, value: object, type_name: str, where: str = "$") -> list[str]:
        """Every mismatch between a (non-null) JSON value and a schema type, with its path."""
        if type_name.endswith("[]"):
            if not isinstance(value, list):
                return [f"{where}: expected a list of {type_name[:-2]}, got {value!r}"]
            return [
                error
                for index, item in enumerate(value)
                for error in self._item(item, type_name[:-2], f"{where}[{index}]")
            ]
        primitive = _PRIMITIVES.get(type_name)
        if primitive is not None:
            return [] if primitive(value) else [f"{where}: expected {type_name}, got {value!r}"]
        mapping = _MAP.fullmatch(type_name)
        if mapping is not None:
            if not isinstance(value, dict):
                return [f"{where}: expected {type_name}, got {value!r}"]
            return [
                error
                for key, item in value.items()
                for error in self._item(item, mapping["value"], f"{where}[{key!r}]")
            ]
        model = self.models.get(type_name)
        if model is None:
            return [f"{where}: type {type_name} is not in the schema"]
        if "enum" in model:
            if value not in model["enum"]:
                return [f"{where}: {value!r} is not in the {type_name} enum"]
            return []
        return self._object(value, type_name, model, where)

    def _item(self, value: object, type_name: str, where: str) -> list[str]:
        return [f"{where}: null item"] if value is None else self.check(value, type_name, where)

    def _object(
        self, value: object, type_name: str, model: Mapping[str, Any], where: str
    ) -> list[str]:
        if not isinstance(value, dict):
            return [f"{where}: expected a {type_name} object, got {value!r}"]
        properties: Mapping[str, Mapping[str, Any]] = model["properties"]
        errors = [f"{where}.{key}: not a {type_name} field" for key in value.keys() - properties]
        for key, prop in properties.items():
            if key not in value:
                errors.append(f"{where}.{key}: missing")
            elif value[key] is None:
                if not prop["canBeNull"]:
                    errors.append(f"{where}.{key}: null, but {type_name}.{key} cannot be null")
            else:
                errors.extend(self.check(value[key], prop["type"], f"{where}.{key}"))
        return errors

    # --- requests -------------------------------------------------------------------------

    def check_query(self, op: Operation, query: Mapping[str, str]) -> list[str]:
        """Every query parameter the operation does not take, or whose value it refuses."""
        known = op.params("query")
        errors = []
        for name, text in query.items():
            param = known.get(name)
            if param is None:
                errors.append(f"query {name}: not a parameter of {op.method} {op.path}")
            elif not self.query_value_fits(text, param["dataType"]):
                errors.append(f"query {name}={text!r}: not a {param['dataType']}")
        return errors

    def query_value_fits(self, text: str, type_name: str) -> bool:
        """Whether a query string value is one of `type_name` (a primitive or an enum)."""
        primitive = _QUERY_PRIMITIVES.get(type_name)
        if primitive is not None:
            return primitive(text)
        return text in self.models.get(type_name, {}).get("enum", ())

    def check_body(self, op: Operation, body: Mapping[str, Any]) -> list[str]:
        """Every body field the operation does not take, refuses, or requires and lacks."""
        known = op.params("body")
        errors = [f"body {name}: not a parameter" for name in body.keys() - known]
        for name, param in known.items():
            if name not in body:
                if param["required"]:
                    errors.append(f"body {name}: required")
            else:
                errors.extend(self.check(body[name], param["dataType"], f"body {name}"))
        return errors


class Schemas:
    """Several sections of the API (each file describes one `resourcePath`): each call is
    checked against its own section's schema, since two sections may define a model of the
    same name differently (`order.Price` has `priceInUcents` in /me only)."""

    def __init__(self, *paths: Path) -> None:
        self.sections = tuple(Schema(path) for path in paths)

    def for_path(self, path: str) -> Schema:
        for schema in self.sections:
            root = schema.resource_path
            if path == root or path.startswith(root + "/"):
                return schema
        raise KeyError(f"no schema section covers {path}")

    @property
    def operations(self) -> dict[tuple[str, str], Operation]:
        return {key: op for schema in self.sections for key, op in schema.operations.items()}
