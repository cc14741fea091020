"""The OVHcloud API endpoints the `ovh` client names, so a report can say plainly when a run
read something else (a simulator, a proxy, any URL that is not one of them).

Fixed here rather than read from `ovh.client.ENDPOINTS`, which the tool extends at run time
with the URLs it is given (audit/runtime/ovhapi.py `register_endpoint`).
"""

from __future__ import annotations

from collections.abc import Mapping

OVHCLOUD_ENDPOINTS: Mapping[str, str] = {
    "ovh-eu": "https://eu.api.ovh.com/1.0",
    "ovh-us": "https://api.us.ovhcloud.com/1.0",
    "ovh-ca": "https://ca.api.ovh.com/1.0",
    "kimsufi-eu": "https://eu.api.kimsufi.com/1.0",
    "kimsufi-ca": "https://ca.api.kimsufi.com/1.0",
    "soyoustart-eu": "https://eu.api.soyoustart.com/1.0",
    "soyoustart-ca": "https://ca.api.soyoustart.com/1.0",
}


def is_ovhcloud(endpoint: str) -> bool:
    """One of the client's named endpoints, by name or by its URL."""
    return endpoint in OVHCLOUD_ENDPOINTS or endpoint.rstrip("/") in OVHCLOUD_ENDPOINTS.values()
