"""Why a send failed, in two forms at once: English for the record, translated for people.

What goes wrong with a send is both stored (the action's `last_error`, its event: data
that stays in English whoever ran the dispatch) and told (the dispatch report, the
preview, an error on the command line: in the reader's language). A `Reason` carries
both, built once where the failure is found:

    reason(N_("no template {name!r} for channel {channel}"), name=name, channel=channel)

`N_` marks the sentence for the catalogs; `reason` formats it as written and as
translated. A value that is itself a `Reason` goes into each form in the same language,
so a sentence can quote another. Texts nobody wrote here (a server's reply, a library's
exception) are the same in both forms (`told`).
"""

from __future__ import annotations

from dataclasses import dataclass

from relance.kernel.errors import RelanceError
from relance.kernel.i18n import _


@dataclass(frozen=True)
class Reason:
    """A sentence about a send: `english` is recorded, `shown` is read."""

    english: str
    shown: str

    def __str__(self) -> str:
        return self.shown


def reason(message: str, **values: object) -> Reason:
    """`message` (an English sentence marked with `N_`) with its named values, written
    as is and in the language being spoken."""
    english = {key: value.english if isinstance(value, Reason) else value
               for key, value in values.items()}
    shown = {key: value.shown if isinstance(value, Reason) else value
             for key, value in values.items()}
    return Reason(message.format(**english), _(message).format(**shown))


def told(text: str | Reason) -> Reason:
    """A text relance did not write (a server's reply), or a reason already made."""
    return text if isinstance(text, Reason) else Reason(text, text)


def term(words: str) -> Reason:
    """A few words (`debtor name`) marked with `N_`, to go into a sentence."""
    return Reason(words, _(words))


def of_exception(exc: BaseException) -> Reason:
    """`TemplateProblem: …`: an exception's class and its message, in both forms (a
    relance error that carries a `Reason` gives both; any other says one thing)."""
    name = exc.__class__.__name__
    found = getattr(exc, "reason", None)
    if isinstance(found, Reason):
        return Reason(f"{name}: {found.english}", f"{name}: {found.shown}")
    return told(f"{name}: {exc}")


class ReasonedError(RelanceError):
    """A relance error about a send: its `message` is read, its `reason.english` kept."""

    def __init__(self, why: str | Reason, *, exit_code: int | None = None) -> None:
        self.reason = told(why)
        super().__init__(self.reason.shown, exit_code=exit_code)


__all__ = ["Reason", "ReasonedError", "of_exception", "reason", "term", "told"]
