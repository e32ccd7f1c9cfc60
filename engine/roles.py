"""Who may do what: the `[users]` and `[approval]` tables of `relance.toml`.

```toml
[users]
alice = "credit_manager"
bruno = "operator"
carla = "auditor"

[approval]
four_eyes_above = "5000 EUR"      # or a list: ["5000 EUR", "5000 CHF"]
```

A user may also be written as a table, to give them only some creditors (a collection
firm's operator who works for two client companies):

```toml
[users.dora]
role = "operator"
creditors = ["ACME", "BELLEROSE"]
```

Such a user sees and changes the cases of those creditors only, through every command,
the desk and the reports (`Actor.creditors`; engine/scope.py applies it to queries).
A user written as a role alone sees every creditor.

The web portal (`relance web`) signs people in by a link e-mailed to the address the
table gives them, and knows two more roles, for people who have no desk:

```toml
[users.sofia]
role = "sales_rep"
email = "sofia.martin@example.fr"
sales_rep = "Sofia Martin"        # as the import's sales_rep column names her

[users.acme]
role = "client"                   # a client company's manager (collection firm)
creditors = ["ACME"]
email = "dg@acme.example"
```

- an **operator** approves and rejects routine actions, records payments, promises,
  disputes, pauses, notes and call outcomes;
- a **credit manager** does all that and decides on escalations (amicable recovery,
  litigation); above the four-eyes threshold an escalation needs two different credit
  managers, and whoever proposed it cannot approve it;
- an **auditor** sees everything and changes nothing;
- a **sales rep** (portal only) sees the late invoices, disputes and reminders of the
  debtors whose `sales_rep` is theirs, and may add a note or say they called;
- a **client** (portal only, a collection firm's client company) sees its own
  creditors' aged balance, cases, actions and remittances, and may add a note.

A workspace whose `[users]` table lists nobody of the desk (a fresh `relance init`; the
demo, which lists only people of the portal) has no access control at the desk yet:
everyone there is a credit manager. As soon as one user of the desk (a credit manager,
an operator, an auditor) is listed, only listed users may act.

Without `four_eyes_above`, one credit manager's approval is enough. An escalation in a
currency for which no threshold is configured always needs two approvals, since
relance never converts between currencies.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from relance.kernel.config_table import did_you_mean
from relance.kernel.errors import ConfigError, UsageError
from relance.kernel.i18n import N_, _
from relance.kernel.money import Money

if TYPE_CHECKING:
    from relance.kernel.workspace import Workspace


class Role(enum.StrEnum):
    CREDIT_MANAGER = "credit_manager"
    OPERATOR = "operator"
    AUDITOR = "auditor"
    # People of the web portal only (no desk, no command line): see `PORTAL_ONLY`.
    SALES_REP = "sales_rep"
    CLIENT = "client"


PORTAL_ONLY = frozenset({Role.SALES_REP, Role.CLIENT})
# Who may act on cases from the desk and the command line.
BACK_OFFICE_WRITERS = frozenset({Role.CREDIT_MANAGER, Role.OPERATOR})


# A role as a refusal names it, translated where shown ("bruno is operator").
ROLE_WORDS: dict[Role, str] = {
    Role.CREDIT_MANAGER: N_("credit manager"),
    Role.OPERATOR: N_("operator"),
    Role.AUDITOR: N_("auditor"),
    Role.SALES_REP: N_("sales rep"),
    Role.CLIENT: N_("client company"),
}


class NotAllowed(UsageError):
    """The user's role does not allow this change."""


@dataclass(frozen=True)
class Actor:
    """A person acting, with the role the workspace gives them."""

    name: str
    role: Role
    # The creditor codes this user may see; None: all of them.
    creditors: frozenset[str] | None = None
    # Where the portal e-mails this user's sign-in links; None: no portal sign-in.
    email: str | None = None
    # A sales rep's name as debtors carry it (`debtor.sales_rep`); None for other roles.
    sales_rep: str | None = None

    def sees(self, creditor_code: str) -> bool:
        return self.creditors is None or creditor_code in self.creditors

    @property
    def can_write(self) -> bool:
        """May change cases (payments, pauses, approvals...): the desk's people."""
        return self.role in BACK_OFFICE_WRITERS

    @property
    def can_note(self) -> bool:
        """May add a note or log a contact: everyone but an auditor."""
        return self.role is not Role.AUDITOR

    @property
    def can_decide_escalations(self) -> bool:
        return self.role is Role.CREDIT_MANAGER


@dataclass(frozen=True)
class Policy:
    """The access rules of one workspace."""

    users: Mapping[str, Role] = field(default_factory=dict)
    # Users limited to some creditors (`[users.NAME] creditors = [...]`).
    creditors: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # `[users.NAME] email` and `sales_rep`, for the web portal.
    emails: Mapping[str, str] = field(default_factory=dict)
    sales_reps: Mapping[str, str] = field(default_factory=dict)
    # Per currency, the escalation amount above which two approvals are needed; None
    # when the workspace sets no threshold at all.
    four_eyes_above: Mapping[str, int] | None = None
    # A collection firm's workspace (`[agency]` configured): an escalation needs the
    # creditor's mandate in force (engine/mandates.py). Set where the policy is built
    # from a workspace; a company's own credit team needs none.
    mandates_required: bool = False

    @property
    def open(self) -> bool:
        """No users configured: everyone is a credit manager, and the portal has nobody."""
        return not self.users

    @property
    def desk_open(self) -> bool:
        """Nobody of the desk listed (the portal's people only, or nobody): everyone at
        the desk and the command line is a credit manager."""
        return all(role in PORTAL_ONLY for role in self.users.values())

    def actor(self, name: str) -> Actor:
        """The named user of the desk or the command line, with their role; an unknown
        name, or a person of the web portal only, is refused."""
        clean = name.strip()
        if clean and self.desk_open and clean not in self.users:
            return Actor(clean, Role.CREDIT_MANAGER)
        found = self.person(name)
        if found.role in PORTAL_ONLY:
            raise UsageError(
                _("{name} is {role}: that role uses the web portal (relance web), not the "
                  "desk or the command line").format(name=found.name,
                                                      role=_(ROLE_WORDS[found.role])))
        return found

    def person(self, name: str) -> Actor:
        """Anyone of the `[users]` table, the portal's people included."""
        clean = name.strip()
        if not clean:
            raise UsageError(_("no user name: pass --user NAME"))
        if self.open:
            return Actor(clean, Role.CREDIT_MANAGER)
        role = self.users.get(clean)
        if role is None:
            known = ", ".join(sorted(self.users))
            raise UsageError(
                _("user {name!r} is not in the [users] table of relance.toml (known: "
                  "{known}); pass --user NAME").format(name=clean, known=known)
            )
        sales_rep = self.sales_reps.get(clean, clean) if role is Role.SALES_REP else None
        return Actor(clean, role, self.creditors.get(clean), self.emails.get(clean), sales_rep)

    def by_email(self, address: str) -> Actor | None:
        """The listed user whose `email` is `address` (compared without case); None when
        nobody, or more than one user, has it."""
        wanted = address.strip().casefold()
        names = [name for name, email in self.emails.items()
                 if wanted and email.strip().casefold() == wanted]
        return self.person(names[0]) if len(names) == 1 else None

    def needs_two_approvals(self, amounts: Iterable[Money]) -> bool:
        """Whether an escalation of these amounts (one per currency) needs four eyes."""
        if self.four_eyes_above is None:
            return False
        for amount in amounts:
            limit = self.four_eyes_above.get(amount.currency)
            if limit is None or amount.minor > limit:
                return True
        return False


def _parse_threshold(text: Any, label: str) -> Money:
    if not isinstance(text, str):
        raise ConfigError(_('{label}: four_eyes_above must be a text like "5000 EUR"')
                          .format(label=label))
    parts = text.split()
    if len(parts) != 2:
        raise ConfigError(_('{label}: four_eyes_above {text!r} must read like "5000 EUR"')
                          .format(label=label, text=text))
    try:
        return Money.of(Decimal(parts[0]), parts[1])
    except (InvalidOperation, ValueError) as exc:
        raise ConfigError(_("{label}: four_eyes_above {text!r}: {problem}").format(
            label=label, text=text, problem=exc)) from exc


USER_KEYS = ("role", "creditors", "email", "sales_rep")
# A misspelt `four_eyes_abve` would otherwise leave every escalation on one approval.
APPROVAL_KEYS = ("four_eyes_above",)


def load_policy(users: Mapping[str, Any], approval: Mapping[str, Any],
                *, label: str = "relance.toml") -> Policy:
    """Build the access policy from the `[users]` and `[approval]` tables."""
    parsed: dict[str, Role] = {}
    limited: dict[str, frozenset[str]] = {}
    emails: dict[str, str] = {}
    sales_reps: dict[str, str] = {}
    for name, value in users.items():
        role = value
        if isinstance(value, dict):
            unknown = sorted(set(value) - set(USER_KEYS))
            if unknown:
                raise ConfigError(_("{label}: [users.{name}] {key} is not a setting of a "
                                    "user (known: {known})").format(
                    label=label, name=name, key=unknown[0], known=", ".join(USER_KEYS)))
            role = value.get("role", "")
            for key, into in (("email", emails), ("sales_rep", sales_reps)):
                text = value.get(key)
                if text is None:
                    continue
                if not isinstance(text, str) or not text.strip() or \
                        (key == "email" and not _looks_like_address(text)):
                    raise ConfigError(_("{label}: [users.{name}] {key} = {value!r} is not "
                                        "valid").format(label=label, name=name, key=key,
                                                        value=text))
                into[str(name)] = text.strip()
            codes = value.get("creditors")
            if codes is not None:
                if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
                    raise ConfigError(_("{label}: [users.{name}] creditors must be a list "
                                        "of creditor codes").format(label=label, name=name))
                limited[str(name)] = frozenset(codes)
        try:
            parsed[str(name)] = Role(str(role))
        except ValueError:
            allowed = ", ".join(r.value for r in Role)
            raise ConfigError(
                _("{label}: [users] {name} = {role!r}: the role must be one of {allowed}")
                .format(label=label, name=name, role=role, allowed=allowed)
            ) from None
    for key in approval:
        if key not in APPROVAL_KEYS:
            close = did_you_mean(str(key), APPROVAL_KEYS)
            known = ", ".join(APPROVAL_KEYS)
            if close:
                message = _("{label}: [approval] {key} is not a setting of the approvals: "
                            "did you mean {close}? (known: {known})").format(
                    label=label, key=key, close=close, known=known)
            else:
                message = _("{label}: [approval] {key} is not a setting of the approvals "
                            "(known: {known})").format(label=label, key=key, known=known)
            raise ConfigError(message)
    raw = approval.get("four_eyes_above")
    thresholds: dict[str, int] | None = None
    if raw is not None:
        values = raw if isinstance(raw, list) else [raw]
        thresholds = {}
        for value in values:
            money = _parse_threshold(value, f"{label}: [approval]")
            thresholds[money.currency] = money.minor
    for name, role_of in parsed.items():
        if role_of is Role.CLIENT and name not in limited:
            raise ConfigError(_("{label}: [users.{name}] a client sees its own creditors "
                                "only: give it creditors = [...]").format(label=label,
                                                                          name=name))
    return Policy(users=parsed, creditors=limited, four_eyes_above=thresholds,
                  emails=emails, sales_reps=sales_reps)


def _looks_like_address(text: str) -> bool:
    local, at, domain = text.strip().rpartition("@")
    return bool(at and local and "." in domain and not any(c.isspace() for c in text.strip()))


def workspace_policy(workspace: Workspace) -> Policy:
    """Who may do what in this workspace: `[users]` and `[approval]`, and, in a collection
    firm's (`[agency]`), escalations only under a mandate (engine/mandates.py). The desk,
    the command line and the demo read it here, so that each grants exactly the same."""
    policy = load_policy(workspace.section("users"), workspace.section("approval"),
                         label=workspace.config_label)
    return replace(policy, mandates_required=workspace.settings.agency.configured)


def require_write(actor: Actor, what: str) -> None:
    """Refuse any change by an auditor or a person of the portal only; `what`,
    translated by the caller, is the change as a verb: `pause a case`."""
    if actor.role is Role.AUDITOR:
        raise NotAllowed(_("{user} is an auditor: auditors cannot {what}").format(
            user=actor.name, what=what))
    if not actor.can_write:
        raise NotAllowed(_("{user} is {role}: only the desk's operators and credit "
                           "managers can {what}").format(
            user=actor.name, role=_(ROLE_WORDS[actor.role]), what=what))


def require_note(actor: Actor, what: str) -> None:
    """Refuse a note or a logged contact by an auditor."""
    if not actor.can_note:
        raise NotAllowed(_("{user} is an auditor: auditors cannot {what}").format(
            user=actor.name, what=what))


def require_credit_manager(actor: Actor, what: str) -> None:
    if not actor.can_decide_escalations:
        raise NotAllowed(_("{user} is {role}: only a credit manager can {what}").format(
            user=actor.name, role=_(ROLE_WORDS[actor.role]), what=what))
