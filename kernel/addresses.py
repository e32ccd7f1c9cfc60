"""What relance accepts as an e-mail address, in one place: the import refuses at its row
what the mail channel would refuse at sending, days later and for one action only."""

from __future__ import annotations

import re

# One mailbox, ASCII (a non-ASCII mailbox needs SMTPUTF8, which relance's messages do not
# use), with a dotted domain; no list separators, quotes, brackets or spaces, so that a
# cell holding `a@x.fr;b@y.fr` or `Name <a@x.fr>` can never become two recipients.
_ADDRESS = re.compile(r"^[^@\s<>\"(),;:\\\[\]]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}$")


def is_email_address(text: str) -> bool:
    """Whether `text` (already stripped) is one plain e-mail address."""
    return text.isascii() and _ADDRESS.match(text) is not None
