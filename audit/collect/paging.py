"""Paged listing of a datacenter's VMs (`--listing paged`): full objects, a page per call.

The OVHcloud Control Panel lists VMs with the undocumented header
`X-Pagination-Mode: CachedObjectList-Pages`; the public v1 API does not document it, so the
collector only uses it on request and checks the answer against the id list, falling back to
one GET per VM for a datacenter whose pages do not match.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from audit.collect.api import import_ovh
from audit.support.jsontypes import JSONObject

if TYPE_CHECKING:
    import ovh

PAGE_SIZE = 500
PAGINATION_HEADERS = {
    "X-Pagination-Mode": "CachedObjectList-Pages",
    "Pragma": "no-cache",  # the cache behind the mode must not serve an older listing
}


def page_call(
    path: str, page: int, size: int
) -> Callable[[ovh.Client], tuple[list[JSONObject], int]]:
    """A request for page `page` (1-based) answering (its objects, the total count).

    `raw_call` skips the client's error mapping: a status other than 200 becomes an
    `APIError` carrying the response, so the retry rules see 429 and 5xx as usual.
    """

    def request(client: ovh.Client) -> tuple[list[JSONObject], int]:
        headers = {
            **PAGINATION_HEADERS,
            "X-Pagination-Size": str(size),
            "X-Pagination-Number": str(page),
        }
        sdk = import_ovh()
        response = client.raw_call("GET", path, headers=headers)
        if response.status_code != 200:
            raise sdk.exceptions.APIError(
                f"paged listing answered HTTP {response.status_code}", response=response
            )
        try:
            body: Any = response.json()
            total = int(response.headers["X-Pagination-Elements"])
        except (ValueError, KeyError) as exc:
            raise sdk.exceptions.APIError(
                f"paged listing: unexpected answer ({type(exc).__name__})", response=response
            ) from None
        if not isinstance(body, list) or not all(isinstance(item, dict) for item in body):
            raise sdk.exceptions.APIError(
                "paged listing: expected a list of objects", response=response
            )
        return body, total

    return request


def paged_vms_match(objects: list[JSONObject], ids: list[int]) -> str | None:
    """None when the pages hold exactly the listed VMs, once each; else why not."""
    found = [vm.get("vmId") for vm in objects]
    if len(found) != len(set(json.dumps(vm_id) for vm_id in found)):
        return "pages repeat a VM"
    if set(found) != set(ids) or len(found) != len(ids):
        return f"pages hold {len(found)} VMs, the id list {len(ids)}"
    return None
