"""[remediation] editions are checked against the licence catalogue when the config loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.cli.main import main
from audit.config.settings import load_config
from audit.support.errors import InputError


def config_with(tmp_path: Path, remediation: str) -> Path:
    path = tmp_path / "audit.toml"
    path.write_text(f"[remediation]\n{remediation}\n")
    return path


@pytest.mark.parametrize(
    ("remediation", "message"),
    [
        (
            'default_edition = "Standrad"',
            "remediation.default_edition: 'Standrad' is not an edition setLicense accepts",
        ),
        (
            'editions = { "2099" = "Standard" }',
            "remediation.editions: '2099' is not a Windows version setLicense accepts",
        ),
        (
            'editions = { "2016" = "Datacenter Core" }',
            "remediation.editions.2016: 'Datacenter Core' is not an edition setLicense accepts "
            "for Windows Server 2016",
        ),
        (
            'services = { "pcc-1" = { default = "Datacentre" } }',
            "remediation.services.pcc-1.default: 'Datacentre' is not an edition setLicense accepts",
        ),
        (
            'services = { "pcc-1" = { "2012" = "Standard" } }',
            "remediation.services.pcc-1: '2012' is not a Windows version setLicense accepts",
        ),
        (
            'services = { "pcc-1" = { "2019" = "standard" } }',
            "remediation.services.pcc-1.2019: 'standard' is not an edition setLicense accepts "
            "for Windows Server 2019",
        ),
    ],
)
def test_unknown_editions_and_versions_are_refused(
    tmp_path: Path, remediation: str, message: str
) -> None:
    path = config_with(tmp_path, remediation)
    with pytest.raises(InputError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}: {message}")
    assert "\n" not in str(caught.value)


def test_catalogue_editions_are_accepted(tmp_path: Path) -> None:
    path = config_with(
        tmp_path,
        'default_edition = "Standard SQL2019 Standard"\n'
        'editions = { "2022" = "Datacenter", "2016" = "Standard SQL2016 Web" }\n'
        'services = { "pcc-1" = { "2019" = "Standard Core", default = "Datacenter Core" } }',
    )
    remediation = load_config(path).remediation
    assert remediation.edition_for("pcc-1", "2016") == "Datacenter Core"
    assert remediation.edition_for("pcc-2", "2016") == "Standard SQL2016 Web"
    assert remediation.edition_for("pcc-2", "2025") == "Standard SQL2019 Standard"


def test_run_stops_before_collecting(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = config_with(tmp_path, 'default_edition = "Standrad"')
    code = main(["run", "--config", str(path), "--out", str(tmp_path / "out")])
    assert code == 2
    assert capsys.readouterr().err.startswith(
        f"ovh-license-audit: error: {path}: remediation.default_edition: 'Standrad'"
    )
    assert not (tmp_path / "out").exists()
