"""`relance.toml` read once, through a typed schema.

Every command, the scheduler and the demo take their settings from `Settings` (via
`Workspace.settings`), never from the raw TOML tables: a value read in two places was
read two ways, and `auto_approve = "false"` once approved everything in `relance serve`
while `relance run` refused it. A mistake is refused with the file, the table, the key
and what was expected:

    relance.toml: [run] auto_approve must be true or false, not the string "false"
    relance.toml: [run] auto_aprove is not a setting of the run: did you mean auto_approve?

`Settings` holds the tables of the workspace, the database, the run, the interface, the
collection firm (`[agency]`), the intake folders, the audit log's signing key
(`[audit]`), the payer profile (`[payer]`), the debtor's page (`[web]`) and the
scheduler (`[schedule]`, read by `relance.kernel.schedule`). The others keep their own
readers,
next to the code that uses them: `[users]` and `[approval]` (`engine.roles`),
`[disputes]` (`commands.case_cmd`), `[smtp]`, `[sms]`, `[dispatch]`, `[notify]`
(`channels.config`); their names are known here so that a misspelt table name is
caught too. Each table is read through `relance.kernel.config_table.Table`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from relance.kernel.config_table import Table, describe, did_you_mean
from relance.kernel.errors import ConfigError
from relance.kernel.i18n import SUPPORTED, _, supported
from relance.kernel.identifiers import (
    InvalidIdentifier,
    check_bic,
    check_email,
    check_iban,
    check_siren,
    email_domain,
)
from relance.kernel.schedule import KNOWN_KEYS, ScheduleConfig, parse_schedule

CONFIG_LABEL = "relance.toml"

# The tables read elsewhere, by their reader; a table not listed here is refused as a
# typo (a misspelt `[schedule]` would otherwise leave the scheduler on its defaults).
OTHER_TABLES: Mapping[str, str] = {
    "users": "relance.engine.roles",
    "approval": "relance.engine.roles",
    "disputes": "relance.commands.case_cmd",
    "smtp": "relance.channels.config",
    "sms": "relance.channels.config",
    "dispatch": "relance.channels.config",
    "notify": "relance.channels.config",
    "letters": "relance.channels",
}


# --------------------------------------------------------------------------- the schema


@dataclass(frozen=True)
class WorkspaceSettings:
    """`[workspace]`: where the workspace's folders are, relative to it."""

    rules: str = "rules"
    templates: str = "templates"
    outbox: str = "outbox"


@dataclass(frozen=True)
class DatabaseSettings:
    """`[database]`; `RELANCE_DATABASE_URL` and `--db` come first (`Workspace`)."""

    url: str | None = None


@dataclass(frozen=True)
class RunSettings:
    """`[run]`: how a day's run queues its actions."""

    # True: actions no rule asks approval for are queued approved; false: every action
    # waits for an operator (four eyes on everything the rules send).
    auto_approve: bool = True
    # The workspace's time zone; the scheduler's when `[schedule] timezone` is not set.
    timezone: str | None = None


@dataclass(frozen=True)
class UiSettings:
    """`[ui]`: how relance speaks to the people of this workspace."""

    # `fr` or `en`; None: the environment's (LANG), else French (`relance.kernel.i18n`).
    language: str | None = None


@dataclass(frozen=True)
class AgencySettings:
    """`[agency]`: the collection firm that runs this workspace for its client companies.

    Empty for a company's own credit team. The firm's name appears on no message before
    a case is taken under mandate (docs/agency.md): white label until then."""

    name: str | None = None
    siren: str | None = None
    address: str = ""
    email: str | None = None
    phone: str | None = None
    # The professional liability insurance a collection firm must hold (CPCE R124-2).
    insurer: str | None = None
    insurance_policy: str | None = None
    # The account that receives the debtors' payments and holds client funds.
    funds_iban: str | None = None
    funds_bic: str | None = None

    @property
    def configured(self) -> bool:
        return self.name is not None

    @property
    def address_lines(self) -> list[str]:
        return [line.strip() for line in self.address.splitlines() if line.strip()]

    @property
    def domain(self) -> str | None:
        """The firm's e-mail domain: a white-label message must not carry it."""
        return email_domain(self.email)


@dataclass(frozen=True)
class IntakeSettings:
    """`[intake]`: the folder whose sub-folders, one per creditor code, receive files."""

    dir: str | None = None
    # How often `relance serve` looks for new files.
    every_seconds: int = 60


@dataclass(frozen=True)
class AuditSettings:
    """`[audit]`: the key that signs exported audit trails (`relance audit export`)."""

    # Relative to the workspace; None: `.relance/audit.key`, created on first export.
    signing_key_file: str | None = None


@dataclass(frozen=True)
class PayerSettings:
    """`[payer]`: where the payer classes of the learnt profile part
    (`engine.payer_profile`). Inclusive bounds: `good` pays at most `good_max_days_late`
    days late on average; `bad` pays at least `bad_min_days_late` days late, or keeps at
    most `bad_max_promises_kept` of its promises (a ratio, 0 to 1)."""

    good_max_days_late: int = 5
    bad_min_days_late: int = 30
    bad_max_promises_kept: Decimal = Decimal("0.5")


@dataclass(frozen=True)
class WebSettings:
    """`[web]`: the debtor's page (`relance web`, `engine.portal_links`).

    The secret that signs the personal links is never written here: it comes from
    `RELANCE_WEB_SECRET` or the owner-only file `secret_file` (relative to the
    workspace). Without `base_url` and a secret, messages carry no link."""

    # Where debtors reach `relance web` (behind the reverse proxy): https://pay.example.fr
    base_url: str | None = None
    secret_file: str | None = None
    # How long a personal link works after the message that carries it was prepared.
    link_days: int = 60
    # The latest day a debtor may promise to pay, counted from the day they promise.
    promise_max_days: int = 30
    # The largest proof of payment a debtor may upload.
    upload_max_kb: int = 5120


@dataclass(frozen=True)
class Settings:
    """The tables of `relance.toml` that the run, the scheduler and the demo read."""

    workspace: WorkspaceSettings
    database: DatabaseSettings
    run: RunSettings
    schedule: ScheduleConfig
    ui: UiSettings = UiSettings()
    agency: AgencySettings = AgencySettings()
    intake: IntakeSettings = IntakeSettings()
    audit: AuditSettings = AuditSettings()
    payer: PayerSettings = PayerSettings()
    web: WebSettings = WebSettings()


# The keys of each table read here; the scheduler's are `kernel.schedule.KNOWN_KEYS`.
KEYS: Mapping[str, tuple[str, ...]] = {
    "workspace": ("rules", "templates", "outbox"),
    "database": ("url",),
    "run": ("auto_approve", "timezone"),
    "ui": ("language",),
    "agency": ("name", "siren", "address", "email", "phone", "insurer", "insurance_policy",
               "funds_iban", "funds_bic"),
    "intake": ("dir", "every_seconds"),
    "audit": ("signing_key_file",),
    "payer": ("good_max_days_late", "bad_min_days_late", "bad_max_promises_kept"),
    "web": ("base_url", "secret_file", "link_days", "promise_max_days", "upload_max_kb"),
}


def _workspace(table: Table) -> WorkspaceSettings:
    table.only(KEYS["workspace"], _("the workspace"))
    default = WorkspaceSettings()
    return WorkspaceSettings(
        rules=table.text("rules", default.rules) or default.rules,
        templates=table.text("templates", default.templates) or default.templates,
        outbox=table.text("outbox", default.outbox) or default.outbox,
    )


def _database(table: Table) -> DatabaseSettings:
    table.only(KEYS["database"], _("the database"))
    return DatabaseSettings(url=table.text("url"))


def _run(table: Table) -> RunSettings:
    table.only(KEYS["run"], _("the run"))
    return RunSettings(auto_approve=table.flag("auto_approve", True),
                       timezone=table.timezone("timezone"))


def _ui(table: Table) -> UiSettings:
    table.only(KEYS["ui"], _("the interface"))
    language = table.text("language")
    if language is not None and supported(language) is None:
        raise ConfigError(_("{label}: [ui] language must be one of {choices}, not {value!r}")
                          .format(label=table.label, choices=", ".join(SUPPORTED),
                                  value=language))
    return UiSettings(language=supported(language))


def _agency(table: Table) -> AgencySettings:
    table.only(KEYS["agency"], _("the collection firm"))
    values = {key: table.text(key) for key in KEYS["agency"]}
    if not any(values.values()):
        return AgencySettings()
    checks = {"siren": check_siren, "email": check_email, "funds_iban": check_iban,
              "funds_bic": check_bic}
    for key, check in checks.items():
        if values[key]:
            try:
                values[key] = check(values[key] or "")
            except InvalidIdentifier as exc:
                raise table.fail(key, str(exc)) from None
    missing = [key for key in ("name", "siren", "address", "insurer", "insurance_policy",
                               "funds_iban") if not values[key]]
    if missing:
        raise ConfigError(_("{label}: [agency] lacks {keys}: a collection firm writes them "
                            "on its letters and holds client funds on that account").format(
            label=table.label, keys=", ".join(missing)))
    return AgencySettings(
        name=values["name"], siren=values["siren"], address=values["address"] or "",
        email=values["email"], phone=values["phone"], insurer=values["insurer"],
        insurance_policy=values["insurance_policy"], funds_iban=values["funds_iban"],
        funds_bic=values["funds_bic"])


def _intake(table: Table) -> IntakeSettings:
    table.only(KEYS["intake"], _("the intake folders"))
    return IntakeSettings(dir=table.text("dir"),
                          every_seconds=table.integer("every_seconds", 60, 5, 86_400))


def _audit(table: Table) -> AuditSettings:
    table.only(KEYS["audit"], _("the audit log"))
    return AuditSettings(signing_key_file=table.text("signing_key_file"))


def _payer(table: Table) -> PayerSettings:
    table.only(KEYS["payer"], _("the payer profile"))
    default = PayerSettings()
    good = table.integer("good_max_days_late", default.good_max_days_late, 0, 3650)
    bad = table.integer("bad_min_days_late", default.bad_min_days_late, 0, 3650)
    if bad <= good:
        raise table.fail("bad_min_days_late", _(
            "must be more than good_max_days_late ({good}), not {bad}").format(
                good=good, bad=bad))
    ratio: Any = table.data.get("bad_max_promises_kept", default.bad_max_promises_kept)
    # A TOML `true` is a Python int: refused like any other non-number.
    if isinstance(ratio, bool) or not isinstance(ratio, int | float | Decimal):
        raise table.wrong("bad_max_promises_kept", _("a number between 0 and 1"))
    # Through its text, a TOML 0.3 is the decimal 0.3, not the binary float's expansion.
    kept = Decimal(str(ratio))
    if not Decimal(0) <= kept <= Decimal(1):
        raise table.fail("bad_max_promises_kept", _(
            "must be between 0 and 1, not {value}").format(value=ratio))
    return PayerSettings(good_max_days_late=good, bad_min_days_late=bad,
                         bad_max_promises_kept=kept)


def _web(table: Table) -> WebSettings:
    table.only(KEYS["web"], _("the debtor's page"))
    default = WebSettings()
    base_url = table.text("base_url")
    if base_url is not None:
        base_url = base_url.rstrip("/")
        if not base_url.startswith(("https://", "http://")) or "?" in base_url \
                or "#" in base_url or len(base_url) <= len("https://"):
            raise table.fail("base_url", _(
                "must be the address debtors open, like https://pay.example.fr, not "
                "{value!r}").format(value=table.data["base_url"]))
    return WebSettings(
        base_url=base_url or None,
        secret_file=table.text("secret_file"),
        link_days=table.integer("link_days", default.link_days, 1, 3650),
        promise_max_days=table.integer("promise_max_days", default.promise_max_days, 1, 365),
        upload_max_kb=table.integer("upload_max_kb", default.upload_max_kb, 1, 51_200))


def _tables(config: Mapping[str, Any], label: str,
            keys: Mapping[str, Collection[str]]) -> dict[str, Table]:
    """The tables read here, from `config` (empty when absent); a table name nobody
    reads is refused. `keys`: each table's keys, to place a key written above them."""
    known = (*keys, *OTHER_TABLES)
    for name, value in config.items():
        if name in known:
            if not isinstance(value, dict):
                raise ConfigError(_("{label}: [{table}] must be a table, not {value}").format(
                    label=label, table=name, value=describe(value)))
            continue
        listed = ", ".join(sorted(known))
        close = did_you_mean(name, known)
        subject = f"[{name}]"
        owner = None
        if not isinstance(value, dict):
            # A key above every table header (`auto_approve = false` on line 1) belongs
            # to no table; say which one knows it.
            subject = name
            owner = next((table for table, names in keys.items() if name in names), None)
        if owner is not None:
            message = _("{label}: {subject} is not a table of relance.toml: did you mean "
                        "[{table}] {key}? (known: {known})").format(
                label=label, subject=subject, table=owner, key=name, known=listed)
        elif close:
            message = _("{label}: {subject} is not a table of relance.toml: did you mean "
                        "[{close}]? (known: {known})").format(
                label=label, subject=subject, close=close, known=listed)
        else:
            message = _("{label}: {subject} is not a table of relance.toml "
                        "(known: {known})").format(label=label, subject=subject, known=listed)
        raise ConfigError(message)
    return {name: Table(label, name, config.get(name, {})) for name in keys}


def parse_settings(config: Mapping[str, Any], *, label: str = CONFIG_LABEL,
                   root: Path | None = None) -> Settings:
    """Check and read the parsed `relance.toml`; `label` names the file in errors and
    `root` is the workspace folder that relative paths start from."""
    tables = _tables(config, label, {**KEYS, "schedule": KNOWN_KEYS})
    run = _run(tables["run"])
    return Settings(
        workspace=_workspace(tables["workspace"]),
        database=_database(tables["database"]),
        run=run,
        schedule=parse_schedule(tables["schedule"].data, label=label, root=root,
                                default_timezone=run.timezone),
        ui=_ui(tables["ui"]),
        agency=_agency(tables["agency"]),
        intake=_intake(tables["intake"]),
        audit=_audit(tables["audit"]),
        payer=_payer(tables["payer"]),
        web=_web(tables["web"]),
    )
