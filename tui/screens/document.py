"""A document on the desk: a letter's pages, an e-mail with its From, To and Subject,
an SMS; what an action will send (the queue's preview) or what it sent (the case's
history). `o` opens the file in the machine's viewer, or says where it is when there
is no viewer to open it with."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import ScrollableContainer, Vertical
from textual.widgets import Static

from relance.kernel.i18n import N_, _
from relance.tui.preview import Document
from relance.tui.screens.modals import DeskModal
from relance.tui.widgets.page_image import PdfPages


def viewer_command(path: Path) -> list[str] | None:
    """How this machine opens a file for a person, or None: no opener (`xdg-open`,
    macOS's `open`), or no display for it to open a window on (a server over ssh)."""
    if sys.platform == "darwin":
        opener = shutil.which("open")
        return [opener, str(path)] if opener else None
    opener = shutil.which("xdg-open")
    if opener is None or not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return None
    return [opener, str(path)]


def open_in_viewer(path: Path) -> tuple[bool, str]:
    """Open `path` in the machine's viewer, detached from the desk (its window outlives
    the desk and writes nothing on the terminal); (opened, what to tell the operator)."""
    command = viewer_command(path)
    if command is None:
        return False, _("No viewer on this machine (no xdg-open or open, or no display): "
                        "the file is {path}").format(path=path)
    try:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   start_new_session=True)
    except OSError as exc:
        return False, _("The viewer could not start ({error}): the file is {path}").format(
            error=exc.strerror or exc, path=path)
    # Reaped in the background so that a viewer that exits leaves no zombie behind.
    threading.Thread(target=process.wait, daemon=True).start()
    return True, _("Opened {path} with {viewer}").format(path=path,
                                                        viewer=Path(command[0]).name)


class DocumentScreen(DeskModal[None]):
    """One document, scrolled in both directions (a letter's lines are kept whole)."""

    DEFAULT_CSS = """
    DocumentScreen { align: center middle; }
    DocumentScreen > Vertical {
        width: 96%; height: 94%; border: thick $accent; background: $surface;
    }
    DocumentScreen .title { text-style: bold; padding: 0 1; background: $accent 30%; }
    DocumentScreen #doc-headers { padding: 0 1; height: auto; background: $boost; }
    DocumentScreen #doc-note { padding: 0 1; color: $text-warning; height: auto; }
    DocumentScreen #doc-body { padding: 0 1; height: 1fr; }
    DocumentScreen #doc-text { height: auto; margin-bottom: 1; }
    DocumentScreen .hint { color: $text-muted; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", N_("Close")),
        Binding("o", "open_file", N_("Open in a viewer")),
    ]

    def __init__(self, document: Document) -> None:
        super().__init__()
        self.document = document

    def compose(self) -> ComposeResult:
        document = self.document
        with Vertical():
            yield Static(document.title, classes="title", markup=False)
            if document.headers:
                labels = [_("{label}:").format(label=label) for label, _v in document.headers]
                width = max(len(label) for label in labels) + 1
                headers = "\n".join(label.ljust(width) + value for label, (_l, value)
                                     in zip(labels, document.headers, strict=True))
                yield Static(headers, id="doc-headers", markup=False)
            if document.note:
                yield Static(document.note, id="doc-note", markup=False)
            with ScrollableContainer(id="doc-body"):
                if document.text:
                    yield Static(document.text, id="doc-text", markup=False)
                if document.pdf is not None:
                    yield PdfPages(document.pdf, id="doc-pages")
            hint = (_("Esc: close · o: open in a viewer") if document.file
                    else _("Esc: close"))
            yield Static(hint, classes="hint")

    def on_mount(self) -> None:
        self.query_one("#doc-body", ScrollableContainer).focus()

    def action_close(self) -> None:
        self.dismiss(None)

    def action_open_file(self) -> None:
        path = self.document.file
        if path is None:
            self.notify(_("No file to open for this document"), severity="warning")
            return
        opened, said = open_in_viewer(path)
        self.notify(said, severity="information" if opened else "warning",
                    timeout=5 if opened else 30)
