"""Deliver a run folder by mail: the one step `run --mail`, `mail RUN_DIR` and the demo share."""

from __future__ import annotations

from pathlib import Path

from audit.config.mail import MailSettings, address_of
from audit.config.settings import Config
from audit.deliver.digest import digest_from_run_dir
from audit.deliver.message import build_message
from audit.deliver.smtp import send
from audit.history.publish import mend_folder
from audit.job import MANIFEST_FILE, check_inputs
from audit.support.errors import InputError
from audit.support.fsutil import refuse_links


def mail_settings_for(config: Config, option: str) -> MailSettings:
    """The [mail] section, checked as far as it can be without the server: called before a
    run reads the API, so a missing section or password costs nothing."""
    if config.mail is None:
        raise InputError(f"{option} needs a [mail] section in the --config file")
    config.mail.check_ready()
    return config.mail


def deliver(run_dir: Path, settings: MailSettings, to: tuple[str, ...] = ()) -> str:
    """Mail the run folder; returns the line that says where it went. The verdict is the
    run's own, against the `fail_on` it recorded in findings.json. Every file the manifest
    lists must be what the run wrote: an auditor receives what the API said, not an edit;
    a file the manifest does not list is never attached, and a link in the folder is refused.
    What a killed run committed but did not move into place is mended first."""
    mend_folder(run_dir.parent)
    refuse_links(run_dir)
    listed, _ = check_inputs(run_dir, set(), refused="not sent")
    digest = digest_from_run_dir(run_dir.resolve())
    message = build_message(settings, digest, to, attachable={*listed, MANIFEST_FILE})
    entries = to or settings.to + settings.cc
    send(settings, message, [address_of(entry) for entry in entries])
    recipients = ", ".join(entries)
    return (
        f"mail: {digest.period} sent to {recipients} via {settings.host} ({message['Message-ID']})"
    )
