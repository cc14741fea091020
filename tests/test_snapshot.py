"""Snapshot file: deterministic bytes, round trip, and damaged or foreign files refused."""

import gzip
import json
from pathlib import Path

import pytest

from audit.model.snapshot import (
    Coverage,
    DatacenterSnapshot,
    Failure,
    Scope,
    ServiceSnapshot,
    Snapshot,
    SnapshotMeta,
    encode_snapshot,
    read_snapshot,
    write_snapshot,
)
from audit.support.errors import InputError
from tests.helpers.vms import api_vm


def sample_snapshot() -> Snapshot:
    vm = api_vm(1, None, None, name='=HYPERLINK("x")\n<é>')
    return Snapshot(
        meta=SnapshotMeta(taken_at="2026-11-01T00:00:00Z", endpoint="ovh-eu", tool_version="1"),
        services=(
            ServiceSnapshot(
                "pcc-1",
                {"serviceName": "pcc-1"},
                (DatacenterSnapshot(1, {"datacenterId": 1}, (1, 2), (vm,), None),),
            ),
        ),
        coverage=Coverage(
            services_listed=1,
            services_read=1,
            datacenters_listed=1,
            datacenters_read=0,
            vms_listed=2,
            vms_fetched=1,
            failures=(Failure(Scope.VM, "/dedicatedCloud/pcc-1/datacenter/1/vm/2", "HTTP 500"),),
        ),
    )


def test_round_trip_keeps_content_and_digest(tmp_path: Path) -> None:
    snapshot = sample_snapshot()
    digest = write_snapshot(snapshot, tmp_path / "s.json.gz")
    loaded, loaded_digest = read_snapshot(tmp_path / "s.json.gz")
    assert loaded == snapshot
    assert loaded_digest == digest
    assert not loaded.coverage.complete
    assert loaded.coverage.vms_failed == 1


def test_encoding_is_deterministic() -> None:
    assert encode_snapshot(sample_snapshot()) == encode_snapshot(sample_snapshot())


def test_truncated_file_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "s.json.gz"
    write_snapshot(sample_snapshot(), path)
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(InputError, match=r"s\.json\.gz: not a readable snapshot"):
        read_snapshot(path)


def test_foreign_json_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "other.json.gz"
    path.write_bytes(gzip.compress(json.dumps({"hello": 1}).encode()))
    with pytest.raises(InputError, match="not an ovh-license-audit snapshot"):
        read_snapshot(path)


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read snapshot"):
        read_snapshot(tmp_path / "absent.json.gz")
