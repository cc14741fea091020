"""Mailing the roll-up: one message for every account, with the [mail] settings of --config.

The accounts table of the reports, shortened (status, the unlicensed Windows servers, the
verdict or the reason), and the roll-up's workbook and page attached, through the same SMTP
delivery as a single run's mail (audit/deliver/). Per-account mails stay possible: `mail
DIR/<name>/<period> --config <its config>`.
"""

from __future__ import annotations

from pathlib import Path

from audit.config.mail import MailSettings, address_of
from audit.deliver.message import TONES, Letter, compose, select_attachments, size_text
from audit.deliver.smtp import send
from audit.evaluate import headline
from audit.model.rollup import AccountStatus, Rollup
from audit.render.html import _environment
from audit.render.rollup_view import account_rows, status_text, summary_line, totals
from audit.run_folder import MANIFEST_FILE, check_inputs

_UNLICENSED = headline.DEFINITIONS[headline.FigureKey.UNLICENSED_SERVER_GUESTS].label


def subject(rollup: Rollup) -> str:
    """`Windows licence audit 2026-11, 3 accounts: 20 Windows servers ran unbilled (1 FAILED)`."""
    rows = account_rows(rollup)
    unlicensed = sum(
        figure.value for row in rows if row.figures and (figure := row.figures[0]) is not None
    )
    servers = "server" if unlicensed == 1 else "servers"
    failed = totals(rollup, rows).failed
    incomplete = sum(a.status is AccountStatus.INCOMPLETE for a in rollup.accounts)
    notes = [f"{failed} FAILED"] if failed else []
    notes += [f"{incomplete} INCOMPLETE"] if incomplete else []
    return (
        f"Windows licence audit {rollup.period}, {len(rollup.accounts)} accounts: "
        f"{unlicensed:,} Windows {servers} ran unbilled"
        + (f" ({', '.join(notes)})" if notes else "")
    )


def letter(rollup: Rollup, folder: Path, attached: str, left_out: list[str]) -> tuple[str, str]:
    """The plain-text body's lines, and the summary sentence."""
    lines = [f"Windows licence audit {rollup.period}, all accounts", "", summary_line(rollup), ""]
    for row in account_rows(rollup):
        entry = row.entry
        figure = row.figures[0] if row.figures else None
        count = "" if figure is None else f", {_UNLICENSED.lower()}: {figure.text}"
        lines.append(f"  {entry.name}: {status_text(entry)}{count}")
        lines.append(f"    {entry.reason or entry.verdict or ''}")
    lines += ["", f"Roll-up folder: {folder}"]
    if attached:
        lines.append(f"Attached: {attached}")
    lines += left_out
    return "\n".join(lines) + "\n", summary_line(rollup)


def deliver_rollup(folder: Path, rollup: Rollup, settings: MailSettings) -> str:
    """Mail the roll-up folder (checked against its manifest first); returns where it went."""
    listed, _ = check_inputs(folder, set(), refused="not sent")
    selection = select_attachments(
        folder, settings.attach, settings.max_attachment_mb, {*listed, MANIFEST_FILE}
    )
    attached = ", ".join(f"{a.name} ({size_text(a.size)})" for a in selection.attached)
    left_out = [
        f"Not attached: {item.name} ({item.reason})"
        + ("; it is in the roll-up folder." if item.in_run_folder else ".")
        for item in selection.left_out
    ]
    plain, summary = letter(rollup, folder, attached, left_out)
    title = subject(rollup)
    html = (
        _environment()
        .get_template("rollup_mail.html.j2")
        .render(
            subject=title,
            rollup=rollup,
            rows=account_rows(rollup),
            summary=summary,
            tone=TONES["bad" if rollup.exit_code not in (0, 1) else "neutral"],
            tones=TONES,
            status_text=status_text,
            unlicensed_label=_UNLICENSED,
            folder=str(folder),
            selection=selection,
            size_text=size_text,
        )
    )
    message = compose(settings, Letter(title, plain, html), folder, selection)
    send(settings, message, [address_of(entry) for entry in settings.to + settings.cc])
    recipients = ", ".join(settings.to + settings.cc)
    return f"mail: roll-up {rollup.period} sent to {recipients} via {settings.host}"
