"""The optional TOML configuration file (`--config`): defaults for the job's options.

Command-line flags win over the file; the file wins over built-in defaults. Credentials
never go here: they come the `ovh` way (OVH_* variables or ovh.conf).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from audit.config.invoice import InvoiceSettings, invoice_settings
from audit.config.mail import MailSettings, mail_settings
from audit.config.report import ReportSettings, report_settings
from audit.config.values import Range, bounded, expect, one_of
from audit.model.findings import SEVERITIES
from audit.model.licences import BILLABLE_LICENCES, SETTABLE_EDITIONS, SETTABLE_LICENCES
from audit.model.prices import Prices, PriceUnit
from audit.support.errors import InputError

FAIL_ON_CHOICES = (*SEVERITIES, "never")
SERVICE_DEFAULT_KEY = "default"


# Below 0.1 request/s a 5,000-VM estate takes over 14 hours: a typo, not a choice. Above the top,
# throttling is off in all but name.
WORKERS = Range(1, 64)
MAX_RPS = Range(0.1, 1000)
MAX_RETRIES = Range(0, 20)
RETRY_BASE_DELAY_S = Range(0, 60)
# The overall deadline of a collection, in seconds: a second at least, a week at most.
DEADLINE_S = Range(1, 7 * 24 * 3600)

# What a run uses when neither a flag nor the file sets it (the collector's defaults too).
DEFAULT_WORKERS = 16
DEFAULT_MAX_RPS = 100.0


@dataclass(frozen=True)
class RemediationConfig:
    """Which edition to propose when a Windows guest needs a licence.

    `editions` maps a Windows version ("2019") to an edition; `services` maps a service name
    to such a mapping, whose `default` key sets the edition of every version of that service.
    Most specific wins: service and version, service default, version, default edition.
    """

    default_edition: str = "Standard"
    editions: dict[str, str] = field(default_factory=dict)
    services: dict[str, dict[str, str]] = field(default_factory=dict)

    def edition_for(self, service_name: str, version: str) -> str:
        per_service = self.services.get(service_name, {})
        return (
            per_service.get(version)
            or per_service.get(SERVICE_DEFAULT_KEY)
            or self.editions.get(version)
            or self.default_edition
        )


@dataclass(frozen=True)
class Config:
    """Settings from the file; None means "not set here"."""

    endpoint: str | None = None
    out: Path | None = None
    exceptions: Path | None = None
    fail_on: str | None = None
    workers: int | None = None
    max_rps: float | None = None
    ovh_config: Path | None = None
    max_retries: int | None = None
    retry_base_delay_s: float | None = None
    deadline_s: float | None = None  # None: sized to the fleet and the pace (collector.py)
    remediation: RemediationConfig = field(default_factory=RemediationConfig)
    mail: MailSettings | None = None  # the [mail] section (audit/config/mail.py)
    prices: Prices | None = None  # the [prices] section
    invoice: InvoiceSettings = field(default_factory=InvoiceSettings)  # [invoice]
    report: ReportSettings = field(default_factory=ReportSettings)  # [report]


_AUDIT_KEYS = {
    "endpoint",
    "out",
    "exceptions",
    "fail_on",
    "workers",
    "max_rps",
    "ovh_config",
    "max_retries",
    "retry_base_delay_s",
    "deadline_s",
}


# Every edition setLicense accepts for some version: a default may name any of them.
_ANY_EDITION = frozenset(edition for names in SETTABLE_EDITIONS.values() for edition in names)


def _edition(path: Path, key: str, value: Any, version: str | None = None) -> str:
    """An edition setLicense accepts (for `version`, when given); a typo is an error here,
    not a setLicense quietly turned into a manual action in every plan."""
    edition: str = expect(path, key, value, str)
    known = _ANY_EDITION if version is None else frozenset(SETTABLE_EDITIONS[version])
    if edition not in known:
        scope = "" if version is None else f" for Windows Server {version}"
        raise InputError(
            f"{path}: {key}: {edition!r} is not an edition setLicense accepts{scope} "
            f"(one of {', '.join(sorted(known))})"
        )
    return edition


def _edition_map(path: Path, key: str, value: Any, service: bool = False) -> dict[str, str]:
    """Windows version to edition; a service's may also set a `default` for every version."""
    table = expect(path, key, value, dict)
    editions: dict[str, str] = {}
    for version, edition in table.items():
        if service and version == SERVICE_DEFAULT_KEY:
            editions[version] = _edition(path, f"{key}.{version}", edition)
        elif version in SETTABLE_EDITIONS:
            editions[version] = _edition(path, f"{key}.{version}", edition, version)
        else:
            raise InputError(
                f"{path}: {key}: {version!r} is not a Windows version setLicense accepts "
                f"(one of {', '.join(SETTABLE_EDITIONS)})"
            )
    return editions


#: The file's sections, each parsed on its own (`check` reports each one).
SECTIONS = ("audit", "remediation", "prices", "mail", "invoice", "report")


def read_config_file(path: Path) -> dict[str, Any]:
    """The file as TOML, with only known sections; every problem names the file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{path}: cannot read configuration: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: invalid TOML: {exc}") from None
    unknown = set(data) - set(SECTIONS)
    if unknown:
        raise InputError(f"{path}: unknown section [{sorted(unknown)[0]}]")
    return data


def _audit_fields(path: Path, data: dict[str, Any]) -> dict[str, Any]:
    audit = expect(path, "[audit]", data.get("audit", {}), dict)
    unknown = set(audit) - _AUDIT_KEYS
    if unknown:
        raise InputError(f"{path}: [audit]: unknown key {sorted(unknown)[0]!r}")
    fail_on = audit.get("fail_on")
    if fail_on is not None and fail_on not in FAIL_ON_CHOICES:
        raise InputError(f"{path}: audit.fail_on: expected one of {', '.join(FAIL_ON_CHOICES)}")
    base = path.parent

    def as_path(key: str) -> Path | None:
        value = audit.get(key)
        return None if value is None else base / expect(path, f"audit.{key}", value, str)

    workers = bounded(path, "audit.workers", audit.get("workers"), int, WORKERS)
    max_rps = bounded(path, "audit.max_rps", audit.get("max_rps"), (int, float), MAX_RPS)
    max_retries = bounded(path, "audit.max_retries", audit.get("max_retries"), int, MAX_RETRIES)
    base_delay = bounded(
        path,
        "audit.retry_base_delay_s",
        audit.get("retry_base_delay_s"),
        (int, float),
        RETRY_BASE_DELAY_S,
    )
    deadline = bounded(path, "audit.deadline_s", audit.get("deadline_s"), (int, float), DEADLINE_S)
    return {
        "endpoint": None
        if audit.get("endpoint") is None
        else expect(path, "audit.endpoint", audit["endpoint"], str),
        "out": as_path("out"),
        "exceptions": as_path("exceptions"),
        "fail_on": fail_on,
        "workers": workers,
        "max_rps": None if max_rps is None else float(max_rps),
        "ovh_config": as_path("ovh_config"),
        "max_retries": max_retries,
        "retry_base_delay_s": None if base_delay is None else float(base_delay),
        "deadline_s": None if deadline is None else float(deadline),
    }


def _remediation_fields(path: Path, data: dict[str, Any]) -> dict[str, Any]:
    remediation = expect(path, "[remediation]", data.get("remediation", {}), dict)
    unknown = set(remediation) - {"default_edition", "editions", "services"}
    if unknown:
        raise InputError(f"{path}: [remediation]: unknown key {sorted(unknown)[0]!r}")
    services = expect(path, "remediation.services", remediation.get("services", {}), dict)
    return {
        "remediation": RemediationConfig(
            default_edition=_edition(
                path, "remediation.default_edition", remediation.get("default_edition", "Standard")
            ),
            editions=_edition_map(path, "remediation.editions", remediation.get("editions", {})),
            services={
                str(name): _edition_map(path, f"remediation.services.{name}", table, service=True)
                for name, table in services.items()
            },
        )
    }


def _mail_fields(path: Path, data: dict[str, Any]) -> dict[str, Any]:
    return {"mail": None if "mail" not in data else mail_settings(path, data["mail"])}


def _prices_fields(path: Path, data: dict[str, Any]) -> dict[str, Any]:
    return {"prices": _prices(path, data.get("prices"))}


def _invoice_fields(path: Path, data: dict[str, Any]) -> dict[str, Any]:
    return {"invoice": invoice_settings(path, data.get("invoice"))}


def _report_fields(path: Path, data: dict[str, Any]) -> dict[str, Any]:
    return {"report": report_settings(path, data.get("report"))}


_SECTION_FIELDS: dict[str, Callable[[Path, dict[str, Any]], dict[str, Any]]] = {
    "audit": _audit_fields,
    "remediation": _remediation_fields,
    "mail": _mail_fields,
    "prices": _prices_fields,
    "invoice": _invoice_fields,
    "report": _report_fields,
}


def load_config(path: Path) -> Config:
    """Parse and validate; every problem names the file and the key."""
    data = read_config_file(path)
    fields: dict[str, Any] = {}
    for section in SECTIONS:
        fields |= _SECTION_FIELDS[section](path, data)
    return Config(**fields)


@dataclass(frozen=True)
class SectionCheck:
    """One section of the file as `check` reports it: its one-line error, or None."""

    section: str
    present: bool
    error: str | None = None


def check_config(path: Path) -> tuple[Config, tuple[SectionCheck, ...]]:
    """Every section validated on its own, so one bad section does not hide another; the
    Config holds the sections that passed (the others at their defaults). A file that is
    not TOML at all raises, as `load_config` does."""
    data = read_config_file(path)
    fields: dict[str, Any] = {}
    checks = []
    for section in SECTIONS:
        try:
            fields |= _SECTION_FIELDS[section](path, data)
        except InputError as exc:
            checks.append(SectionCheck(section, section in data, str(exc)))
        else:
            checks.append(SectionCheck(section, section in data))
    return Config(**fields), tuple(checks)


# [prices]: optional monthly prices per licence value, and their currency.

PRICE = Range(0, 1_000_000)
_CURRENCY = re.compile(r"[A-Z]{3}", re.ASCII)
_PRICES_SETTINGS = {"currency", "unlicensed_reference", "per", "min_cores"}
MIN_CORES = Range(1, 1024)


def _prices(path: Path, value: Any) -> Prices | None:
    """`[prices]`: `currency` (ISO 4217), one price per billable licence value and month, per
    VM or (`per = "core"`, with `min_cores` per VM) per core, and optionally
    `unlicensed_reference`, the licence unlicensed guests are priced at."""
    if value is None:
        return None
    table = expect(path, "[prices]", value, dict)
    if "currency" not in table:
        raise InputError(f'{path}: prices.currency: required with [prices] (e.g. "EUR")')
    currency = expect(path, "prices.currency", table["currency"], str)
    if not _CURRENCY.fullmatch(currency):
        raise InputError(
            f"{path}: prices.currency: expected an ISO 4217 code such as EUR, got {currency!r}"
        )
    monthly: dict[str, Decimal] = {}
    for licence, price in table.items():
        if licence in _PRICES_SETTINGS:
            continue
        key = f'prices."{licence}"'
        one_of(
            path,
            key,
            licence,
            BILLABLE_LICENCES,
            "not a Windows edition OVHcloud bills, exactly as the API spells it",
        )
        monthly[licence] = Decimal(str(bounded(path, key, price, (int, float), PRICE)))
    reference = table.get("unlicensed_reference")
    if reference is not None:
        expect(path, "prices.unlicensed_reference", reference, str)
        if reference not in SETTABLE_LICENCES or reference not in monthly:
            raise InputError(
                f"{path}: prices.unlicensed_reference: {reference!r} must be a licence "
                "setLicense accepts and have a price in [prices]"
            )
    per = expect(path, "prices.per", table.get("per", PriceUnit.VM.value), str)
    if per not in {unit.value for unit in PriceUnit}:
        raise InputError(f'{path}: prices.per: expected "vm" or "core", got {per!r}')
    unit = PriceUnit(per)
    min_cores = table.get("min_cores")
    if min_cores is not None and unit is not PriceUnit.CORE:
        raise InputError(f'{path}: prices.min_cores: only with per = "core"')
    if unit is PriceUnit.CORE and min_cores is None:
        raise InputError(
            f'{path}: prices.min_cores: required with per = "core" (the minimum of cores '
            "billed per VM in your contract)"
        )
    cores = 1 if min_cores is None else bounded(path, "prices.min_cores", min_cores, int, MIN_CORES)
    return Prices(currency, monthly, reference, unit, cores)
