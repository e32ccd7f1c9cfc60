"""The queue's filter form: its fields, offered values, and what the answers mean."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from relance.engine import casework
from relance.kernel.display import show_amount
from relance.kernel.errors import UsageError
from relance.kernel.i18n import _
from relance.tui import data
from relance.tui.screens.base import DeskScreen
from relance.tui.screens.modals import Field
from relance.tui.widgets.cursor import FILTER_LABELS


def filter_form(screen: DeskScreen, flt: data.QueueFilter
                ) -> tuple[list[Field], Callable[[dict[str, str]], data.QueueFilter]]:
    """The form's fields, filled with `flt`, and how to read the answers back."""
    with screen.ctx.reading() as session:
        choices = data.filter_choices(session)

    def shown(minor: int | None) -> str:
        return "" if minor is None else show_amount(minor, "EUR", "en").replace(",", "")

    def label(name: str, offered: list[str]) -> str:
        return _("{label} ({choices})").format(label=_(FILTER_LABELS[name]),
                                               choices=", ".join(offered[:6]))

    fields = [
        Field("creditor", label("creditor", choices["creditor"]), flt.creditor),
        Field("channel", label("channel", choices["channel"]), flt.channel),
        Field("rule", _(FILTER_LABELS["rule"]), flt.rule),
        Field("segment", label("segment", choices["segment"]), flt.segment),
        Field("stage", label("stage", ["reminder", "amicable", "litigation"]), flt.stage),
        Field("state", label("state", choices["state"]), flt.state),
        Field("amount", _("Amount: min-max, e.g. 1000-5000 or 1000-"),
              f"{shown(flt.min_amount_minor)}-{shown(flt.max_amount_minor)}"
              if flt.min_amount_minor is not None or flt.max_amount_minor is not None
              else ""),
    ]

    def parse(answers: dict[str, str]) -> data.QueueFilter:
        low = high = None
        if answers["amount"]:
            left, _, right = answers["amount"].partition("-")
            low = casework.parse_money(left, "EUR").minor if left.strip() else None
            high = casework.parse_money(right, "EUR").minor if right.strip() else None
        for name, allowed in (("channel", choices["channel"]),
                              ("state", choices["state"]),
                              ("stage", ["reminder", "amicable", "litigation"])):
            if answers[name] and answers[name] not in allowed:
                raise UsageError(_("{name} must be one of {choices}").format(
                    name=_(FILTER_LABELS[name]), choices=", ".join(allowed)))
        return dataclasses.replace(
            flt, creditor=answers["creditor"], channel=answers["channel"],
            rule=answers["rule"], segment=answers["segment"], stage=answers["stage"],
            state=answers["state"], min_amount_minor=low, max_amount_minor=high)

    return fields, parse
