"""Creditors: each creditor with its SIREN, debtors, open balance and whether its
identity is complete for letters, e-mails and SMS; Enter (or e) opens its fields in a
form that saves through `engine.creditors.edit_creditor`, a refused value named by its
field, nothing saved.

Multi-line fields (address, signature, legal footer) are typed on one line with `\\n`
between lines, lists (languages, segments) with commas, yes/no fields as yes or no."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.markup import escape
from rich.text import Text
from sqlalchemy.orm import Session
from textual import on
from textual.binding import Binding, BindingType
from textual.widgets import DataTable

from relance.channels.config import sender_address
from relance.engine import creditors
from relance.engine.creditor_fields import FIELDS, FieldRefused, Kind, check_fields
from relance.engine.roles import NotAllowed, require_credit_manager
from relance.kernel.display import show_count, show_money
from relance.kernel.errors import UsageError
from relance.kernel.i18n import N_, _
from relance.tui import format
from relance.tui.screens.list_screen import WholeListScreen
from relance.tui.screens.modals import Field, FormScreen

# A channel as the panel names it.
CHANNEL_WORDS = {"letter": N_("Letters"), "email": N_("E-mails"), "sms": N_("SMS")}


class CreditorForm(FormScreen):
    """The form of every field of a creditor: taller than a form of a few fields, and
    scrolled as the cursor goes down it."""

    DEFAULT_CSS = """
    CreditorForm > Vertical { max-height: 100%; overflow-y: auto; }
    """


def form_text(kind: Kind, value: Any) -> str:
    """A stored value as the form shows it, to be read back by `check_fields`."""
    if kind is Kind.FLAG:
        return _("yes") if value else _("no")
    if kind is Kind.WORDS:
        return ", ".join(value or [])
    if kind is Kind.LINES:
        return "\\n".join((value or "").splitlines())
    return "" if value is None else str(value)


def form_changes(shown: dict[str, str], answers: dict[str, str]) -> dict[str, str]:
    """The fields whose text the person changed, by key."""
    return {key: text for key, text in answers.items() if text != shown.get(key, "")}


class CreditorsScreen(WholeListScreen[creditors.CreditorLine]):
    NAME = "creditors"
    ID_PREFIX = "creditors"
    DETAIL_LINES = 5
    EMPTY = N_("No creditor yet: an import or `relance creditor add` creates one.")
    # The SIREN is in the detail underneath: the identity's verdict must fit 80 columns.
    COLUMNS = (N_("Code"), N_("Name"), N_("Debtors"), N_("Open balance"), N_("Identity"))
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("e", "edit", N_("Edit")),
    ]

    def read(self, session: Session) -> list[creditors.CreditorLine]:
        return creditors.creditor_lines(session, self.ctx.actor,
                                        default_sender=self._default_sender())

    def _default_sender(self) -> str | None:
        return sender_address(self.ctx.workspace)

    def key(self, row: creditors.CreditorLine) -> int:
        return row.creditor_id

    def cells(self, row: creditors.CreditorLine) -> list[str | Text]:
        # One amount fits 80 columns: the largest currency's, the others in the detail.
        largest = sorted(row.balances.items(), key=lambda item: -item[1])
        balance = show_money(largest[0][1], largest[0][0]) if largest else "—"
        if len(largest) > 1:
            balance = f"{balance} +{len(largest) - 1}"
        identity = (Text(_("complete"), style="green") if not row.gaps
                    else Text(_("incomplete"), style="bold red"))
        return [row.code, row.name[:24], format.right(show_count(row.debtors)),
                format.right(balance), identity]

    def detail(self, row: creditors.CreditorLine) -> str:
        balances = " · ".join(show_money(minor, currency)
                              for currency, minor in sorted(row.balances.items()))
        lines = [_("[b]{name}[/b] {code} · SIREN {siren}").format(
            name=escape(row.name), code=escape(row.code), siren=row.siren or "—")
            + (f" · {balances}" if balances else "")]
        if not row.gaps:
            lines.append(_("Complete for letters, e-mails and SMS."))
        for channel, lacking in row.gaps.items():
            lines.append(_("{channel}: lacks {fields}").format(
                channel=_(CHANNEL_WORDS[channel]),
                fields=escape(", ".join(f.shown_label for f in lacking))))
        lines.append(_("Enter or e: edit its fields"))
        return "\n".join(lines)

    @on(DataTable.RowSelected)
    def _chosen(self, _event: DataTable.RowSelected) -> None:
        self.action_edit()

    def action_edit(self) -> None:
        row = self.current
        if row is None:
            return
        ctx = self.ctx
        try:
            require_credit_manager(ctx.actor, _("change a creditor"))
        except NotAllowed as exc:
            self.notify(exc.message, severity="error")
            return
        with ctx.reading() as session:
            creditor = creditors.find_creditor(session, ctx.actor, row.code)
            stored = {f.key: getattr(creditor, f.column) for f in FIELDS}
            siren, country = creditor.siren, creditor.country
        shown = {f.key: form_text(f.kind, stored[f.key]) for f in FIELDS}
        fields = [Field(f.key, f.shown_label, shown[f.key]) for f in FIELDS]
        root = ctx.workspace.root
        code = row.code

        def parse(answers: dict[str, str]) -> dict[str, str]:
            changes = form_changes(shown, answers)
            try:
                check_fields(changes, root=root,
                             siren=None if "siren" in changes else siren,
                             country=None if "country" in changes else country)
            except FieldRefused as exc:
                raise UsageError(_("{field}: {problem}").format(
                    field=exc.field.shown_label, problem=exc.problem)) from None
            return changes

        def save(changes: dict[str, str]) -> None:
            if not changes:
                return

            def change(session: Session) -> str:
                try:
                    edited = creditors.edit_creditor(session, ctx.actor, code, changes,
                                                     root=root)
                except FieldRefused as exc:
                    raise UsageError(_("{field}: {problem}").format(
                        field=exc.field.shown_label, problem=exc.problem)) from None
                labels = [f.shown_label for f in FIELDS if f.key in edited.changed]
                return _("Creditor {code}: changed {fields}").format(
                    code=code, fields=", ".join(labels))

            said = self.perform(change)
            if said:
                self.notify(said)

        self.ask(_("Creditor {code}").format(code=code), fields, parse, save,
                 form=CreditorForm)
