"""The words people read for the store's codes: a channel as the desk and the reports
name it (`letter` in the rules, « courrier » in French), an action's state.

The rules keep their own notation (`send letter`, `call`); these words are for
sentences and columns, translated where shown."""

from __future__ import annotations

from relance.kernel.i18n import N_, _, ngettext
from relance.store.models import ActionState

CHANNEL_WORDS: dict[str, str] = {
    "letter": N_("letter"), "email": N_("e-mail"), "sms": N_("SMS"), "call": N_("call"),
    "notify": N_("alert"), "escalate": N_("escalation"),
}


def channel_word(channel: str) -> str:
    """The channel in the language being spoken; an unknown code as it is."""
    code = str(getattr(channel, "value", channel))
    return _(CHANNEL_WORDS[code]) if code in CHANNEL_WORDS else code


def channel_count(channel: str, count: int, shown: str) -> str:
    """`132 letters`: how many actions of a channel, `shown` being the count as the
    language writes it (`show_count`)."""
    code = str(getattr(channel, "value", channel))
    if code == "letter":
        text = ngettext("{count} letter", "{count} letters", count)
    elif code == "email":
        text = ngettext("{count} e-mail", "{count} e-mails", count)
    elif code == "sms":
        text = ngettext("{count} SMS", "{count} SMS", count)
    elif code == "call":
        text = ngettext("{count} call", "{count} calls", count)
    elif code == "notify":
        text = ngettext("{count} alert", "{count} alerts", count)
    elif code == "escalate":
        text = ngettext("{count} escalation", "{count} escalations", count)
    else:
        return f"{shown} {code}"
    return text.format(count=shown)


# An action's state as a refusal names it to a person, translated where it is shown.
STATE_WORDS: dict[ActionState, str] = {
    ActionState.PROPOSED: N_("proposed"),
    ActionState.APPROVED: N_("approved"),
    ActionState.IN_FLIGHT: N_("being sent"),
    ActionState.RETRY_WAIT: N_("waiting for a retry"),
    ActionState.SENT: N_("sent"),
    ActionState.FAILED: N_("failed"),
    ActionState.UNCERTAIN: N_("uncertain"),
    ActionState.CANCELLED: N_("cancelled"),
    ActionState.REJECTED: N_("rejected"),
}


def state_word(state: ActionState | str) -> str:
    """The state in the language spoken (`proposed`, « proposé »); unknown: as it is."""
    try:
        word = STATE_WORDS.get(ActionState(state))
    except ValueError:
        return str(state)
    return _(word) if word is not None else str(state)
