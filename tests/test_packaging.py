"""The install: the Makefile's .venv is rebuilt rather than reused when it cannot be trusted, and
the wheel carries everything the tool needs (its templates) to run from any folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from tests.helpers.external import require_or_skip

ROOT = Path(__file__).resolve().parent.parent

# A stand-in interpreter for the Makefile: `-c` prints its identity (what the Makefile records),
# `-m venv DIR` makes a .venv whose pip succeeds or fails as FAKE_PIP says. Every venv made and
# every pip call is logged, so the test sees what `make` rebuilt.
FAKE_PYTHON = """#!/bin/sh
if [ "$1" = "-c" ]; then echo "$0 3 11 0"; exit 0; fi
if [ "$1 $2" = "-m venv" ]; then
    echo "venv $0" >> "$FAKE_LOG"
    mkdir -p "$3/bin"
    printf '#!/bin/sh\\necho pip "$@" >> "%s"\\nexit ${FAKE_PIP:-0}\\n' "$FAKE_LOG" > "$3/bin/pip"
    chmod +x "$3/bin/pip"
    exit 0
fi
exit 2
"""


class FakeCheckout:
    """The Makefile and a pyproject.toml in a folder of their own, with two fake interpreters."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.log = folder / "make.log"
        shutil.copy(ROOT / "Makefile", folder / "Makefile")
        (folder / "pyproject.toml").write_text("[project]\nname = 'x'\n", encoding="utf-8")
        for name in ("python-a", "python-b"):
            path = folder / name
            path.write_text(FAKE_PYTHON, encoding="utf-8")
            path.chmod(0o755)

    @property
    def venv(self) -> Path:
        return self.folder / ".venv"

    def make(self, python: str, pip_exit: int = 0) -> subprocess.CompletedProcess[str]:
        """`make .venv/.installed` with PYTHON set, as `make test PYTHON=...` would start."""
        return subprocess.run(
            ["make", "--no-print-directory", ".venv/.installed", f"PYTHON={python}"],
            cwd=self.folder,
            env={**os.environ, "FAKE_LOG": str(self.log), "FAKE_PIP": str(pip_exit)},
            capture_output=True,
            text=True,
            check=False,
        )

    def venvs_made(self) -> list[str]:
        if not self.log.exists():
            return []
        lines = self.log.read_text(encoding="utf-8").splitlines()
        return [Path(line.split()[1]).name for line in lines if line.startswith("venv ")]


@pytest.fixture
def checkout(tmp_path: Path) -> FakeCheckout:
    if shutil.which("make") is None:
        require_or_skip("make is missing")
    return FakeCheckout(tmp_path)


def test_makefile_reuses_a_good_venv_and_rebuilds_it_for_another_interpreter(
    checkout: FakeCheckout,
) -> None:
    python_a, python_b = str(checkout.folder / "python-a"), str(checkout.folder / "python-b")
    assert checkout.make(python_a).returncode == 0
    assert checkout.make(python_a).returncode == 0
    assert checkout.venvs_made() == ["python-a"]  # reused while nothing changed
    assert (checkout.venv / ".installed").read_text(encoding="utf-8").startswith(python_a)

    assert checkout.make(python_b).returncode == 0
    assert checkout.venvs_made() == ["python-a", "python-b"]
    assert (checkout.venv / ".installed").read_text(encoding="utf-8").startswith(python_b)


def test_makefile_removes_a_venv_whose_install_failed_and_rebuilds_it(
    checkout: FakeCheckout,
) -> None:
    python_a = str(checkout.folder / "python-a")
    failed = checkout.make(python_a, pip_exit=1)
    assert failed.returncode != 0
    assert "installing into .venv failed; .venv was removed" in failed.stderr
    assert not checkout.venv.exists()

    assert checkout.make(python_a).returncode == 0
    assert checkout.venvs_made() == ["python-a", "python-a"]


def test_makefile_rebuilds_a_venv_left_without_its_stamp(checkout: FakeCheckout) -> None:
    """A killed install leaves .venv without the stamp: never trusted."""
    (checkout.venv / "bin").mkdir(parents=True)
    (checkout.venv / "half-installed").write_text("", encoding="utf-8")
    assert checkout.make(str(checkout.folder / "python-a")).returncode == 0
    assert not (checkout.venv / "half-installed").exists()
    assert checkout.venvs_made() == ["python-a"]


def test_makefile_keeps_the_venv_when_the_interpreter_does_not_run(
    checkout: FakeCheckout,
) -> None:
    assert checkout.make(str(checkout.folder / "python-a")).returncode == 0
    missing = checkout.make(str(checkout.folder / "python-none"))
    assert missing.returncode != 0
    assert "cannot run " in missing.stderr and "python-none" in missing.stderr
    assert (checkout.venv / ".installed").exists()


# What the wheel is built from: the files pyproject.toml names, copied so that the build leaves
# nothing in the checkout.
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "audit", "templates")


def run(*argv: str | Path, cwd: Path | None = None) -> str:
    """A command's stdout; it must succeed. PYTHONPATH never leads back to the checkout."""
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    result = subprocess.run(
        [str(arg) for arg in argv], cwd=cwd, env=environment, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_wheel_installs_into_a_fresh_venv_and_runs_the_demo_from_any_folder(
    tmp_path: Path,
) -> None:
    """Built with pip (`pip wheel --no-deps`), installed with its dependencies into a venv of
    its own (from the pip cache when it has them), run from a folder that holds no checkout:
    the templates come from the wheel."""
    source = tmp_path / "source"
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            ignore = shutil.ignore_patterns("__pycache__")
            shutil.copytree(ROOT / name, source / name, ignore=ignore)
        else:
            shutil.copy(ROOT / name, source / name)
    dist = tmp_path / "dist"
    quiet = ("--quiet", "--disable-pip-version-check")
    run(sys.executable, "-m", "pip", "wheel", *quiet, "--no-deps", "-w", dist, source)
    (wheel,) = dist.glob("ovh_license_audit-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "audit/templates/report.html.j2" in names
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)

    fresh = tmp_path / "fresh"
    venv.create(fresh, with_pip=True)
    run(fresh / "bin/python", "-m", "pip", "install", *quiet, wheel)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    imported = run(fresh / "bin/python", "-c", "import audit; print(audit.__file__)", cwd=elsewhere)
    assert Path(imported.strip()).is_relative_to(fresh)
    tool = fresh / "bin/ovh-license-audit"
    assert run(tool, "--version", cwd=elsewhere).startswith("ovh-license-audit ")

    out = tmp_path / "demo"
    run(tool, "demo", "--vms", "40", "--out", out, cwd=elsewhere)
    reports = sorted(out.glob("*/report.html"))
    assert len(reports) == 2  # last month and this month
    assert all("</html>" in report.read_text(encoding="utf-8") for report in reports)
    assert len(sorted(out.glob("*/report.xlsx"))) == 2
    assert not list(elsewhere.iterdir())  # nothing written where it was started
