"""Snapshot file: deterministic bytes, round trip, and damaged or foreign files refused."""

import gzip
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from audit.model import snapshot as snapshot_module
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


def crafted(tmp_path: Path, change: Callable[[dict[str, Any]], object], raw: bool = False) -> Path:
    """The sample snapshot's JSON, changed by `change`, gzipped (no validation on the way)."""
    data = sample_snapshot().to_json()
    result = change(data)
    text = result if isinstance(result, str) else json.dumps(data)
    path = tmp_path / "crafted.json.gz"
    path.write_bytes(gzip.compress(text.encode("utf-8", "surrogatepass")))
    return path


def dc_of(data: dict[str, Any]) -> dict[str, Any]:
    dc: dict[str, Any] = data["services"][0]["datacenters"][0]
    return dc


def deeply_nested(data: dict[str, Any]) -> str:
    dc_of(data)["vms"][0]["name"] = "DEEP"
    return json.dumps(data).replace('"DEEP"', "[" * 500 + "]" * 500)


def lone_surrogate(data: dict[str, Any]) -> str:
    dc_of(data)["vms"][0]["name"] = "SURROGATE"
    return json.dumps(data).replace('"SURROGATE"', '"x\\udc80y"')


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: dc_of(d)["vms"].__setitem__(0, "a VM"),
            "field services[0].datacenters[0].vms[0]: expected an object, got a string",
        ),
        (
            lambda d: dc_of(d).__setitem__("details", "a datacenter"),
            "field services[0].datacenters[0].details: expected an object or null, got a string",
        ),
        (
            lambda d: dc_of(d).__setitem__("vmLicensed", "a listing"),
            "field services[0].datacenters[0].vmLicensed: expected a list of objects or null, "
            "got a string",
        ),
        (
            lambda d: dc_of(d).__setitem__("vmIds", [1, "2"]),
            "field services[0].datacenters[0].vmIds[1]: expected an integer, got a string",
        ),
        (
            lambda d: d["services"].__setitem__(0, ["pcc-1"]),
            "field services[0]: expected an object, got a list",
        ),
        (
            lambda d: d["run"].__setitem__("calls", "many"),
            "field run.calls: expected an integer, got a string",
        ),
        (deeply_nested, "nested deeper than 32 levels"),
        (
            lone_surrogate,
            "field services[0].datacenters[0].vms[0].name: a lone surrogate (\\udc80)",
        ),
        (
            lambda d: d["run"].__setitem__("taken_at", "9999-12-31T23:00:00Z"),
            "field run.taken_at: '9999-12-31T23:00:00Z' is not a plausible time",
        ),
    ],
)
def test_a_crafted_snapshot_is_one_input_error_naming_the_field(
    tmp_path: Path, change: Callable[[dict[str, Any]], object], message: str
) -> None:
    path = crafted(tmp_path, change)
    with pytest.raises(InputError) as caught:
        read_snapshot(path)
    text = str(caught.value)
    assert "\n" not in text
    assert text.startswith(f"{path}: ")
    assert message in text


def test_nesting_beyond_what_the_json_parser_can_follow_is_an_input_error(
    tmp_path: Path,
) -> None:
    path = crafted(
        tmp_path, lambda d: json.dumps(d).replace("null", "[" * 200_000 + "]" * 200_000, 1)
    )
    with pytest.raises(InputError, match="nested deeper than any API answer"):
        read_snapshot(path)


def test_a_gzip_bomb_stops_at_the_decompressed_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(snapshot_module, "MAX_SNAPSHOT_BYTES", 100_000)
    path = tmp_path / "bomb.json.gz"
    path.write_bytes(gzip.compress(b" " * 5_000_000))  # 5 MB of spaces in a few kB
    assert path.stat().st_size < 10_000
    with pytest.raises(InputError, match=r"larger than 0 MB once decompressed"):
        read_snapshot(path)


def test_surrogate_pairs_are_characters_not_lone_surrogates(tmp_path: Path) -> None:
    def astral(data: dict[str, Any]) -> str:
        dc_of(data)["vms"][0]["name"] = "PAIR"
        return json.dumps(data).replace('"PAIR"', '"\\ud83d\\ude00"')

    snapshot, _ = read_snapshot(crafted(tmp_path, astral))
    assert snapshot.services[0].datacenters[0].vms[0]["name"] == "\U0001f600"


def test_a_fifo_is_refused_not_waited_for(tmp_path: Path) -> None:
    fifo = tmp_path / "snapshot.json.gz"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="not a regular file"):
        read_snapshot(fifo)
