"""Where the `ovh` client will find each credential and the endpoint, without reading a value out.

`ovh.Client` takes each setting from an `OVH_*` variable first, then from the section of its
endpoint in the ovh.conf files it reads (later files win: /etc/ovh.conf, ~/.ovh.conf,
./ovh.conf, then the file `ovh_config` names). `check` says which of those each setting comes
from, so a user sees the file or variable to fix; the values stay where they are.
"""

from __future__ import annotations

import configparser
import os
from dataclasses import dataclass
from pathlib import Path

from audit.collect.api import OVH_CONF_FILES, check_ovh_config_file, import_ovh, ovh_conf_errors

#: The settings a signed call needs, as ovh.conf spells them.
CREDENTIALS = ("application_key", "application_secret", "consumer_key")


@dataclass(frozen=True)
class Found:
    """Where one setting comes from: `where` names the variable or the file and section;
    `empty` when it is there without a value. Never the value itself."""

    name: str
    where: str | None
    empty: bool = False

    @property
    def variable(self) -> str:
        return f"OVH_{self.name.upper()}"


def ovh_conf_files(config_file: Path | None) -> tuple[Path, ...]:
    """The ovh.conf files the client reads, most important first (the last read wins)."""
    files = [Path(name).expanduser() for name in OVH_CONF_FILES]
    if config_file is not None:
        check_ovh_config_file(config_file)
        files.append(config_file)
    return tuple(reversed(files))


def locate(name: str, section: str, config_file: Path | None = None) -> Found:
    """Where `ovh` finds `name` for `section` (an endpoint, or `default` for the endpoint)."""
    variable = f"OVH_{name.upper()}"
    if variable in os.environ:
        return Found(name, variable, empty=not os.environ[variable])
    for path in ovh_conf_files(config_file):
        if not path.is_file():
            continue
        parser = configparser.RawConfigParser()
        with ovh_conf_errors(str(path)):
            parser.read(path)  # as `ovh` reads it
        if parser.has_option(section, name):
            return Found(name, f"{path} [{section}]", empty=not parser.get(section, name))
    return Found(name, None)


def credential_sources(endpoint: str, config_file: Path | None = None) -> tuple[Found, ...]:
    """Where each credential of `endpoint` (as the client registered it) comes from."""
    return tuple(locate(name, endpoint, config_file) for name in CREDENTIALS)


def endpoint_url(endpoint: str) -> str:
    """The base URL the client calls for a registered endpoint name (a URL is its own)."""
    urls: dict[str, str] = import_ovh().client.ENDPOINTS
    return urls.get(endpoint, endpoint)
