"""The JSON shapes the tool reads and writes, named once."""

from __future__ import annotations

from typing import Any

# A decoded JSON object (an API response, a snapshot entry, a findings.json section).
JSONObject = dict[str, Any]
