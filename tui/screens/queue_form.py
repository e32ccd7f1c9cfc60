"""The queue's filter form: its fields, offered values, and what the answers mean."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from relance.kernel.errors import UsageError
from relance.kernel.i18n import _
from relance.tui import data, worklists
from relance.tui.screens.base import DeskScreen
from relance.tui.screens.modals import Field
from relance.tui.widgets.cursor import FILTER_LABELS, amount_range_text, parse_amount_range


def filter_form(screen: DeskScreen, flt: data.QueueFilter
                ) -> tuple[list[Field], Callable[[dict[str, str]], data.QueueFilter]]:
    """The form's fields, filled with `flt`, and how to read the answers back."""
    with screen.ctx.reading() as session:
        choices = worklists.filter_choices(session, screen.ctx.creditor_ids)

    def label(name: str, offered: list[str]) -> str:
        return _("{label} ({choices})").format(label=_(FILTER_LABELS[name]),
                                               choices=", ".join(offered[:6]))

    fields = [
        Field("creditor", label("creditor", choices["creditor"]), flt.creditor),
        Field("channel", label("channel", choices["channel"]), flt.channel),
        Field("rule", _(FILTER_LABELS["rule"]), flt.rule),
        Field("segment", label("segment", choices["segment"]), flt.segment),
        Field("stage", label("stage", choices["stage"]), flt.stage),
        Field("state", label("state", choices["state"]), flt.state),
        Field("amount", _("Amount: min-max, e.g. 1000-5000 or 1000-"),
              amount_range_text(flt.min_amount_minor, flt.max_amount_minor)),
    ]

    def parse(answers: dict[str, str]) -> data.QueueFilter:
        low, high = parse_amount_range(answers["amount"])
        for name in ("channel", "state", "stage"):
            allowed = choices[name]
            if answers[name] and answers[name] not in allowed:
                raise UsageError(_("{name} must be one of {choices}").format(
                    name=_(FILTER_LABELS[name]), choices=", ".join(allowed)))
        return dataclasses.replace(
            flt, creditor=answers["creditor"], channel=answers["channel"],
            rule=answers["rule"], segment=answers["segment"], stage=answers["stage"],
            state=answers["state"], min_amount_minor=low, max_amount_minor=high)

    return fields, parse
