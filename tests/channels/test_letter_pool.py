"""Letters through one pool of worker processes per dispatch, their stylesheet parsed
once per process: the same letters, the same print batches, the same refusals."""

from __future__ import annotations

import datetime as dt
import io
import multiprocessing
from pathlib import Path

from pypdf import PdfReader

from relance.channels.dispatch import dispatch
from relance.channels.letter import render_pdf_bytes
from relance.channels.templates import default_templates_dir
from relance.store.db import Store
from tests.channels.factory import (
    TODAY,
    add_action,
    add_creditor,
    add_debtor,
    add_invoice,
    make_workspace,
)


def _book(store: Store, count: int) -> None:
    with store.transaction() as s:
        creditor = add_creditor(s, penalty_rate="15")
        for k in range(count):
            debtor = add_debtor(s, creditor, f"P-{k}")
            invoice = add_invoice(s, debtor, f"FP-{k}", 10_000 * (k + 1),
                                  TODAY - dt.timedelta(days=40))
            add_action(s, debtor, [invoice], template="mise_en_demeure")


def _pages(pdf: bytes) -> list[tuple[str, bytes]]:
    """Each page's text and drawing instructions."""
    pages = PdfReader(io.BytesIO(pdf)).pages
    return [(page.extract_text(), page.get_contents().get_data())  # type: ignore[union-attr]
            for page in pages]


def test_one_pool_renders_every_group_of_a_dispatch(sqlite_store: Store,
                                                    tmp_path: Path) -> None:
    _book(sqlite_store, 5)
    workspace = make_workspace(tmp_path / "ws", {
        "dispatch": {"letter_processes": 2, "batch_size": 2}})
    workers: set[int] = set()

    def rendered(done: int, total: int) -> None:
        workers.update(child.pid or 0 for child in multiprocessing.active_children())

    report = dispatch(sqlite_store, workspace, today=TODAY, progress=rendered)
    assert report.sent == 5 and len(report.batches) == 3
    # Three groups, two of them rendered in worker processes: the same two workers.
    assert 1 <= len(workers) <= 2
    batched = [PdfReader(batch) for batch in report.batches]
    text = "".join(page.extract_text() for reader in batched for page in reader.pages)
    assert all(text.count(f"FP-{k} ") == 1 for k in range(5)), text
    assert not multiprocessing.active_children()  # the pool ends with the dispatch


def test_a_shared_stylesheet_renders_the_letter_it_replaces(tmp_path: Path) -> None:
    fonts = (default_templates_dir() / "_base" / "fonts").as_uri()
    css = (f'@font-face {{ font-family: "L"; src: url("{fonts}/DejaVuSans-Latin.ttf"); }}\n'
           '@page { size: A4; margin: 20mm; @bottom-right { content: counter(page) } }\n'
           'body { font-family: "L"; font-size: 11pt; } p.due { font-weight: bold; }')
    body = ('<p class="due" style="color: #900">Reste dû : 1 234,56 €</p>'
            + "<p>Madame, Monsieur, nous vous prions de régler.</p>" * 80)
    roots = [default_templates_dir()]

    def letter(style: str) -> bytes:
        html = f"<html><head><style>{style}</style></head><body>{body}</body></html>"
        return render_pdf_bytes(html, base_dir=tmp_path, roots=roots)[0]

    shared = letter(css)
    # A comment that names !important keeps the stylesheet inside the document.
    inline = letter(css + "\n/* !important */")
    assert len(_pages(shared)) >= 2
    assert _pages(shared) == _pages(inline)
    assert _pages(letter(css)) == _pages(shared)  # the second use of the parsed sheet


def test_a_url_refused_in_a_shared_stylesheet_is_reported_on_every_letter(
        tmp_path: Path) -> None:
    html = ('<html><head><style>@font-face { font-family: "X"; '
            'src: url("http://127.0.0.1:9/x.ttf"); } body { font-family: "X"; }</style>'
            "</head><body><p>Bonjour</p></body></html>")
    for _ in range(2):
        _pdf, pages, refused = render_pdf_bytes(html, base_dir=tmp_path,
                                                roots=[default_templates_dir()])
        assert pages == 1
        assert any("http://127.0.0.1:9/x.ttf" in url for url in refused), refused


LETTERS_IN_A_FRESH_PROCESS = """
import sys
from pathlib import Path
from relance.channels.dispatch import dispatch
from relance.store.db import open_store
from tests.channels.factory import TODAY, make_workspace
from tests.channels.test_letter_pool import _book

root = Path(sys.argv[1])
store = open_store(f"sqlite:///{root / 'book.sqlite'}")
_book(store, 4)
workspace = make_workspace(root / "ws", {"dispatch": {"letter_processes": 2}})
report = dispatch(store, workspace, today=TODAY)
print(report.sent, len(report.batches), "weasyprint" in sys.modules)
"""


def test_the_dispatching_process_leaves_weasyprint_to_its_workers(tmp_path: Path) -> None:
    """The workers load WeasyPrint (about a second and its memory); the dispatcher,
    a long-running scheduler among them, never loads it itself."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", LETTERS_IN_A_FRESH_PROCESS, str(tmp_path)],
                          capture_output=True, text=True, timeout=300, check=False,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["4", "1", "False"], done.stdout + done.stderr
