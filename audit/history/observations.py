"""Daily observations as the history stores them: one row per UTC day, each VM's state by id.

A VM's state (name, guest OS, licence, power state, vCPUs) rarely changes from one day to the
next, so each distinct state is stored once (`vm_state`) and a day keeps only the ids of the
states it saw: sorted, delta-encoded and zlib-compressed, a few bytes per VM before compression
and mostly runs of 1 after it. A year of daily observations of 5,000 VMs stays a few MB
(`make bench` measures it).
"""

from __future__ import annotations

import zlib
from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from itertools import accumulate

from audit.evaluate.inventory import Inventory
from audit.history.changes import VmState, vm_states
from audit.model.identity import VmKey
from audit.support.jsontypes import JSONObject

# Beside history.sqlite: observations/YYYY-MM-DD.json.gz, the snapshot each day counted.
OBSERVATIONS_DIR = "observations"

# One stored state: (service, datacenter, VM id, name, guest OS, licence, power state, vCPUs).
StateRow = tuple[str, int, int, str | None, str | None, str | None, str | None, int | None]


# How an observation was made (findings.json `exposure.observations[].source`): collected live on
# its day, collected later and filed under an earlier day, a stored snapshot, a run's own.
SOURCES = ("observe", "observe --date", "observe --from-snapshot", "run")


@dataclass(frozen=True)
class ObservationRecord:
    """One day's observation to store: the VMs read that day and what could not be read."""

    day: date
    taken_at: str
    endpoint: str
    source: str  # SOURCES: how it was collected
    snapshot_sha256: str
    coverage: JSONObject
    recorded_at: str
    vms: Mapping[VmKey, VmState]
    calls: int = 0  # the API calls the collection made
    services: frozenset[str] = frozenset()  # every service the snapshot lists


@dataclass(frozen=True)
class ObservedDay:
    """One stored day: its coverage and the ids (`vm_state.id`) of the states it saw."""

    day: str
    taken_at: str
    source: str
    complete: bool
    coverage: JSONObject
    encoded: bytes  # see `encode_ids`; `state_ids` decodes it
    endpoint: str = ""
    sha256: str = ""  # of the day's file, observations/<day>.json.gz
    calls: int | None = None  # None: recorded before the calls were

    def state_ids(self) -> list[int]:
        return decode_ids(self.encoded)


@dataclass(frozen=True)
class Observations:
    """The stored days of a range, oldest first, and every state they may refer to."""

    days: tuple[ObservedDay, ...]
    states: Mapping[int, StateRow]


def observation_of(
    inventory: Inventory, snapshot_sha256: str, day: date, source: str, recorded_at: str
) -> ObservationRecord:
    """What the history keeps of a snapshot (its inventory) as the observation of `day`."""
    return ObservationRecord(
        day=day,
        taken_at=inventory.meta.taken_at,
        endpoint=inventory.meta.endpoint,
        source=source,
        snapshot_sha256=snapshot_sha256,
        coverage=inventory.coverage.to_json(),
        recorded_at=recorded_at,
        vms=vm_states(inventory),
        calls=inventory.meta.calls,
        services=frozenset(inventory.services),
    )


def state_row(key: VmKey, vm: VmState) -> StateRow:
    return (*key, vm.name, vm.guest_os_family, vm.license, vm.power_state, vm.vcpus)


def encode_ids(ids: Iterable[int]) -> bytes:
    """Sorted ids as zlib-compressed little-endian uint32 deltas."""
    ordered = sorted(ids)
    deltas = array("I", (b - a for a, b in zip([0, *ordered], ordered, strict=False)))
    if deltas.itemsize != 4:  # pragma: no cover - every platform we run on has 4-byte "I"
        raise RuntimeError("array('I') is not 32-bit here")
    if array("I", [1]).tobytes() != b"\x01\x00\x00\x00":  # pragma: no cover - big-endian
        deltas.byteswap()
    return zlib.compress(deltas.tobytes(), 6)


def decode_ids(encoded: bytes) -> list[int]:
    deltas = array("I")
    deltas.frombytes(zlib.decompress(encoded))
    if array("I", [1]).tobytes() != b"\x01\x00\x00\x00":  # pragma: no cover - big-endian
        deltas.byteswap()
    return list(accumulate(deltas))


def days_between(first: date, last: date) -> Sequence[str]:
    """Every ISO day from `first` to `last`, both included."""
    return [
        date.fromordinal(day).isoformat() for day in range(first.toordinal(), last.toordinal() + 1)
    ]
