"""A run that reads nothing, or less than the run it would replace, keeps the good run."""

from __future__ import annotations

import http.server
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from audit.cli.main import main
from audit.simulator.fleet import Fleet
from audit.simulator.server import Simulator
from tests.helpers.credentials import ovh_credentials  # noqa: F401  (autouse: credentials, cwd a tmp folder)

PERIOD = "2026-11"
UNREACHABLE = "http://127.0.0.1:9/1.0"  # the discard port: nothing listens there


def run(url: str, out: Path, *extra: str) -> int:
    config = Path.cwd() / "fast-retries.toml"
    config.write_text("[audit]\nmax_retries = 1\nretry_base_delay_s = 0.01\n")
    args = ["run", "--endpoint", url, "--out", str(out), "--period", PERIOD, "--config"]
    return main([*args, str(config), "--max-rps", "1000", "--fail-on", "never", *extra])


def folder_state(out: Path) -> dict[str, bytes]:
    """Every file under the period folder, and the period's history row."""
    state = {
        path.relative_to(out).as_posix(): path.read_bytes()
        for path in sorted((out / PERIOD).rglob("*"))
        if path.is_file()
    }
    with sqlite3.connect(out / "history.sqlite") as db:
        row = db.execute("SELECT * FROM run WHERE period = ?", (PERIOD,)).fetchall()
    state["<history row>"] = repr(row).encode()
    return state


@pytest.fixture
def complete_fleet(fleet_data: dict[str, Any]) -> Fleet:
    return Fleet.from_json({**fleet_data, "faults": []}, "fleet_data")


@pytest.fixture
def good_run(complete_fleet: Fleet, tmp_path: Path) -> Path:
    out = tmp_path / "out"
    with Simulator(complete_fleet) as sim:
        assert run(sim.url, out) == 0
    return out


class _Html(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<!doctype html><html><body>Sign in</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def html_endpoint() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Html)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/1.0"
    server.shutdown()
    server.server_close()


@pytest.mark.slow
def test_unreachable_endpoint_writes_nothing_over_a_good_run(
    good_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = folder_state(good_run)
    capsys.readouterr()
    assert run(UNREACHABLE, good_run) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nothing was read" in err[0] and "nothing written" in err[0]
    assert folder_state(good_run) == before


def test_unreachable_endpoint_without_a_previous_run_writes_no_folder(tmp_path: Path) -> None:
    assert run(UNREACHABLE, tmp_path / "out") == 3
    assert not (tmp_path / "out" / PERIOD).exists()


@pytest.mark.slow
def test_endpoint_answering_html_is_not_the_api(
    good_run: Path, html_endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = folder_state(good_run)
    capsys.readouterr()
    assert run(html_endpoint, good_run) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "/auth/time" in err[0] and "not the OVHcloud API" in err[0]
    assert folder_state(good_run) == before


@pytest.mark.slow
def test_incomplete_run_never_replaces_a_complete_one(
    good_run: Path, fleet_data: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    before = folder_state(good_run)
    capsys.readouterr()
    with Simulator(Fleet.from_json(fleet_data, "fleet_data")) as sim:  # one datacenter fails
        assert run(sim.url, good_run) == 3
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "--replace-incomplete" in err[0], err
        assert folder_state(good_run) == before

        assert run(sim.url, good_run, "--replace-incomplete") == 3
    assert folder_state(good_run) != before
    html = (good_run / PERIOD / "report.html").read_text(encoding="utf-8")
    assert "Coverage INCOMPLETE" in html
    summary = openpyxl.load_workbook(good_run / PERIOD / "report.xlsx", read_only=True)["Summary"]
    cells = [str(cell) for row in summary.iter_rows(values_only=True) for cell in row if cell]
    assert any(cell.startswith("INCOMPLETE") for cell in cells)


@pytest.mark.slow
def test_incomplete_run_may_replace_an_incomplete_one(
    fleet_data: dict[str, Any], tmp_path: Path
) -> None:
    with Simulator(Fleet.from_json(fleet_data, "fleet_data")) as sim:
        assert run(sim.url, tmp_path) == 3
        assert run(sim.url, tmp_path) == 3
    assert (tmp_path / PERIOD / "findings.json").is_file()


@pytest.mark.parametrize("command", ["run", "observe"])
def test_an_output_folder_that_cannot_be_written_is_refused_before_collecting(
    simulator: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    """Under a regular file (a typo), or read-only: found before the first API call."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    out = blocker / "out"
    code = main([command, "--endpoint", simulator.url, "--out", str(out)])
    assert code == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [f"ovh-license-audit: error: --out {out}: {blocker} is not a folder"]
    assert simulator.stats.requests == 0


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder")
def test_a_read_only_output_folder_is_refused_before_collecting(
    simulator: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir(mode=0o555)
    assert main(["run", "--endpoint", simulator.url, "--out", str(out / "sub")]) == 2
    assert "cannot write in" in capsys.readouterr().err
    assert simulator.stats.requests == 0


def test_a_fifo_as_exceptions_register_is_refused_not_waited_for(
    simulator: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = tmp_path / "register.csv"
    os.mkfifo(fifo)  # nobody writes to it: opening it would block for ever
    code = main(
        [
            "run",
            "--endpoint",
            simulator.url,
            "--out",
            str(tmp_path / "out"),
            "--exceptions",
            str(fifo),
        ]
    )
    assert code == 2
    assert capsys.readouterr().err == (
        f"ovh-license-audit: error: --exceptions {fifo}: not a regular file\n"
    )
    assert simulator.stats.requests == 0
