"""Rendering templates in a sandbox: template authors are trusted with text, not with Python.

Jinja2's immutable sandbox refuses attribute access to internals (`__class__`,
`__globals__`, `format` on strings...), undefined variables fail loudly (a missing
amount must never print blank), HTML is autoescaped. The sandbox bounds neither time
nor memory, so rendering also stops past a deadline and past an output size, and
multiplications/powers that would build huge values are refused.
"""

from __future__ import annotations

import functools
import operator
import threading
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import BaseLoader, StrictUndefined, Template, TemplateError, TemplateNotFound
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from relance.channels.legal import consumer_terms
from relance.channels.reasons import Reason, ReasonedError, of_exception, reason
from relance.channels.templates import (
    BASE_DIR,
    FALLBACK_LANGUAGES,
    parse_file_name,
    search_folders,
)
from relance.kernel.i18n import N_

RENDER_SECONDS = 5.0
MAX_OUTPUT_CHARS = 2_000_000
MAX_TEMPLATE_BYTES = 256_000
_MAX_OPERAND = 100_000
# What `getattr(a_dict, name)` finds, so what the sandbox prefers to a dict's key.
_DICT_ATTRIBUTES = frozenset(dir(dict))


class TemplateProblem(ReasonedError):
    """A template is missing, broken, refused by the sandbox, or too slow/large."""


class TemplateMissing(TemplateProblem):
    """No template of that name for the channel (an e-mail without a letter to attach
    goes without one)."""


@dataclass(frozen=True)
class ResolvedTemplate:
    """Which file renders (name, channel, language, tone) for one creditor."""

    name: str
    channel: str
    language: str
    tone: str | None
    folder: Path  # the root folder it came from
    files: Mapping[str, Path]  # ext -> file ("html", "txt")

    def loader_name(self, ext: str) -> str:
        return _loader_name(self.folder, self.files[ext])


@functools.lru_cache(maxsize=1024)
def _loader_name(folder: Path, file: Path) -> str:
    # Asked at every rendering of the same few files: by profile, working out the
    # relative path each time cost an eighth of rendering a short e-mail.
    return f"@{folder}::{file.relative_to(folder).as_posix()}"


class _Loader(BaseLoader):
    """Loads `@root::rel/path` (a pinned file) or `rel/path` searched through the roots.

    Paths with `..`, absolute paths or backslashes are refused: a template can only
    include or extend files of the template folders.
    """

    def __init__(self, roots: list[Path]) -> None:
        self.roots = roots

    def get_source(
        self, environment: Any, template: str
    ) -> tuple[str, str | None, Any]:
        if template.startswith("@") and "::" in template:
            root_text, _, rel = template[1:].partition("::")
            roots = [Path(root_text)]
            if roots[0] not in self.roots:
                raise TemplateNotFound(template)
        else:
            rel, roots = template, self.roots
        parts = rel.split("/")
        if "\\" in rel or rel.startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise TemplateNotFound(template)
        for root in roots:
            path = root.joinpath(*parts)
            if path.is_file():
                if path.stat().st_size > MAX_TEMPLATE_BYTES:
                    raise TemplateProblem(reason(
                        N_("{path}: template larger than {limit} bytes"),
                        path=path, limit=MAX_TEMPLATE_BYTES))
                source = path.read_text(encoding="utf-8")
                mtime = path.stat().st_mtime
                return source, str(path), lambda p=path, m=mtime: p.stat().st_mtime == m
        raise TemplateNotFound(template)


class _Refused(SecurityError):
    """The sandbox's own refusals, in both forms (see `relance.channels.reasons`)."""

    def __init__(self, why: Reason) -> None:
        super().__init__(why.shown)
        self.reason = why


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.until = time.monotonic() + seconds

    def check(self) -> None:
        if time.monotonic() > self.until:
            raise TemplateProblem(reason(
                N_("template rendering took longer than {seconds:g} s"),
                seconds=RENDER_SECONDS))


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox plus a deadline checked on every call, attribute and item
    access, and a cap on `*` and `**` operands."""

    intercepted_binops = frozenset({"*", "**"})

    def __init__(self, roots: list[Path]) -> None:
        super().__init__(
            loader=_Loader(roots),
            autoescape=lambda name: bool(name) and str(name).endswith(".html"),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            # Compiled templates are cached; a file edited on disk is compiled again.
            auto_reload=True,
            cache_size=400,
        )
        self._local = threading.local()
        # A compiled template -> its globals as a dict (`globals_of`); forgotten with it.
        self._globals: weakref.WeakKeyDictionary[Template, dict[str, Any]] = (
            weakref.WeakKeyDictionary())
        self._globals_lock = threading.Lock()

    def globals_of(self, template: Template) -> dict[str, Any]:
        """`template.globals` as a plain dict, made once per compiled template: nothing
        changes an environment's globals after it is made (`_environment`)."""
        found = self._globals.get(template)
        if found is None:
            found = dict(template.globals)
            with self._globals_lock:  # dispatchers in threads share the environment
                self._globals[template] = found
        return found

    @property
    def deadline(self) -> _Deadline:
        deadline: _Deadline | None = getattr(self._local, "deadline", None)
        if deadline is None:
            deadline = _Deadline(RENDER_SECONDS)
            self._local.deadline = deadline
        return deadline

    @deadline.setter
    def deadline(self, value: _Deadline) -> None:
        # One deadline per thread: dispatchers in threads share the environment.
        self._local.deadline = value

    def call_binop(self, context: Any, operator_name: str, left: Any, right: Any) -> Any:
        self.deadline.check()
        for operand in (left, right):
            if isinstance(operand, int) and abs(operand) > _MAX_OPERAND:
                raise _Refused(reason(
                    N_("operand {operand} too large for {operator!r}"),
                    operand=operand, operator=operator_name))
        if operator_name == "**":
            return operator.pow(left, right)
        return operator.mul(left, right)

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        # The stock sandbox answers an unsafe attribute with an undefined value that
        # some paths (str.format) print as blank; a template that tries is refused.
        raise _Refused(reason(
            N_("access to attribute {attribute!r} of a {kind} is not allowed"),
            attribute=attribute, kind=type(obj).__name__))

    def call(self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        self.deadline.check()
        return super().call(__context, __obj, *args, **kwargs)

    def getattr(self, obj: Any, attribute: str) -> Any:
        self.deadline.check()
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            # A context is plain dictionaries: for a key that is no attribute of `dict`
            # the stock sandbox fails to get the attribute, then reads the key; the same
            # value, without raising and catching an AttributeError at every `a.b`.
            try:
                return obj[attribute]
            except (TypeError, LookupError):
                pass
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        self.deadline.check()
        return super().getitem(obj, argument)


def resolve(
    templates_dir: Path | None,
    *,
    creditor: str | None,
    name: str,
    channel: str,
    language: str,
    tone: str | None,
) -> ResolvedTemplate:
    """Find the files of template `name` for `channel` (see `templates` for the order)."""
    languages = [language.lower()[:2], *(lang for lang in FALLBACK_LANGUAGES)]
    for folder in search_folders(templates_dir, creditor):
        template_dir = folder / name
        if not template_dir.is_dir() or name.startswith("_"):
            continue
        # (lang, tone) -> {ext: path}
        variants: dict[tuple[str, str | None], dict[str, Path]] = {}
        for file in sorted(template_dir.iterdir()):
            parsed = parse_file_name(file.name)
            if parsed is None or parsed[0] != channel:
                continue
            _, lang, file_tone, ext = parsed
            variants.setdefault((lang[:2].lower(), file_tone), {})[ext] = file
        if not variants:
            continue
        for lang in languages:
            for wanted in (tone, None) if tone else (None,):
                if (lang, wanted) in variants:
                    return ResolvedTemplate(name, channel, lang, wanted, folder,
                                            variants[(lang, wanted)])
            if tone is None:
                # No tone asked: the first tone available, in name order, is the default.
                toned = sorted((t for (lg, t) in variants if lg == lang and t), key=str)
                if toned:
                    return ResolvedTemplate(name, channel, lang, toned[0], folder,
                                            variants[(lang, toned[0])])
        found = ", ".join(sorted(f"{lg}{'.' + t if t else ''}" for lg, t in variants))
        raise TemplateProblem(reason(
            N_("template {name!r} for {channel} has no variant for language {language!r} "
               "(found {found} in {folder})"),
            name=name, channel=channel, language=language, found=found, folder=template_dir))
    raise TemplateMissing(reason(N_("no template {name!r} for channel {channel}"),
                                 name=name, channel=channel))


def environment_roots(templates_dir: Path | None, creditor: str | None) -> list[Path]:
    return search_folders(templates_dir, creditor)


@functools.lru_cache(maxsize=64)
def _environment(roots: tuple[Path, ...]) -> BoundedSandbox:
    return BoundedSandbox(list(roots))


@functools.lru_cache(maxsize=256)
def _environment_of(templates_dir: Path | None, creditor: str | None) -> BoundedSandbox:
    # The folders depend on nothing else: each rendering skips building their paths.
    return _environment(tuple(environment_roots(templates_dir, creditor)))


@dataclass(frozen=True)
class Rendered:
    body: str
    subject: str | None


def _refuse_consumer_terms(resolved: ResolvedTemplate, ext: str, context: Mapping[str, Any],
                           text: str) -> None:
    """A text bound for a consumer that speaks of penalties, the indemnity or collection
    fees fails, whoever wrote the template: the law forbids claiming them (L441-10 is
    B2B only; CPCE L111-8), and a workspace's own template must not slip past that.
    Internal alerts (`notify`) go to staff and are not checked."""
    legal = context.get("legal")
    if resolved.channel == "notify" or not isinstance(legal, Mapping) or not legal.get(
            "consumer"):
        return
    if found := consumer_terms(text):
        raise TemplateProblem(reason(
            N_("{file}: a text to a consumer may not say {terms} (penalties and the "
               "recovery indemnity are for businesses, Code de commerce L441-10; no "
               "collection fees for consumers, CPCE L111-8)"),
            file=resolved.files[ext], terms=", ".join(repr(term) for term in found)))


def render(
    templates_dir: Path | None,
    resolved: ResolvedTemplate,
    ext: str,
    context: Mapping[str, Any],
    *,
    creditor: str | None,
    seconds: float = RENDER_SECONDS,
) -> Rendered:
    """Render one file of a resolved template in a fresh sandbox; also its `subject` block."""
    env = _environment_of(templates_dir, creditor)
    env.deadline = _Deadline(seconds)
    try:
        template = env.get_template(resolved.loader_name(ext))
        # What `new_context(dict(context))` makes (the template's globals overlaid with
        # the context), with the globals copied out of their ChainMap once per compiled
        # template rather than at each rendering (a third of a short e-mail's cost).
        ctx = template.new_context({**env.globals_of(template), **context}, shared=True)
        chunks: list[str] = []
        size = 0
        for chunk in template.root_render_func(ctx):
            size += len(chunk)
            if size > MAX_OUTPUT_CHARS:
                raise TemplateProblem(reason(
                    N_("{file}: output larger than {limit} characters"),
                    file=resolved.files[ext], limit=MAX_OUTPUT_CHARS))
            env.deadline.check()
            chunks.append(chunk)
        # The subject is a top-level `{% set subject %}` (texts) or a `subject` block
        # (letters, where it is also the document title).
        subject: str | None = None
        if "subject" in ctx.vars:
            subject = " ".join(str(ctx.vars["subject"]).split())
        elif "subject" in template.blocks:
            block = template.blocks["subject"](template.new_context(dict(context)))
            subject = " ".join("".join(block).split())
        body = "".join(chunks)
        _refuse_consumer_terms(resolved, ext, context, f"{subject or ''}\n{body}")
        return Rendered(body, subject)
    except TemplateProblem:
        raise
    except SecurityError as exc:
        raise TemplateProblem(reason(
            N_("{file}: refused by the template sandbox ({problem})"),
            file=resolved.files[ext], problem=_sandbox_reason(exc))) from exc
    except TemplateError as exc:
        where = getattr(exc, "filename", None) or resolved.files[ext]
        line = getattr(exc, "lineno", None)
        at = f"{where}:{line}" if line else str(where)
        error = of_exception(exc)
        raise TemplateProblem(Reason(f"{at}: {error.english}", f"{at}: {error.shown}")) \
            from exc


def _sandbox_reason(exc: SecurityError) -> Reason | str:
    """What the sandbox refused: this module's own sentence, or Jinja's words."""
    return exc.reason if isinstance(exc, _Refused) else str(exc)


__all__ = [
    "BASE_DIR",
    "BoundedSandbox",
    "Rendered",
    "ResolvedTemplate",
    "TemplateMissing",
    "TemplateProblem",
    "render",
    "resolve",
]
