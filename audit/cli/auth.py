"""`ovh-license-audit auth`: ask for a consumer key with only the audit's rights, or show
what the current key may do (rules, status, expiry)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from audit.cli.options import load_config_arg
from audit.collect.api import credential_error, credential_errors, import_ovh
from audit.collect.credential import CURRENT_CREDENTIAL, credential_info
from audit.collect.options import endpoint_from, factory_from
from audit.model.snapshot import credential_warnings
from audit.support.errors import AuditError, ExitCode

if TYPE_CHECKING:
    import ovh

#: What the audit reads: every GET under /dedicatedCloud, nothing else.
AUDIT_RULES = (("GET", "/dedicatedCloud"), ("GET", "/dedicatedCloud/*"))
#: What `remediate --apply` also needs: the two licence routes, nothing else.
REMEDIATION_RULES = (
    ("POST", "/dedicatedCloud/*/datacenter/*/vm/*/setLicense"),
    ("POST", "/dedicatedCloud/*/datacenter/*/vm/*/removeLicense"),
)


def requested_rules(remediation: bool) -> tuple[tuple[str, str], ...]:
    return AUDIT_RULES + (REMEDIATION_RULES if remediation else ())


def _api_error(exc: ovh.exceptions.APIError, method: str, path: str) -> AuditError:
    if isinstance(exc, credential_errors()):
        return credential_error(exc, method, path)
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return AuditError(f"{method} {path}: {message}")


def run_request(args: argparse.Namespace) -> int:
    config = load_config_arg(args)
    client = factory_from(args, config).new_client(require_consumer_key=False)
    sdk = import_ovh()
    request = client.new_consumer_key_request()
    for method, path in requested_rules(args.remediation):
        request.add_rules([method], path)
    try:
        answer = request.request()
    except sdk.exceptions.APIError as exc:
        raise _api_error(exc, "POST", "/auth/credential") from None
    print(f"Consumer key requested on {endpoint_from(args, config)} with these rights:")
    for method, path in requested_rules(args.remediation):
        print(f"  {method} {path}")
    print()
    print("1. Open this URL as the account owner and validate the key:")
    print(f"   {answer['validationUrl']}")
    print("2. Store the consumer key now (as OVH_CONSUMER_KEY or consumer_key in ovh.conf);")
    print("   it is shown only this once and kept nowhere by this tool:")
    print(f"   {answer['consumerKey']}")
    return int(ExitCode.OK)


def run_check(args: argparse.Namespace) -> int:
    config = load_config_arg(args)
    client = factory_from(args, config).new_client()
    sdk = import_ovh()
    try:
        data = client.get(CURRENT_CREDENTIAL)
    except sdk.exceptions.APIError as exc:
        raise _api_error(exc, "GET", CURRENT_CREDENTIAL) from None
    credential = credential_info(data)
    print(f"status: {credential.status}")
    for label, key in (("created", "creation"), ("expires", "expiration"), ("last use", "lastUse")):
        value = data.get(key) if isinstance(data, dict) else None
        shown = value if value is not None else ("never" if key == "expiration" else "-")
        print(f"{label}: {shown}")
    print("rules:")
    for rule in credential.rules:
        print(f"  {rule.method} {rule.path}")
    now = datetime.now(UTC).replace(microsecond=0)
    for warning in credential_warnings(credential, now):
        print(f"ovh-license-audit: warning: {warning}", file=sys.stderr)
    return int(ExitCode.OK)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--endpoint",
        help="ovh endpoint name (ovh-eu, ovh-ca, ...) or a base URL ending in /1.0",
    )
    parser.add_argument("--config", type=Path, help="TOML configuration file")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "auth",
        help="request a consumer key with only the audit's rights, or check the current one",
        description="Consumer keys: request one with narrow rights, or show the current one's.",
    )
    actions = parser.add_subparsers(dest="auth_action", required=True, metavar="ACTION")
    request = actions.add_parser(
        "request",
        help="ask for a consumer key: GET on /dedicatedCloud (audit) [+ licence POSTs]",
        description=(
            "Ask the API for a consumer key limited to GET on /dedicatedCloud and "
            "/dedicatedCloud/*; print the validation URL and the key (once)."
        ),
    )
    _common(request)
    request.add_argument(
        "--remediation",
        action="store_true",
        help="also POST on the setLicense and removeLicense routes (for remediate --apply)",
    )
    request.set_defaults(handler=run_request)
    check = actions.add_parser(
        "check",
        help="show the current key's rules, status and expiry",
        description=f"Show the current consumer key's rules, status and expiry ({CURRENT_CREDENTIAL}).",  # noqa: E501
    )
    _common(check)
    check.set_defaults(handler=run_check)
