"""`run --accounts`: two simulators with their own keys and fleets, one process per account.

Real processes (`python -m audit run`) and the real `ovh` client over HTTP, so these are slow.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from audit.cli.main import main
from audit.rollup import launch
from audit.simulator.api import SimulatorConfig
from audit.simulator.fleet import Fleet
from audit.simulator.server import Simulator
from tests.helpers.vms import PLACED, api_vm

PERIOD = "2026-11"
ALPHA_KEYS = {
    "OVH_APPLICATION_KEY": "alpha-app-key",
    "OVH_APPLICATION_SECRET": "alpha-app-SECRET-1",
    "OVH_CONSUMER_KEY": "alpha-ck-SECRET-2",
}
BETA_KEYS = {
    "OVH_APPLICATION_KEY": "beta-app-key",
    "OVH_APPLICATION_SECRET": "beta-app-SECRET-3",
    "OVH_CONSUMER_KEY": "beta-ck-SECRET-4",
}
PARENT_KEYS = {
    "OVH_APPLICATION_KEY": "parent-app-key",
    "OVH_APPLICATION_SECRET": "parent-SECRET-5",
    "OVH_CONSUMER_KEY": "parent-ck-SECRET-6",
    "OVH_ENDPOINT": "ovh-ca",
}
SECRETS = [
    value
    for keys in (ALPHA_KEYS, BETA_KEYS, PARENT_KEYS)
    for name, value in keys.items()
    if name != "OVH_ENDPOINT"
]

pytestmark = pytest.mark.slow


def fleet(service: str, vms: list[dict[str, Any]]) -> Fleet:
    data = {
        "services": [
            {
                "serviceName": service,
                "datacenters": [{"datacenterId": 1, "name": f"{service}_dc1", "vms": vms}],
            }
        ]
    }
    return Fleet.from_json(data, service)


ALPHA_FLEET = [
    api_vm(101, "windows2019srv_64Guest", None, name="alpha-sql", **PLACED),
    api_vm(102, "debian12_64Guest", "windows 2019 Standard", name="alpha-web", **PLACED),
    api_vm(103, "windows2019srv_64Guest", "windows 2019 Standard", name="alpha-ok", **PLACED),
]
BETA_FLEET = [
    api_vm(201, "windows9_64Guest", None, name="beta-desk", **PLACED),
    api_vm(
        202,
        "windows2019srv_64Guest",
        "windows 2019 Standard",
        power="poweredOff",
        name="beta-off",
        **PLACED,
    ),
]


def simulator(keys: dict[str, str], vms: list[dict[str, Any]], service: str) -> Simulator:
    config = SimulatorConfig(
        application_key=keys["OVH_APPLICATION_KEY"],
        application_secret=keys["OVH_APPLICATION_SECRET"],
        consumer_keys={keys["OVH_CONSUMER_KEY"]: frozenset({"GET"})},
    )
    return Simulator(fleet(service, vms), config)


@pytest.fixture
def sims() -> Iterator[tuple[Simulator, Simulator]]:
    with (
        simulator(ALPHA_KEYS, ALPHA_FLEET, "pcc-192-0-2-1") as alpha,
        simulator(BETA_KEYS, BETA_FLEET, "pcc-192-0-2-2") as beta,
    ):
        yield alpha, beta


# Records the environment it was started with, then becomes the real child (same pid).
RECORDER = """
import json, os, sys
out, command, args = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3:]
name = args[args.index("--out") + 1].rstrip("/").rsplit("/", 1)[-1]
with open(os.path.join(out, name + ".env.json"), "w") as handle:
    json.dump(dict(os.environ), handle)
os.execv(command[0], [*command, *args])
"""


@pytest.fixture
def recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each account's process writes its environment to <folder>/<name>.env.json first."""
    folder = tmp_path / "environments"
    folder.mkdir()
    script = tmp_path / "recorder.py"
    script.write_text(RECORDER)
    real = json.dumps(launch.CHILD_COMMAND)
    monkeypatch.setattr(launch, "CHILD_COMMAND", (sys.executable, str(script), str(folder), real))
    return folder


def accounts_file(tmp_path: Path, alpha: Simulator, beta: Simulator, beta_ck: str) -> Path:
    """alpha reads ALPHA_OVH_* variables; beta its section of an ovh.conf."""
    (tmp_path / "beta-ovh.conf").write_text(
        "[beta-account]\n"
        f"application_key={BETA_KEYS['OVH_APPLICATION_KEY']}\n"
        f"application_secret={BETA_KEYS['OVH_APPLICATION_SECRET']}\n"
        f"consumer_key={beta_ck}\n"
    )
    path = tmp_path / "ACCOUNTS.toml"
    path.write_text(
        f'[[account]]\nname = "alpha"\nendpoint = "{alpha.url}"\nenv_prefix = "ALPHA_"\n\n'
        f'[[account]]\nname = "beta"\nendpoint = "{beta.url}"\n'
        'ovh_config = "beta-ovh.conf"\nsection = "beta-account"\n'
    )
    return path


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The parent holds its own OVH_* keys and alpha's prefixed ones."""
    for name, value in PARENT_KEYS.items():
        monkeypatch.setenv(name, value)
    for name, value in ALPHA_KEYS.items():
        monkeypatch.setenv(f"ALPHA_{name}", value)


def run_accounts(path: Path, out: Path, *extra: str) -> int:
    return main(["run", "--accounts", str(path), "--out", str(out), "--period", PERIOD, *extra])


def findings_of(document: dict[str, Any]) -> list[dict[str, Any]]:
    return list(document["findings"])


def files(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.mark.usefixtures("environment")
def test_two_accounts_each_in_its_own_process_rolled_up(
    sims: tuple[Simulator, Simulator],
    recorded: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    alpha, beta = sims
    path = accounts_file(tmp_path, alpha, beta, BETA_KEYS["OVH_CONSUMER_KEY"])
    # An output folder called `audit` in the working folder is not the package to the children.
    monkeypatch.chdir(tmp_path)
    out = Path("audit")
    out.mkdir()  # last month's, say

    code = run_accounts(path, out, "--parallel", "2", "--fail-on", "high")

    # Each account's run folder is a single-account run's; the roll-up holds their union.
    runs = {
        name: json.loads((out / name / PERIOD / "findings.json").read_text())
        for name in ("alpha", "beta")
    }
    rollup_dir = out / "rollup" / PERIOD
    rollup = json.loads((rollup_dir / "findings.json").read_text())
    expected = [
        {"account": name, **f} for name in ("alpha", "beta") for f in runs[name]["findings"]
    ]
    assert rollup["findings"] == expected
    assert {f["vm_id"] for f in expected} >= {101, 102, 201}
    assert [(a["name"], a["status"]) for a in rollup["accounts"]] == [
        ("alpha", "complete"),
        ("beta", "complete"),
    ]
    # alpha has an open WIN-UNLICENSED (high): exit 1; beta has no high finding: exit 0.
    assert [a["exit_code"] for a in rollup["accounts"]] == [1, 0]
    assert code == 1
    alpha_entry = rollup["accounts"][0]
    assert alpha_entry["headline"]["unlicensed_server_guests"] == 1
    assert alpha_entry["licences"]["vms_at_close"] == 2
    assert alpha_entry["manifest_sha256"] == _sha256(out / "alpha" / PERIOD / "manifest.json")
    manifest = json.loads((rollup_dir / "manifest.json").read_text())
    assert manifest["accounts"][1] == {
        "name": "beta",
        "status": "complete",
        "manifest": f"beta/{PERIOD}/manifest.json",
        "manifest_sha256": _sha256(out / "beta" / PERIOD / "manifest.json"),
    }
    rows = list(csv.reader(io.StringIO((rollup_dir / "findings.csv").read_text("utf-8-sig"))))
    single = list(
        csv.reader(io.StringIO((out / "alpha" / PERIOD / "findings.csv").read_text("utf-8-sig")))
    )
    assert rows[0] == ["account", *single[0]]
    assert [row[1:] for row in rows[1:] if row[0] == "alpha"] == single[1:]
    assert len(rows) - 1 == len(expected)

    # Each child had its own keys as plain OVH_* variables, and nothing of anyone else's.
    for name, keys in (("alpha", ALPHA_KEYS), ("beta", BETA_KEYS)):
        env = json.loads((recorded / f"{name}.env.json").read_text())
        assert {k: env.get(k) for k in keys} == keys
        assert "OVH_ENDPOINT" not in env
        assert not [k for k in env if k.startswith("ALPHA_")]
        others = [s for s in SECRETS if s not in keys.values()]
        assert not [s for s in others if s in json.dumps(env)]
    # No secret is written anywhere.
    for rel, data in files(out).items():
        assert not [s for s in SECRETS if s.encode() in data], rel

    # `rollup` rebuilds the same bytes from the folders.
    before = files(rollup_dir)
    (rollup_dir / "report.html").unlink()
    (rollup_dir / "report.xlsx").write_bytes(b"damaged")
    assert main(["rollup", str(out), "--period", PERIOD]) == 1
    assert files(rollup_dir) == before


@pytest.mark.usefixtures("environment")
def test_a_failing_account_is_a_row_and_the_other_is_rolled_up(
    sims: tuple[Simulator, Simulator],
    recorded: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    alpha, beta = sims
    path = accounts_file(tmp_path, alpha, beta, "not-beta-s-key")
    out = tmp_path / "out"

    code = run_accounts(path, out, "--fail-on", "never")

    assert code == 2  # the worst: beta's credential error, over alpha's 0
    rollup_dir = out / "rollup" / PERIOD
    rollup = json.loads((rollup_dir / "findings.json").read_text())
    alpha_entry, beta_entry = rollup["accounts"]
    assert (alpha_entry["status"], alpha_entry["exit_code"]) == ("complete", 0)
    assert (beta_entry["status"], beta_entry["exit_code"]) == ("failed", 2)
    assert "refused" in beta_entry["reason"] and beta_entry["headline"] == {}
    assert not (out / "beta" / PERIOD).exists()
    alpha_run = json.loads((out / "alpha" / PERIOD / "findings.json").read_text())
    assert rollup["findings"] == [{"account": "alpha", **f} for f in alpha_run["findings"]]
    assert {f["account"] for f in rollup["findings"]} == {"alpha"}
    html = (rollup_dir / "report.html").read_text()
    assert "FAILED (exit 2)" in html and beta_entry["reason"].split(":")[0] in html
    said = capsys.readouterr()
    assert "[beta] ovh-license-audit: error:" in said.err
    assert "beta" in said.out and "failed" in said.out

    # The rebuild says the same: the failure's reason is kept in outcomes.json.
    before = files(rollup_dir)
    assert main(["rollup", str(out), "--period", PERIOD]) == 2
    assert files(rollup_dir) == before
    env = json.loads((recorded / "beta.env.json").read_text())
    assert env["OVH_CONSUMER_KEY"] == "not-beta-s-key"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# A stand-in for an account's run that records its pid and waits to be stopped.
LINGERING_CHILD = (
    "import os, sys, time\n"
    "out = sys.argv[sys.argv.index('--out') + 1]\n"
    "os.makedirs(os.path.dirname(out), exist_ok=True)\n"
    "open(out + '.pid', 'w').write(str(os.getpid()))\n"
    "time.sleep(60)\n"
)
PARENT = (
    "import signal, sys\n"
    "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
    "from audit.rollup import launch\n"
    "launch.CHILD_COMMAND = (sys.executable, '-c', sys.argv[1])\n"
    "from audit.cli.main import main\n"
    "sys.exit(main(sys.argv[2:]))\n"
)


def test_sigterm_stops_every_account_process_and_writes_no_roll_up(tmp_path: Path) -> None:
    path = tmp_path / "ACCOUNTS.toml"
    path.write_text(
        "".join(
            f'[[account]]\nname = "{name}"\nendpoint = "ovh-eu"\nenv_prefix = "X_"\n'
            for name in ("alpha", "beta")
        )
    )
    out = tmp_path / "out"
    env = {**os.environ, **{f"X_{name}": "k" for name in ALPHA_KEYS}}
    args = ["run", "--accounts", str(path), "--out", str(out), "--parallel", "2"]
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, LINGERING_CHILD, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    pids = [out / f"{name}.pid" for name in ("alpha", "beta")]
    deadline = time.monotonic() + 60
    while not all(p.is_file() and p.read_text() for p in pids):
        assert parent.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    parent.send_signal(signal.SIGTERM)
    _, err = parent.communicate(timeout=60)
    assert parent.returncode == 143
    assert err.splitlines()[-1] == "ovh-license-audit: interrupted"
    for pid_file in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(int(pid_file.read_text()), 0)
    assert not (out / "rollup").exists()
