"""A broken or missing ovh.conf: help still works, commands fail in one line naming the file.

Importing `ovh` parses ovh.conf, and this test process has already imported it, so the
import-time cases run the CLI in a child process with a folder and HOME of their own.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from audit.cli.main import main
from audit.collect.options import endpoint_from
from audit.config.settings import load_config
from audit.simulator.api import (
    DEFAULT_APPLICATION_KEY,
    DEFAULT_APPLICATION_SECRET,
    READONLY_CONSUMER_KEY,
)
from audit.simulator.server import Simulator

SECRET = "s3cr3t-application-secret"
BROKEN = {
    "key before any section": f"application_secret={SECRET}\n".encode(),
    "unclosed section": f"[ovh-eu\napplication_secret={SECRET}\n".encode(),
    "binary": b"\x89PNG\r\n\x1a\n\xff\xfe\x00" + SECRET.encode() + b"\xc3\x28",
}


@pytest.fixture(autouse=True)
def no_ovh_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No OVH_* variable and no ovh.conf of the developer's leaks into these tests."""
    for name in list(os.environ):
        if name.startswith("OVH_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)


def python(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A fresh interpreter run from `folder`, which is also its HOME."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=folder,
        env={**os.environ, "HOME": str(folder), "PYTHONPATH": str(Path(__file__).parents[1])},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.slow
def test_help_and_version_never_read_ovh_conf(tmp_path: Path) -> None:
    (tmp_path / "ovh.conf").write_bytes(BROKEN["key before any section"])
    script = textwrap.dedent(
        """
        import contextlib, io, sys
        from audit.cli.main import main
        for argv in (["--help"], ["--version"], ["run", "--help"], ["snapshot", "--help"],
                     ["simulate", "--help"], ["demo", "--help"], ["remediate", "--help"]):
            with contextlib.redirect_stdout(io.StringIO()):
                try:
                    main(argv)
                except SystemExit as exc:
                    assert exc.code == 0, (argv, exc.code)
        assert "ovh" not in sys.modules, "building the parser imported ovh"
        print("ok")
        """
    )
    done = python(tmp_path, "-c", script)
    assert (done.returncode, done.stdout.strip(), done.stderr) == (0, "ok", "")


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_broken_ovh_conf_is_one_line_naming_the_file(tmp_path: Path, kind: str) -> None:
    (tmp_path / "ovh.conf").write_bytes(BROKEN[kind])
    done = python(tmp_path, "-m", "audit", "snapshot", "--endpoint", "ovh-eu", "--out", "s.json.gz")
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert "ovh.conf: not a valid ovh.conf" in lines[0]
    assert SECRET not in done.stderr + done.stdout
    assert not (tmp_path / "s.json.gz").exists()


def write_config(folder: Path, ovh_config: str) -> Path:
    config = folder / "audit.toml"
    config.write_text(f'[audit]\novh_config = "{ovh_config}"\nmax_retries = 0\n')
    return config


def args_for(config: Path) -> argparse.Namespace:
    return argparse.Namespace(endpoint=None, config=config)


@pytest.mark.slow
def test_ovh_config_file_gives_the_endpoint(tmp_path: Path, simulator: Simulator) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "good.conf").write_text(
        f"[default]\nendpoint={simulator.url}\n\n[{simulator.url}]\n"
        f"application_key={DEFAULT_APPLICATION_KEY}\n"
        f"application_secret={DEFAULT_APPLICATION_SECRET}\n"
        f"consumer_key={READONLY_CONSUMER_KEY}\n"
    )
    config = write_config(tmp_path / "conf", "good.conf")
    assert endpoint_from(args_for(config), load_config(config)) == simulator.url
    out = tmp_path / "s.json.gz"
    code = main(["snapshot", "--config", str(config), "--out", str(out), "--max-rps", "1000"])
    assert code == 3  # the hand-written fleet has one failing datacenter
    assert out.exists()


@pytest.mark.parametrize("endpoint", [[], ["--endpoint", "ovh-eu"]])
def test_missing_ovh_config_file_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], endpoint: list[str]
) -> None:
    config = write_config(tmp_path, "missing.conf")
    code = main(["snapshot", "--config", str(config), "--out", "s.json.gz", *endpoint])
    assert code == 2
    error = capsys.readouterr().err.strip()
    assert (
        error == f"ovh-license-audit: error: {tmp_path / 'missing.conf'}: ovh_config file not found"
    )


def test_broken_ovh_config_file_is_named_without_its_content(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bad.conf").write_bytes(BROKEN["key before any section"])
    config = write_config(tmp_path, "bad.conf")
    code = main(["snapshot", "--config", str(config), "--out", "s.json.gz"])
    assert code == 2
    error = capsys.readouterr().err
    assert f"{tmp_path / 'bad.conf'}: not a valid ovh.conf" in error
    assert SECRET not in error
    assert len(error.splitlines()) == 1
