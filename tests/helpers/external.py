"""External programs some tests need (LibreOffice, Chromium)."""

from __future__ import annotations

import os

import pytest


def require_or_skip(reason: str) -> None:
    """Skip a test whose external tool is missing on a developer's machine; fail it in CI,
    where .ci/run installs the tool, so a missing install step cannot pass unnoticed."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must install it: see .ci/run)")
    pytest.skip(reason)
