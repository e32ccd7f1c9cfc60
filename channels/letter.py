"""Letters as PDF (WeasyPrint): A4, window-envelope address block, fonts embedded.

Resource loading is confined: the URL fetcher serves `data:` URLs and files under an
allow-list of folders (the workspace, the packaged templates and fonts), nothing else —
no network, no `file:` outside those folders, no redirects. Every refused URL is
recorded so that the operator sees it, and a PDF carrying an embedded file (WeasyPrint
turns `<link rel="attachment">` into one) is refused whole.
"""

from __future__ import annotations

import base64
import io
import logging
import os
import re
import urllib.parse
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from relance.channels.reasons import Reason, ReasonedError, of_exception, reason
from relance.kernel.errors import RelanceError
from relance.kernel.i18n import N_, _

MAX_RESOURCE_BYTES = 5_000_000
_MIME = {
    ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml",
    ".gif": "image/gif", ".webp": "image/webp", ".css": "text/css", ".ttf": "font/ttf",
    ".otf": "font/otf", ".woff": "font/woff", ".woff2": "font/woff2",
}


class _QuietFontNotice(logging.Filter):
    # WeasyPrint warns on every letter when HarfBuzz-Subset is missing; the PDF is fine
    # (fontTools subsets the fonts), so one notice per process is enough.
    seen = False

    def filter(self, record: logging.LogRecord) -> bool:
        if "HarfBuzz-Subset" not in record.getMessage():
            return True
        if _QuietFontNotice.seen:
            return False
        _QuietFontNotice.seen = True
        return True


logging.getLogger("weasyprint").addFilter(_QuietFontNotice())


class LetterProblem(ReasonedError):
    """A letter could not be turned into a safe PDF."""


# Debian and Ubuntu ship Pango in these two packages; scripts/setup.sh installs them.
PANGO_PACKAGES = ("libpango-1.0-0", "libpangoft2-1.0-0")


class PdfRendererMissing(RelanceError):
    """WeasyPrint cannot load (Pango missing): no letter can be rendered on this machine,
    so dispatch stops at the first letter instead of failing each one."""

    exit_code = 2


def require_pdf_renderer() -> None:
    """Load WeasyPrint, or raise `PdfRendererMissing` naming what to install."""
    try:
        import weasyprint  # noqa: F401  (loading it is the check)
    except OSError as exc:
        # WeasyPrint opens Pango (and GLib, HarfBuzz, Fontconfig, which Pango's packages
        # bring) with dlopen when imported; a missing library surfaces as OSError.
        raise PdfRendererMissing(_(
            "letters cannot be rendered: WeasyPrint could not load the Pango library "
            "libpango-1.0.so.0 ({problem}); install it, on Debian or Ubuntu with "
            "`sudo apt-get install {packages}`").format(
                problem=exc, packages=" ".join(PANGO_PACKAGES))) from exc
    except ImportError as exc:
        raise PdfRendererMissing(_(
            "letters cannot be rendered: WeasyPrint cannot be imported ({problem}); "
            "run `bash scripts/setup.sh` to install relance's dependencies").format(
                problem=exc)) from exc


def _fetcher_class() -> type[Any]:
    # WeasyPrint is imported lazily: it takes a second to load and the CLI should not
    # pay for it on commands that never print a letter.
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class ConfinedFetcher(URLFetcher):  # type: ignore[misc]
        """Serves `data:` and files under the allowed roots; refuses everything else."""

        def __init__(self, roots: Sequence[Path]) -> None:
            super().__init__(allowed_protocols={"file", "data"}, allow_redirects=False)
            self.roots = [r.resolve() for r in roots]
            self.refused: list[str] = []

        def fetch(self, url: str, headers: Any = None) -> Any:
            scheme = url.split(":", 1)[0].lower()
            if scheme == "data":
                return self._data(url)
            if scheme == "file":
                parsed = urllib.parse.urlsplit(url)
                if parsed.netloc not in ("", "localhost"):
                    return self._refuse(url, "remote file host")
                path = Path(urllib.parse.unquote(parsed.path)).resolve()
                if not any(path.is_relative_to(root) for root in self.roots):
                    return self._refuse(url, "outside the workspace")
                if not path.is_file() or path.stat().st_size > MAX_RESOURCE_BYTES:
                    return self._refuse(url, "missing or too large")
                mime = _MIME.get(path.suffix.lower(), "application/octet-stream")
                return URLFetcherResponse(path.as_uri(), path.read_bytes(),
                                          {"Content-Type": mime})
            return self._refuse(url, f"{scheme}: URLs are not fetched")

        def _data(self, url: str) -> Any:
            header, _comma, payload = url[5:].partition(",")
            mime = header.split(";")[0] or "text/plain"
            body = (base64.b64decode(payload) if header.endswith(";base64")
                    else urllib.parse.unquote_to_bytes(payload))
            if len(body) > MAX_RESOURCE_BYTES:
                return self._refuse(url[:60], "too large")
            return URLFetcherResponse(url, body, {"Content-Type": mime})

        def _refuse(self, url: str, why: str) -> Any:
            self.refused.append(f"{url} ({why})")
            raise ValueError(f"refused {url}: {why}")

    return ConfinedFetcher


@dataclass(frozen=True)
class PdfResult:
    path: Path
    pages: int
    refused: tuple[str, ...] = field(default=())


# A letter's stylesheet moves out of its HTML and is parsed once per worker process when
# nothing can tell the difference: one plain <style> block, no <link>, and none of the CSS
# constructs (!important, @counter-style, @layer) whose meaning depends on where the
# sheet sits in the cascade or that WeasyPrint keeps outside the stylesheet object.
_STYLE_BLOCK = re.compile(r"<style>(.*?)</style>", re.DOTALL)
_CASCADE_SENSITIVE = ("!important", "@counter-style", "@layer")
_MAX_SHARED_STYLES = 16


@dataclass(frozen=True)
class _SharedStyle:
    """A parsed stylesheet and the fonts its @font-face rules loaded, for every letter
    of a process that carries the same CSS; `refused` are the URLs its parse refused,
    reported again on each of those letters."""

    font_config: Any
    css: Any
    refused: tuple[str, ...]


_shared_styles: dict[tuple[str, str, tuple[Path, ...]], _SharedStyle] = {}


def _split_style(html: str) -> tuple[str, str] | None:
    """(the HTML without its stylesheet, the stylesheet) when it can be shared."""
    lowered = html.lower()
    if lowered.count("<style") != 1 or "<link" in lowered:
        return None
    found = _STYLE_BLOCK.search(html)
    if found is None or any(marker in found.group(1).lower() for marker in _CASCADE_SENSITIVE):
        return None
    return html[:found.start()] + html[found.end():], found.group(1)


def _shared_style(css_text: str, base_url: str, roots: Sequence[Path]) -> _SharedStyle:
    """The stylesheet parsed, with a font configuration of its own (two workspaces may
    give one family name different files), once per process."""
    key = (css_text, base_url, tuple(roots))
    shared = _shared_styles.get(key)
    if shared is None:
        from weasyprint import CSS
        from weasyprint.text.fonts import FontConfiguration

        fetcher = _fetcher_class()(roots)
        font_config = FontConfiguration()
        css = CSS(string=css_text, base_url=base_url, url_fetcher=fetcher,
                  font_config=font_config)
        shared = _SharedStyle(font_config, css, tuple(fetcher.refused))
        if len(_shared_styles) >= _MAX_SHARED_STYLES:
            _shared_styles.clear()
        _shared_styles[key] = shared
    return shared


def render_pdf_bytes(html: str, *, base_dir: Path, roots: Sequence[Path]) -> tuple[bytes, int,
                                                                                 list[str]]:
    """HTML to PDF bytes with the confined fetcher; returns (pdf, pages, refused URLs)."""
    require_pdf_renderer()
    from weasyprint import HTML

    fetcher = _fetcher_class()(roots)
    base_url = base_dir.resolve().as_uri() + "/"
    split = _split_style(html)
    refused: list[str] = []
    if split is None:
        document = HTML(string=html, base_url=base_url, url_fetcher=fetcher).render()
    else:
        # The sheet goes in as a "user" stylesheet: with no author sheet left, only the
        # user agent's below it and style attributes above it, the cascade is the same.
        body, css_text = split
        shared = _shared_style(css_text, base_url, roots)
        refused.extend(shared.refused)
        document = HTML(string=body, base_url=base_url, url_fetcher=fetcher).render(
            stylesheets=[shared.css], font_config=shared.font_config)
    pdf: bytes = document.write_pdf()
    if b"/EmbeddedFiles" in pdf or b"/EmbeddedFile" in pdf:
        raise LetterProblem(reason(N_("the letter would embed a file in its PDF: refused")))
    return pdf, len(document.pages), [*refused, *fetcher.refused]


def append_pages(pdf: bytes, appendix: bytes) -> tuple[bytes, int]:
    """`appendix`'s pages after `pdf`'s, as one PDF; returns it and its page count."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for source in (pdf, appendix):
        for page in PdfReader(io.BytesIO(source)).pages:
            writer.add_page(page)
    joined = io.BytesIO()
    writer.write(joined)
    return joined.getvalue(), len(writer.pages)


def write_pdf(html: str, out: Path, *, base_dir: Path, roots: Sequence[Path],
              appendix: bytes = b"") -> PdfResult:
    """Render and write atomically (a crash never leaves half a PDF under the final name).
    `appendix` (a PDF, such as the account statement) is added after the letter's pages,
    so that the letter, its page count and its print batch include it."""
    pdf, pages, refused = render_pdf_bytes(html, base_dir=base_dir, roots=roots)
    if appendix:
        pdf, pages = append_pages(pdf, appendix)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    tmp.write_bytes(pdf)
    os.replace(tmp, out)
    return PdfResult(out, pages, tuple(refused))


# (key, path, pages, refused URLs, error): one letter's rendering, from any process.
RenderResult = tuple[int, str, int, tuple[str, ...], Reason | None]


@dataclass(frozen=True)
class LetterJob:
    """One letter for a worker process: plain data only, so it pickles."""

    key: int
    html: str
    out: str
    base_dir: str
    roots: tuple[str, ...]
    appendix: bytes = b""  # a PDF whose pages follow the letter's (`with statement`)


def _run_job(job: LetterJob) -> RenderResult:
    try:
        result = write_pdf(job.html, Path(job.out), base_dir=Path(job.base_dir),
                           roots=[Path(r) for r in job.roots], appendix=job.appendix)
        return job.key, str(result.path), result.pages, result.refused, None
    except Exception as exc:  # reported per letter, never kills the batch
        return job.key, job.out, 0, (), of_exception(exc)


def _prepare_worker() -> None:
    # Once per worker process: WeasyPrint, Pango and Fontconfig loaded before the first
    # letter rather than during it.
    try:
        import weasyprint  # noqa: F401
        from weasyprint.text.fonts import FontConfiguration
    except (OSError, ImportError):
        return  # said once, by `_renderer_problem`, in the dispatcher's words
    FontConfiguration()


def _renderer_problem() -> str | None:
    """What stops a worker from rendering (see `require_pdf_renderer`), or None: asked
    of a worker so that the dispatching process need not load WeasyPrint itself."""
    try:
        require_pdf_renderer()
    except PdfRendererMissing as missing:
        return str(missing)
    return None



class LetterPool:
    """Worker processes kept for a whole dispatch: started at the first group that
    needs them, each keeps its parsed stylesheets and fonts from one group to the next.
    A pool whose workers died is dropped; the next group starts a new one."""

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._executor: ProcessPoolExecutor | None = None
        self._problem: Future[str | None]

    def start(self) -> None:
        """Start the workers, without waiting for them: each loads WeasyPrint, Pango and
        Fontconfig itself, so that this process never does."""
        if self._executor is None:
            self._executor = ProcessPoolExecutor(max_workers=self.processes,
                                                 initializer=_prepare_worker)
            # The first task starts every (forked) worker; a worker checks the renderer.
            self._problem = self._executor.submit(_renderer_problem)

    def require_renderer(self) -> None:
        """`require_pdf_renderer`, answered by a worker."""
        self.start()
        problem = self._problem.result()
        if problem is not None:
            raise PdfRendererMissing(problem)

    def map(self, jobs: Sequence[LetterJob]) -> Iterator[RenderResult]:
        self.start()
        assert self._executor is not None
        try:
            # One letter at a time: letters take a quarter of a second, so the exchange
            # costs nothing and both workers stay busy to the last letter.
            yield from self._executor.map(_run_job, jobs)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None


def render_many(
    jobs: Sequence[LetterJob], *, processes: int = 1, on_done: Any = None,
    pool: LetterPool | None = None,
) -> Iterable[RenderResult]:
    """Render letters, in `processes` worker processes when more than one (those of
    `pool` when given, else a pool of this call's own); yields (key, path, pages,
    refused, error) as they finish. Without WeasyPrint, raises `PdfRendererMissing`
    once, before any letter."""
    parallel = processes > 1 and len(jobs) > 1
    if jobs and parallel and pool is not None:
        pool.require_renderer()  # this process need not load WeasyPrint
    elif jobs:
        require_pdf_renderer()
    if not parallel:
        for job in jobs:
            result = _run_job(job)
            if on_done:
                on_done()
            yield result
        return
    own = pool is None
    pool = pool or LetterPool(processes)
    try:
        for result in pool.map(jobs):
            if on_done:
                on_done()
            yield result
    finally:
        if own:
            pool.close()


def write_batch(pdfs: Sequence[Path], out: Path) -> Path:
    """Concatenate letters into one print file for the mail house, durably.

    Each letter starts on a recto: a blank page is added after letters with an odd page
    count, so that duplex printing never puts two debtors on one sheet.

    The file appears under its name whole or not at all (written aside, synced, renamed,
    the folder synced): dispatch counts a letter delivered to the mail house once its
    batch exists, and recovery reads "batch on disk" as "its letters went out".
    """
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for pdf in pdfs:
        reader = PdfReader(str(pdf))
        for page in reader.pages:
            writer.add_page(page)
        if len(reader.pages) % 2:
            writer.add_blank_page()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    try:
        with tmp.open("wb") as handle:
            writer.write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_folder(out.parent)
    return out


def _fsync_folder(folder: Path) -> None:
    # The rename is durable only once the folder's entry is on disk.
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def batch_pages(letter_pages: Iterable[int]) -> int:
    """The pages of a print batch holding letters of these page counts (see
    `write_batch`: each letter starts on a recto)."""
    return sum(pages + pages % 2 for pages in letter_pages)
