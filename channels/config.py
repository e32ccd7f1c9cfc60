"""The `[smtp]`, `[sms]`, `[notify]` and `[dispatch]` sections of `relance.toml`.

Secrets never live in `relance.toml` (it is committed with the rules): the SMTP password
comes from `RELANCE_SMTP_PASSWORD` or from a file readable by its owner only
(`password_file`), the SMS gateway's credential from `RELANCE_SMS_TOKEN` or
`token_file`. A `password` or `token` key in the file is refused, naming the key.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from relance.kernel.config_table import Table
from relance.kernel.errors import ConfigError
from relance.kernel.i18n import N_, _
from relance.kernel.workspace import Workspace

SMTP_PASSWORD_ENV = "RELANCE_SMTP_PASSWORD"
SMS_TOKEN_ENV = "RELANCE_SMS_TOKEN"
SECURITY_MODES = ("starttls", "ssl", "none")

# The keys each table may hold: a misspelt key (`hots`, `max_attemps`) would otherwise be
# ignored and the channel would run on its default without a word.
SMTP_KEYS = ("host", "port", "security", "username", "password_file", "from",
             "max_connections", "timeout", "messages_per_connection", "ca_file")
SMS_KEYS = ("url", "auth_header", "token_file", "body", "sender", "timeout", "id_field",
            "default_region")
DISPATCH_KEYS = ("retry_base_seconds", "retry_max_seconds", "max_attempts", "lease_seconds",
                 "deadline_days", "letter_processes", "batch_size", "processes")


def _label(workspace: Workspace, section: str, key: str) -> str:
    return f"{workspace.config_label}: [{section}] {key}"


def _section(workspace: Workspace, name: str, known: tuple[str, ...], what: str,
             *, secret: tuple[str, str] | None = None) -> dict[str, Any]:
    """The table `name`, refused when it holds its secret (`secret`: the key and the
    environment variable that should carry it) or a key nobody reads."""
    data = workspace.section(name)
    if secret is not None and secret[0] in data:
        key, env = secret
        raise ConfigError(_("{setting}: secrets do not belong in relance.toml; set {env} or "
                            "{key}_file").format(setting=_label(workspace, name, key), env=env,
                                                 key=key))
    Table(workspace.config_label, name, data).only(known, _(what))
    return data


def _get(data: dict[str, Any], key: str, kind: type | tuple[type, ...], default: Any,
         label: str) -> Any:
    value = data.get(key, default)
    if value is default:
        return value
    # bool is an int in Python; a port given as `true` is still wrong.
    if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
        kinds = kind if isinstance(kind, tuple) else (kind,)
        sentence = _WRONG_KIND.get(kinds, N_("{setting} must be a {kind}, not {value}"))
        raise ConfigError(_(sentence).format(
            setting=label, value=repr(value), kind=" or ".join(k.__name__ for k in kinds)))
    return value


# The sentence refusing a value of the wrong kind, by what the setting takes.
_WRONG_KIND: dict[tuple[type, ...], str] = {
    (str,): N_("{setting} must be a text, not {value}"),
    (int,): N_("{setting} must be a whole number, not {value}"),
    (bool,): N_("{setting} must be a true/false, not {value}"),
    (dict,): N_("{setting} must be a table, not {value}"),
    (int, float): N_("{setting} must be a whole number or number, not {value}"),
}


def read_secret_file(path: Path, label: str) -> str:
    """A secret from a file that only its owner can read (mode 0600 or stricter)."""
    try:
        info = path.stat()
    except OSError as exc:
        raise ConfigError(_("{setting}: cannot read {path} ({problem})").format(
            setting=label, path=path, problem=exc.strerror)) from exc
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(_("{setting}: {path} is readable by others; chmod 600 it").format(
            setting=label, path=path))
    return path.read_text(encoding="utf-8").strip()


def mask(secret: str | None) -> str:
    """What logs and screens show instead of a secret."""
    return "" if not secret else "****"


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    security: str
    username: str | None
    password: str | None = field(repr=False)
    sender: str | None
    max_connections: int
    timeout: float
    messages_per_connection: int
    ca_file: str | None = None

    def describe(self) -> str:
        if not self.username:
            return f"{self.security} {self.host}:{self.port}"
        return _("{security} {host}:{port} as {user} (password {password})").format(
            security=self.security, host=self.host, port=self.port, user=self.username,
            password=mask(self.password))


def smtp_config(workspace: Workspace) -> SmtpConfig | None:
    """The SMTP settings, or None when no `[smtp] host` is set (e-mails go to outbox/)."""
    data = _section(workspace, "smtp", SMTP_KEYS, N_("the e-mail server"),
                    secret=("password", SMTP_PASSWORD_ENV))

    def label(key: str) -> str:
        return _label(workspace, "smtp", key)

    host = _get(data, "host", str, None, label("host"))
    if not host:
        return None
    security = _get(data, "security", str, "starttls", label("security"))
    if security not in SECURITY_MODES:
        raise ConfigError(_("{setting} must be one of {choices}, not {value!r}").format(
            setting=label("security"), choices=", ".join(SECURITY_MODES), value=security))
    default_port = {"starttls": 587, "ssl": 465, "none": 25}[security]
    port = _get(data, "port", int, default_port, label("port"))
    if not 0 < port < 65536:
        raise ConfigError(_("{setting} must be between 1 and 65535, not {value}").format(
            setting=label("port"), value=port))
    username = _get(data, "username", str, None, label("username"))
    password = os.environ.get(SMTP_PASSWORD_ENV)
    password_file = _get(data, "password_file", str, None, label("password_file"))
    if password is None and password_file:
        password = read_secret_file(workspace.root / password_file, label("password_file"))
    if username and password is None:
        raise ConfigError(_("{setting} is set but no password: set {env} or [smtp] "
                            "password_file").format(setting=label("username"),
                                                    env=SMTP_PASSWORD_ENV))
    max_connections = _get(data, "max_connections", int, 4, label("max_connections"))
    if not 1 <= max_connections <= 64:
        raise ConfigError(_("{setting} must be between 1 and 64").format(
            setting=label("max_connections")))
    timeout = _get(data, "timeout", (int, float), 30, label("timeout"))
    per_conn = _get(data, "messages_per_connection", int, 200, label("messages_per_connection"))
    return SmtpConfig(
        host=host, port=port, security=security, username=username, password=password,
        sender=_get(data, "from", str, None, label("from")),
        max_connections=max_connections, timeout=float(timeout),
        messages_per_connection=max(1, per_conn),
        ca_file=_get(data, "ca_file", str, None, label("ca_file")),
    )


def sender_address(workspace: Workspace) -> str | None:
    """`[smtp] from`, read whether or not `[smtp] host` is set: besides the envelope
    sender, it is the From address of a creditor that has no e-mail address of its own
    (creditors imported from a ledger often have none)."""
    value: str | None = _get(workspace.section("smtp"), "from", str, None,
                             _label(workspace, "smtp", "from"))
    return (value.strip() or None) if value else None


@dataclass(frozen=True)
class SmsConfig:
    url: str
    auth_header: str | None
    token: str | None = field(repr=False)
    body: dict[str, str]
    sender: str | None
    timeout: float
    id_field: str | None
    default_region: str


def sms_config(workspace: Workspace) -> SmsConfig | None:
    """The SMS gateway settings, or None when no `[sms] url` is set."""
    data = _section(workspace, "sms", SMS_KEYS, N_("the SMS gateway"),
                    secret=("token", SMS_TOKEN_ENV))

    def label(key: str) -> str:
        return _label(workspace, "sms", key)

    url = _get(data, "url", str, None, label("url"))
    if not url:
        return None
    if not url.startswith(("http://", "https://")):
        raise ConfigError(_("{setting} must be an http:// or https:// URL").format(
            setting=label("url")))
    body = _get(data, "body", dict, {"to": "{to}", "text": "{text}", "from": "{sender}"},
                label("body"))
    for key, value in body.items():
        if not isinstance(value, str):
            raise ConfigError(_("{setting} must be a text").format(
                setting=label("body." + key)))
    token = os.environ.get(SMS_TOKEN_ENV)
    token_file = _get(data, "token_file", str, None, label("token_file"))
    if token is None and token_file:
        token = read_secret_file(workspace.root / token_file, label("token_file"))
    return SmsConfig(
        url=url,
        auth_header=_get(data, "auth_header", str, None, label("auth_header")),
        token=token, body=dict(body),
        sender=_get(data, "sender", str, None, label("sender")),
        timeout=float(_get(data, "timeout", (int, float), 15, label("timeout"))),
        id_field=_get(data, "id_field", str, None, label("id_field")),
        default_region=_get(data, "default_region", str, "FR", label("default_region")),
    )


@dataclass(frozen=True)
class DispatchConfig:
    retry_base_seconds: float
    retry_max_seconds: float
    max_attempts: int
    lease_seconds: float
    deadline_days: int
    letter_processes: int
    batch_size: int
    # How many processes send e-mails (`relance.channels.processes`); None: one per
    # core.
    processes: int | None = None


def dispatch_config(workspace: Workspace) -> DispatchConfig:
    data = _section(workspace, "dispatch", DISPATCH_KEYS, N_("the dispatch"))

    def label(key: str) -> str:
        return _label(workspace, "dispatch", key)

    deadline = _get(data, "deadline_days", int, 8, label("deadline_days"))
    if deadline not in (8, 15):
        raise ConfigError(_("{setting} must be 8 or 15, not {value}").format(
            setting=label("deadline_days"), value=deadline))
    return DispatchConfig(
        retry_base_seconds=float(_get(data, "retry_base_seconds", (int, float), 60,
                                      label("retry_base_seconds"))),
        retry_max_seconds=float(_get(data, "retry_max_seconds", (int, float), 6 * 3600,
                                     label("retry_max_seconds"))),
        max_attempts=_get(data, "max_attempts", int, 8, label("max_attempts")),
        lease_seconds=float(_get(data, "lease_seconds", (int, float), 900,
                                 label("lease_seconds"))),
        deadline_days=deadline,
        letter_processes=_get(data, "letter_processes", int, 1, label("letter_processes")),
        batch_size=_get(data, "batch_size", int, 50, label("batch_size")),
        processes=_processes(data, label("processes")),
    )


def _processes(data: dict[str, Any], label: str) -> int | None:
    value = _get(data, "processes", int, None, label)
    if value is not None and not 1 <= value <= 64:
        raise ConfigError(_("{setting} must be between 1 and 64").format(setting=label))
    return None if value is None else int(value)


def notify_addresses(workspace: Workspace) -> dict[str, str]:
    """`[notify]` maps roles and people to e-mail addresses (`manager = "..."`,
    `[notify.people] "Jeanne Martin" = "jeanne@..."`), flattened."""
    data = workspace.section("notify")
    result: dict[str, str] = {}
    for key, value in data.items():
        if isinstance(value, str):
            result[key] = value
        elif isinstance(value, dict):
            for person, address in value.items():
                if not isinstance(address, str):
                    raise ConfigError(_("{setting} must be a text").format(
                        setting=_label(workspace, "notify", f"{key}.{person}")))
                result[person] = address
        else:
            raise ConfigError(_("{setting} must be a text or a table").format(
                setting=_label(workspace, "notify", key)))
    return result
