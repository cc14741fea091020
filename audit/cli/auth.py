"""`ovh-license-audit auth`: ask for a consumer key with only the audit's rights, or show
what the current key may do (rules, status, expiry)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from audit.cli.options import (
    ENDPOINT_DEFAULT,
    INPUT_ERROR,
    HelpFormatter,
    exit_codes_epilog,
    load_config_arg,
)
from audit.collect.api import (
    NOT_VALID_HINT,
    Unreachable,
    credential_error,
    credential_errors,
    import_ovh,
    server_time,
)
from audit.collect.credential import CURRENT_CREDENTIAL, credential_info
from audit.collect.options import endpoint_from, factory_from
from audit.invoice.rights import BILLING_RULES, missing_billing_rights
from audit.model.snapshot import credential_warnings
from audit.runtime.ovhapi import api_message, network_cause
from audit.runtime.text import printable
from audit.support.errors import AuditError, CredentialError, ExitCode, InputError

#: What the audit reads: every GET under /dedicatedCloud, nothing else.
AUDIT_RULES = (("GET", "/dedicatedCloud"), ("GET", "/dedicatedCloud/*"))
#: What `remediate --apply` also needs: the two licence routes, nothing else.
REMEDIATION_RULES = (
    ("POST", "/dedicatedCloud/*/datacenter/*/vm/*/setLicense"),
    ("POST", "/dedicatedCloud/*/datacenter/*/vm/*/removeLicense"),
)


def requested_rules(remediation: bool, billing: bool = False) -> tuple[tuple[str, str], ...]:
    """The audit's rules, plus the licence POSTs and the bill reads when asked for."""
    return (
        AUDIT_RULES
        + (REMEDIATION_RULES if remediation else ())
        + (BILLING_RULES if billing else ())
    )


def bills_line(rules: tuple[tuple[str, str], ...]) -> str:
    """Whether a key may read the bills the invoice reconciliation reads, and if not why."""
    missing = missing_billing_rights(rules)
    if not missing:
        return "bills: readable (GET /me/bill and /me/bill/*)"
    lacking = " and ".join(f"{method} {path}" for method, path in missing)
    return f"bills: not readable: lacks {lacking} (auth request --billing asks for them)"


def _api_error(exc: Exception, method: str, path: str, endpoint: str) -> AuditError:
    """Any failure of an `auth` call as one line in words: never a Python repr."""
    sdk = import_ovh()
    if isinstance(exc, sdk.exceptions.HTTPError):  # the network, not the API
        return Unreachable(f"cannot reach {endpoint}: {network_cause(exc)} ({method} {path})")
    if isinstance(exc, sdk.exceptions.InvalidResponse):
        return InputError(
            f"--endpoint {endpoint}: {method} {path} did not answer JSON: not the OVHcloud API"
        )
    if isinstance(exc, sdk.exceptions.InvalidCredential) and path == CURRENT_CREDENTIAL:
        message = api_message(exc)
        return CredentialError(
            f"{method} {path}: the API refused the key ({message}): {NOT_VALID_HINT}"
        )
    if isinstance(exc, credential_errors()):
        return credential_error(exc, method, path)
    return AuditError(f"{method} {path}: {api_message(exc)}")


def _answered(answer: Any, key: str, endpoint: str) -> str:
    """A text field of the POST /auth/credential answer, shown safely; missing: one line."""
    value = answer.get(key) if isinstance(answer, dict) else None
    if not isinstance(value, str) or not value:
        raise InputError(
            f"--endpoint {endpoint}: POST /auth/credential answered without a {key}: not the "
            "OVHcloud API, or it refused the request without saying why"
        )
    return printable(value)


def run_request(args: argparse.Namespace) -> int:
    config = load_config_arg(args)
    factory = factory_from(args, config)
    # Only the application key and secret: the consumer key is what this creates.
    client = factory.new_client(require_consumer_key=False)
    server_time(client, factory.endpoint)
    sdk = import_ovh()
    request = client.new_consumer_key_request()
    rules = requested_rules(args.remediation, args.billing)
    for method, path in rules:
        request.add_rules([method], path)
    try:
        answer = request.request()
    except sdk.exceptions.APIError as exc:
        raise _api_error(exc, "POST", "/auth/credential", factory.endpoint) from None
    except (KeyError, TypeError):  # `ovh` reads answer["consumerKey"] itself
        answer = None
    consumer_key = _answered(answer, "consumerKey", factory.endpoint)
    url = _answered(answer, "validationUrl", factory.endpoint)
    print(f"Consumer key requested on {endpoint_from(args, config)} with these rights:")
    for method, path in rules:
        print(f"  {method} {path}")
    print()
    print("1. Open this URL as the account owner and validate the key:")
    print(f"   {url}")
    print("2. Store the consumer key now (as OVH_CONSUMER_KEY or consumer_key in ovh.conf);")
    print("   it is shown only this once and kept nowhere by this tool:")
    print(f"   {consumer_key}")
    return int(ExitCode.OK)


def run_check(args: argparse.Namespace) -> int:
    config = load_config_arg(args)
    factory = factory_from(args, config)
    client = factory.new_client()
    server_time(client, factory.endpoint)
    sdk = import_ovh()
    try:
        data = client.get(CURRENT_CREDENTIAL)
    except sdk.exceptions.APIError as exc:
        raise _api_error(exc, "GET", CURRENT_CREDENTIAL, factory.endpoint) from None
    credential = credential_info(data)
    print(f"status: {printable(credential.status)}")
    for label, key in (("created", "creation"), ("expires", "expiration"), ("last use", "lastUse")):
        value = data.get(key) if isinstance(data, dict) else None
        shown = value if value is not None else ("never" if key == "expiration" else "-")
        print(f"{label}: {printable(str(shown))}")
    print(bills_line(tuple((rule.method, rule.path) for rule in credential.rules)))
    print("rules:")
    for rule in credential.rules:
        print(f"  {printable(rule.method)} {printable(rule.path)}")
    now = datetime.now(UTC).replace(microsecond=0)
    for warning in credential_warnings(credential, now):
        print(f"ovh-license-audit: warning: {printable(warning)}", file=sys.stderr)
    return int(ExitCode.OK)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--endpoint",
        help="ovh endpoint name (ovh-eu, ovh-ca, ovh-us, ...) or a base URL ending in /1.0 "
        f"({ENDPOINT_DEFAULT})",
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
        epilog=exit_codes_epilog(("0", "the key was requested"), INPUT_ERROR),
        formatter_class=HelpFormatter,
    )
    _common(request)
    request.add_argument(
        "--remediation",
        action="store_true",
        help="also POST on the setLicense and removeLicense routes (for remediate --apply)",
    )
    request.add_argument(
        "--billing",
        action="store_true",
        help="also GET on /me/bill and /me/bill/* (to read the bills: invoice reconciliation)",
    )
    request.set_defaults(handler=run_request)
    check = actions.add_parser(
        "check",
        help="show the current key's rules, status and expiry, and whether it can read bills",
        description=f"Show the current consumer key's rules, status and expiry ({CURRENT_CREDENTIAL}).",  # noqa: E501
        epilog=exit_codes_epilog(("0", "the key's rights were read"), INPUT_ERROR),
        formatter_class=HelpFormatter,
    )
    _common(check)
    check.set_defaults(handler=run_check)
