"""The monthly mail: subject, plain-text and HTML bodies, and the run's files attached.

The HTML body is rendered by jinja2 with autoescape on, inline styles and tables only (what
Outlook and phone mail apps display), and no script. Attachments are the run folder's bytes,
unchanged; what does not fit under `max_attachment_mb` stays in the run folder, and the body
says where.
"""

from __future__ import annotations

import functools
import mimetypes
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from audit.config.mail import MailSettings
from audit.deliver.digest import Digest
from audit.evaluate.signed import PositionLine, WindowsRan
from audit.render.safe_text import visible_controls
from audit.render.style import SEVERITY_COLOURS, Colour
from audit.render.summary import HeadlineFigure

MB = 1_000_000
TEMPLATE = "mail.html.j2"
# Types mimetypes may not know on every system.
_TYPES = {
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".gz": "application/gzip",
    ".py": "text/x-python",
}


@dataclass(frozen=True)
class Attachment:
    name: str  # its path inside the run folder
    size: int
    content_type: str


@dataclass(frozen=True)
class LeftOut:
    name: str
    reason: str  # "12.3 MB, over the 10 MB limit" or "not in the run folder"
    in_run_folder: bool = True


@dataclass(frozen=True)
class Selection:
    attached: tuple[Attachment, ...]
    left_out: tuple[LeftOut, ...]


def content_type(name: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix in _TYPES:
        return _TYPES[suffix]
    guessed, encoding = mimetypes.guess_type(name)
    return guessed if guessed is not None and encoding is None else "application/octet-stream"


def size_text(size: int) -> str:
    return f"{size / MB:.1f} MB" if size >= MB else f"{max(1, round(size / 1000))} kB"


def select_attachments(
    run_dir: Path,
    names: tuple[str, ...],
    max_mb: float,
    attachable: Collection[str] | None = None,
) -> Selection:
    """The files to attach, in the configured order, while their sizes (before encoding) add
    up to at most `max_mb`; a file that does not fit is left out and a smaller one after it
    may still go. With `attachable` (what the run's manifest vouches for), a file added to
    the folder since the run is never attached."""
    budget = int(max_mb * MB)
    attached: list[Attachment] = []
    left_out: list[LeftOut] = []
    for name in names:
        path = run_dir / name
        if not path.is_file():
            left_out.append(LeftOut(name, "not in the run folder", in_run_folder=False))
            continue
        if attachable is not None and name not in attachable:
            reason = "not listed in the run's manifest.json, so not vouched for"
            left_out.append(LeftOut(name, reason, in_run_folder=False))
            continue
        size = path.stat().st_size
        if size > budget:
            left_out.append(LeftOut(name, f"{size_text(size)}, over the {max_mb:g} MB limit"))
            continue
        budget -= size
        attached.append(Attachment(name, size, content_type(name)))
    return Selection(tuple(attached), tuple(left_out))


def shown(text: str) -> str:
    """Text of the run (from the API, the configuration, the file system) as a mail shows
    it: control characters, bidirectional and zero-width ones as visible escapes, and line
    breaks too (a value never starts a line of its own)."""
    return visible_controls(text).translate(_BREAKS)


_BREAKS = {ord("\t"): "\\t", ord("\n"): "\\n", ord("\r"): "\\r"}


def _finalize(value: object) -> object:
    """Every `{{ value }}` of the HTML body through `shown` (markup the template builds on
    purpose is left alone)."""
    return shown(value) if isinstance(value, str) and not isinstance(value, Markup) else value


@functools.cache
def _environment() -> Environment:
    """One environment per process: the mail template compiles once."""
    return Environment(
        loader=PackageLoader("audit.templates", "."),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_finalize,
    )


# The reports' tones (templates/report.css) as inline colours: mail readers drop <style>.
TONES: Mapping[str, Colour] = {
    "good": Colour("#2E7D32", "#E6F4E7"),
    "warn": SEVERITY_COLOURS["medium"],
    "bad": SEVERITY_COLOURS["high"],
    "neutral": Colour("#1B2633", "#F3F5F8"),
}


def _figure_line(figure: HeadlineFigure) -> str:
    change = figure.change_text
    return f"{figure.label}: {figure.text}" + ("" if change is None else f" ({change})")


def headline_title(digest: Digest) -> str:
    """`Headline figures`, with the period's status when it was not over or had gaps."""
    status = digest.period_status
    return "Headline figures" if status is None else f"Headline figures ({status})"


def _number(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def position_label(line: PositionLine) -> str:
    """How the mail names a line of the signed position."""
    if line.is_overall:
        return "Total, every service"
    if line.is_total:
        return f"Total, {line.service_name}"
    return f"{line.service_name}: {line.license}"


def ran_label(ran: WindowsRan) -> str:
    return "Total, every service" if ran.service_name is None else ran.service_name


def position_lines(digest: Digest) -> list[str]:
    """The signed position as aligned plain-text lines, then the Windows guests that ran."""
    lines = [
        "Licence position: what OVHcloud bills",
        f"  {digest.billing_rule}",
        f"  {'Service: licence':<56} {'Billed VMs':>10} {'Billed vCPUs':>12} {'Peak':>6} "
        f"{'At close':>8} {'vmLicensed':>10}",
    ]
    for line in digest.signed:
        lines.append(
            f"  {position_label(line):<56} {_number(line.billed_vms):>10} "
            f"{_number(line.billed_vcpus):>12} {_number(line.peak_vms):>6} "
            f"{_number(line.vms_at_close):>8} {_number(line.vmlicensed_at_close):>10}"
        )
    lines += ["", "Windows Server guests that ran this period"]
    for ran in digest.ran:
        lines.append(
            f"  {ran_label(ran)}: {ran.ran:,} ran; billed {ran.billed:,}, BYOL {ran.byol:,}, "
            f"ran unbilled {ran.unbilled:,} ({ran.unbilled_vm_days:,} VM-days), "
            f"other {ran.other:,}"
        )
    return lines


def plain_body(digest: Digest, selection: Selection) -> str:
    """The plain-text body: the same summary as the HTML one, for every mail reader."""
    whose = "" if digest.organisation is None else f", {digest.organisation}"
    lines = [
        f"Windows licence audit {digest.period}{whose}",
        "",
        f"{digest.verdict.label}: {digest.verdict.text}",
        "",
        headline_title(digest),
    ]
    for figure in digest.figures:
        lines += [f"  {_figure_line(figure)}", f"    {figure.definition}"]
    lines += ["", *position_lines(digest)]
    lines += ["", "Executive summary"]
    lines += [f"  {line.label}: {line.text}" for line in digest.summary]
    lines += ["", f"Snapshot taken: {digest.taken_at}", f"Run folder: {digest.run_dir}"]
    if selection.attached:
        lines.append(
            "Attached: "
            + ", ".join(f"{item.name} ({size_text(item.size)})" for item in selection.attached)
        )
    for item in selection.left_out:
        where = "; it is in the run folder." if item.in_run_folder else "."
        lines.append(f"Not attached: {item.name} ({item.reason}){where}")
    return "\n".join(shown(line) for line in lines) + "\n"


def html_body(digest: Digest, selection: Selection) -> str:
    template = _environment().get_template(TEMPLATE)
    return template.render(
        digest=digest,
        selection=selection,
        size_text=size_text,
        headline_title=headline_title(digest),
        tones=TONES,
        run_dir=str(digest.run_dir),
        position_label=position_label,
        ran_label=ran_label,
    )


def build_message(
    settings: MailSettings,
    digest: Digest,
    to: tuple[str, ...] = (),
    now: datetime | None = None,
    attachable: Collection[str] | None = None,
) -> EmailMessage:
    """The mail for `digest`'s run folder; `to` (from --to) replaces the configured
    recipients, cc included; only files in `attachable` are attached, when given."""
    selection = select_attachments(
        digest.run_dir, settings.attach, settings.max_attachment_mb, attachable
    )
    return compose(
        settings,
        Letter(digest.subject, plain_body(digest, selection), html_body(digest, selection)),
        digest.run_dir,
        selection,
        to,
        now,
    )


@dataclass(frozen=True)
class Letter:
    """A mail's subject and its two bodies (plain text and HTML)."""

    subject: str
    plain: str
    html: str


def compose(
    settings: MailSettings,
    letter: Letter,
    folder: Path,
    selection: Selection,
    to: tuple[str, ...] = (),
    now: datetime | None = None,
) -> EmailMessage:
    """The message: headers, both bodies, and the selected files of `folder` attached."""
    message = EmailMessage()
    message["Subject"] = shown(letter.subject)
    message["From"] = settings.sender
    message["To"] = ", ".join(to or settings.to)
    if settings.cc and not to:
        message["Cc"] = ", ".join(settings.cc)
    message["Date"] = format_datetime(now or datetime.now(UTC))
    domain = parseaddr(settings.sender)[1].rpartition("@")[2]
    message["Message-ID"] = make_msgid(domain=domain or None)
    message.set_content(letter.plain)
    message.add_alternative(letter.html, subtype="html")
    for item in selection.attached:
        maintype, _, subtype = item.content_type.partition("/")
        message.add_attachment(
            (folder / item.name).read_bytes(),
            maintype=maintype,
            subtype=subtype,
            filename=Path(item.name).name,
        )
    return message
