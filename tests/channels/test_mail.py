"""E-mails received by an aiosmtpd server on loopback and parsed back."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import random
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses
from pathlib import Path

import pytest

from relance.channels import mail
from relance.channels.dispatch import dispatch
from relance.channels.mail import (
    HeaderRefused,
    build_message,
    check_header_value,
    mailbox,
    write_eml,
)
from relance.store.db import Store
from relance.store.models import Action, ActionState, Debtor, Event, Invoice
from tests.channels.factory import (
    TODAY,
    add_action,
    add_creditor,
    add_debtor,
    add_invoice,
    make_workspace,
)
from tests.channels.smtp_server import LoopbackSmtp, Recorder


def recipients(message: EmailMessage) -> set[str]:
    """Every address in a header that routes mail, as a receiving MTA would see them."""
    values = [str(v) for h in ("To", "Cc", "Bcc", "Resent-To") for v in message.get_all(h, [])]
    return {addr.lower() for _, addr in getaddresses(values) if addr}


def book(store: Store, n: int = 1, template: str = "relance_2",
         **debtor_kw: object) -> list[int]:
    ids = []
    with store.transaction() as s:
        creditor = add_creditor(s)
        for k in range(n):
            debtor = add_debtor(s, creditor, f"F-{k:04d}", **debtor_kw)
            invoice = add_invoice(s, debtor, f"FA-{k:04d}", 150_000 + k,
                                  TODAY - dt.timedelta(days=20))
            ids.append(add_action(s, debtor, [invoice], channel="email",
                                  template=template).id)
    return ids


def test_emails_arrive_with_html_text_pdf_and_the_creditors_headers(store: Store,
                                                                   tmp_path: Path) -> None:
    ids = book(store, 3)
    recorder = Recorder()
    with LoopbackSmtp(recorder) as server:
        workspace = make_workspace(tmp_path / "ws", {"smtp": server.config()})
        report = dispatch(store, workspace, today=TODAY)
    assert report.sent == 3 and report.failed == 0, report.errors
    assert len(recorder.messages) == 3
    by_to = {str(m["To"]): m for m in recorder.messages}
    message = by_to["Boulangerie F-0001 <f-0001@client.example>"]
    assert str(message["From"]) == "Acme Distribution SAS <recouvrement@acme-distribution.fr>"
    assert str(message["Reply-To"]) == \
        "Acme Distribution SAS <compta@acme-distribution.fr>"
    assert "deuxième relance" in str(message["Subject"])
    assert recipients(message) == {"f-0001@client.example"}
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None and html is not None
    assert "1 500,01" in plain.get_content().replace("\u202f", " ")
    assert "Acme Distribution SAS" in html.get_content()
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == "relance_2-F-0001.pdf"
    assert attachment.get_content().startswith(b"%PDF")
    # The envelope matches the headers.
    assert sorted(r for _, rs in recorder.envelopes for r in rs) == [
        "f-0000@client.example", "f-0001@client.example", "f-0002@client.example"]
    with store.transaction() as s:
        for action_id in ids:
            action = s.get(Action, action_id)
            assert action is not None and action.state == ActionState.SENT
            assert action.output["message_id"].endswith("@acme-distribution.fr>")
            # The exact message that left is kept: the case's history opens this copy.
            kept = email.message_from_bytes(Path(action.output["eml"]).read_bytes(),
                                            policy=email.policy.default)
            assert kept["Message-ID"] == action.output["message_id"]
            assert kept["Message-ID"] in {m["Message-ID"] for m in recorder.messages}


def test_debtor_name_with_crlf_bcc_is_refused_and_nothing_is_sent(store: Store,
                                                                  tmp_path: Path) -> None:
    [action_id] = book(store, 1, name="Evil Corp\r\nBcc: victim@evil.test")
    recorder = Recorder()
    with LoopbackSmtp(recorder) as server:
        report = dispatch(store, make_workspace(tmp_path / "ws", {"smtp": server.config()}),
                          today=TODAY)
    assert report.failed == 1 and recorder.messages == []
    with store.transaction() as s:
        action = s.get(Action, action_id)
        assert action is not None and action.state == ActionState.FAILED
        assert "debtor name contains U+000D" in (action.last_error or "")


@pytest.mark.parametrize("value", [
    "Dupont\r\nBcc: x@evil.test", "Dupont\nBcc: x@evil.test", "=?UTF-8?Q?=0A?=Bcc: x@evil.test",
    "Dupont\u2028Bcc: x@evil.test", "Dupont\u2029x", "Dupont\x00", "Dupont\u0085x",
])
def test_header_values_with_control_characters_or_encoded_words_are_refused(value: str) -> None:
    with pytest.raises(HeaderRefused):
        check_header_value(value, "subject")
    with pytest.raises(HeaderRefused):
        mailbox(value, "a@example.com", "debtor")


def test_a_safe_unicode_subject_round_trips_and_adds_no_recipient() -> None:
    message = build_message(
        sender=mailbox("Société Générale d'Outillage", "relances@sgo.fr", "creditor"),
        to=mailbox("Café « Le Zinc »", "zinc@example.fr", "debtor"),
        subject="Relance – facture impayée 💶 Bcc: x@evil.test", text="Bonjour", html=None,
        msg_id="<x@sgo.fr>")
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    assert recipients(parsed) == {"zinc@example.fr"}
    assert parsed["Bcc"] is None
    assert str(parsed["Subject"]) == "Relance – facture impayée 💶 Bcc: x@evil.test"


def test_451_is_retried_with_backoff_and_550_fails_with_the_servers_words(
        sqlite_store: Store, tmp_path: Path) -> None:
    ids = book(sqlite_store, 30, template="rappel")
    recorder = Recorder(tempfail_rate=0.3, reject={"f-0007@client.example"})
    with LoopbackSmtp(recorder) as server:
        workspace = make_workspace(tmp_path / "ws", {
            "smtp": server.config(), "dispatch": {"retry_base_seconds": 0, "max_attempts": 20}})
        first = dispatch(sqlite_store, workspace, today=TODAY)
        assert recorder.tempfails > 0
        # With no backoff in this workspace, one dispatch retries until done.
        assert first.sent == 29 and first.failed == 1
        assert first.retry == recorder.tempfails
    with sqlite_store.transaction() as s:
        failed = s.get(Action, ids[7])
        assert failed is not None and failed.state == ActionState.FAILED
        assert failed.last_error == "550 5.1.1 mailbox unavailable"
        retried = s.query(Event).filter(Event.kind == "action.retry_wait").all()
        assert len(retried) == recorder.tempfails
        assert all("451 4.3.0 try again later" in e.data["error"] for e in retried)
    assert recorder.message_ids().most_common(1)[0][1] == 1  # no duplicates


def test_backoff_delays_the_next_attempt(sqlite_store: Store, tmp_path: Path) -> None:
    [action_id] = book(sqlite_store, 1, template="rappel")
    recorder = Recorder(tempfail_rate=1.0)
    with LoopbackSmtp(recorder) as server:
        workspace = make_workspace(tmp_path / "ws", {
            "smtp": server.config(), "dispatch": {"retry_base_seconds": 600}})
        report = dispatch(sqlite_store, workspace, today=TODAY)
        assert report.retry == 1
        again = dispatch(sqlite_store, workspace, today=TODAY)
        assert again.retry == 0 and again.sent == 0  # not due yet
    with sqlite_store.transaction() as s:
        action = s.get(Action, action_id)
        assert action is not None and action.state == ActionState.RETRY_WAIT
        assert action.next_attempt_at is not None and action.attempts == 1


def test_refused_connection_is_a_temporary_failure(sqlite_store: Store, tmp_path: Path) -> None:
    from tests.channels.smtp_server import free_port

    [action_id] = book(sqlite_store, 1)
    workspace = make_workspace(tmp_path / "ws", {
        "smtp": {"host": "127.0.0.1", "port": free_port(), "security": "none", "timeout": 2},
        "dispatch": {"retry_base_seconds": 600}})
    report = dispatch(sqlite_store, workspace, today=TODAY)
    assert report.retry == 1
    with sqlite_store.transaction() as s:
        action = s.get(Action, action_id)
        assert action is not None and action.state == ActionState.RETRY_WAIT
        assert "cannot connect to 127.0.0.1" in (action.last_error or "")


def test_without_smtp_emails_are_written_to_the_outbox(store: Store, tmp_path: Path) -> None:
    book(store, 2)
    workspace = make_workspace(tmp_path / "ws")
    report = dispatch(store, workspace, today=TODAY)
    assert report.sent == 2
    emls = sorted((workspace.outbox_dir / "emails" / "2026-11-22").glob("*.eml"))
    assert len(emls) == 2 and [str(p) for p in emls] == sorted(report.paths)
    parsed = email.message_from_bytes(emls[0].read_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    assert recipients(parsed) == {"f-0000@client.example"}
    assert [a.get_filename() for a in parsed.iter_attachments()] == ["relance_2-F-0000.pdf"]


def test_dry_run_writes_files_and_changes_nothing(store: Store, tmp_path: Path) -> None:
    ids = book(store, 2)
    recorder = Recorder()
    with LoopbackSmtp(recorder) as server:
        workspace = make_workspace(tmp_path / "ws", {"smtp": server.config()})
        report = dispatch(store, workspace, today=TODAY, dry_run=True)
    assert recorder.messages == [] and report.sent == 0 and report.rendered == 2
    assert all("/outbox/dry-run/" in p for p in report.paths)
    with store.transaction() as s:
        assert {s.get(Action, i).state for i in ids} == {ActionState.APPROVED}  # type: ignore[union-attr]


def test_notify_goes_to_the_sales_rep(sqlite_store: Store, tmp_path: Path) -> None:
    with sqlite_store.transaction() as s:
        creditor = add_creditor(s)
        named = add_debtor(s, creditor, "N-1", sales_rep="Jeanne Martin")
        direct = add_debtor(s, creditor, "N-2", sales_rep="paul@acme.example")
        nobody = add_debtor(s, creditor, "N-3", sales_rep="Inconnu")
        for debtor in (named, direct, nobody):
            inv = add_invoice(s, debtor, f"X-{debtor.ref}", 9_900, TODAY - dt.timedelta(days=9))
            add_action(s, debtor, [inv], channel="notify", template="late_alert",
                       notify_role="sales_rep")
    recorder = Recorder()
    with LoopbackSmtp(recorder) as server:
        workspace = make_workspace(tmp_path / "ws", {
            "smtp": server.config(),
            "notify": {"people": {"Jeanne Martin": "jeanne@acme.example"}}})
        report = dispatch(sqlite_store, workspace, today=TODAY)
    assert report.sent == 2 and report.failed == 1
    assert sorted(str(m["To"]) for m in recorder.messages) == [
        "Jeanne Martin <jeanne@acme.example>", "paul@acme.example"]
    assert any("no e-mail address for sales_rep 'Inconnu'" in e for e in report.errors)
    alert = recorder.messages[0]
    assert str(alert["Subject"]).startswith("[Retard] Boulangerie N-")
    assert list(alert.iter_attachments()) == []


def test_connections_are_bounded_and_reused(sqlite_store: Store, tmp_path: Path) -> None:
    book(sqlite_store, 40, template="rappel")
    recorder = Recorder()
    with LoopbackSmtp(recorder) as server:
        workspace = make_workspace(tmp_path / "ws", {
            "smtp": server.config(max_connections=2), "dispatch": {"batch_size": 100}})
        report = dispatch(sqlite_store, workspace, today=TODAY)
    assert report.sent == 40 and len(recorder.messages) == 40
    assert recorder.sessions == 2


def test_starttls_required_but_not_offered_never_falls_back_to_plain_text(
        sqlite_store: Store, tmp_path: Path) -> None:
    [action_id] = book(sqlite_store, 1, template="rappel")
    recorder = Recorder()
    with LoopbackSmtp(recorder) as server:
        workspace = make_workspace(tmp_path / "ws", {
            "smtp": server.config(security="starttls"),
            "dispatch": {"retry_base_seconds": 600}})
        report = dispatch(sqlite_store, workspace, today=TODAY)
    assert report.sent == 0 and recorder.messages == []
    with sqlite_store.transaction() as s:
        action = s.get(Action, action_id)
        assert action is not None and action.state == ActionState.RETRY_WAIT
        assert "STARTTLS" in (action.last_error or "")


# Names around the header fold (issue 19). Python 3.11's `email.policy.SMTP` drops the
# quotes of a display name when it folds it, so a long name holding `, <evil@x.fr>,`
# became a second recipient. Each special is tried in ASCII and accented names at each
# length from 60 to 100 characters and at 150, early, around the middle and at the end.
_FILLERS = ["Salon de coiffure Lyon Part-Dieu et associes reunis ",
            "Salon de coiffure Lyon Part-Dieu et associés réunis "]
_SPECIALS = ["", ", <evil@x.fr>,", '"', "\\", "@", ";", ":", "<", ">", ",",
             "é", "Café « Le Zinc »", '", <evil@x.fr>, "', '\\", <evil@x.fr>,',
             "Müller; evil@x.fr: <a@b.fr>", "()[].", "Café\u00a0«\u00a0Le\u00a0Zinc\u00a0»", "日本",
             "Ελληνική Εταιρεία"]


def _names(special: str) -> list[str]:
    names = set()
    for filler in _FILLERS:
        text = filler * 4
        for n in [*range(60, 101), 150]:
            for at in {0, n // 2, max(n - len(special) - 1, 0)}:
                name = f"{text[:at]} {special} {text}"[:n] if special else text[:n]
                names.add(" ".join(part for part in name.split(" ") if part))
    return sorted(names)


def _addresses(raw: bytes, *headers: str) -> list[list[tuple[str, str]]]:
    """Each header's addresses, read back as a receiving mail program would."""
    parsed = BytesParser(policy=email.policy.default).parsebytes(raw)
    found = []
    for header in headers:
        values = parsed.get_all(header, [])
        assert len(values) == 1, f"{len(values)} {header} headers"
        found.append([(a.display_name, a.addr_spec) for a in values[0].addresses])
    return found


def _hostile_message(name: str) -> EmailMessage:
    return build_message(
        sender=mailbox(name, "recouvrement@acme.fr", "creditor"),
        to=mailbox(name, "debiteur@client.fr", "debtor"),
        reply_to=mailbox(name, "compta@acme.fr", "reply-to"),
        subject="Relance", text="Bonjour", html=None, msg_id="<k@acme.fr>")


@pytest.mark.parametrize("special", _SPECIALS)
def test_display_names_around_the_fold_stay_one_address(special: str, tmp_path: Path) -> None:
    wrong = []
    for name in _names(special):
        message = _hostile_message(name)
        raw = write_eml(message, tmp_path / "m.eml").read_bytes()
        # What is sent, what is written and the message's own bytes are the same.
        assert raw == mail.message_bytes(message) == message.as_bytes()
        to, sender, reply_to = _addresses(raw, "To", "From", "Reply-To")
        if (to, sender, reply_to) != ([(name, "debiteur@client.fr")],
                                      [(name, "recouvrement@acme.fr")],
                                      [(name, "compta@acme.fr")]):
            wrong.append(f"{len(name)} {name!r}: {to} {sender} {reply_to}")
        head = raw.split(b"\r\n\r\n", 1)[0]
        assert all(len(line) <= 998 for line in head.split(b"\r\n"))
    assert not wrong, "\n".join(wrong[:10])


def test_runs_of_spaces_in_a_name_are_one_space() -> None:
    # Python's parser swallows whitespace after a space; the name is written as read.
    assert mailbox("  Salon \u00a0 de   Lyon ", "d@client.fr", "debtor").display_name == \
        "Salon de Lyon"
    assert mailbox("Salon\u00a0de Lyon", "d@client.fr", "debtor").display_name == \
        "Salon\u00a0de Lyon"


def test_a_very_long_non_ascii_name_is_refused_not_cut() -> None:
    name = "Ελληνική " * 100
    with pytest.raises(HeaderRefused, match="debtor name is too long"):
        mailbox(name, "d@client.fr", "debtor")


@pytest.mark.parametrize("name", [
    "Salon de coiffure Lyon Part-Dieu et associes reunis, <evil@x.fr>, SARL au capital",
    "Salon de coiffure Lyon Part-Dieu et associés réunis, <evil@x.fr>, SARL au capital",
])
def test_the_reported_name_no_longer_adds_a_recipient(name: str, tmp_path: Path) -> None:
    raw = write_eml(_hostile_message(name), tmp_path / "m.eml").read_bytes()
    parsed = BytesParser(policy=email.policy.default).parsebytes(raw)
    assert isinstance(parsed, EmailMessage)
    assert recipients(parsed) == {"debiteur@client.fr"}
    assert _addresses(raw, "To") == [[(name, "debiteur@client.fr")]]


def test_a_hostile_long_debtor_name_reaches_only_the_debtor(store: Store, tmp_path: Path) -> None:
    name = "Salon de coiffure Lyon Part-Dieu et associes reunis, <evil@x.fr>, SARL au capital"
    creditor_name = 'Acme "Distribution", <evil@x.fr>, Recouvrement amiable des créances SAS'
    with store.transaction() as s:
        creditor = add_creditor(s, name=creditor_name)
        debtor = add_debtor(s, creditor, "F-0001", name=name)
        invoice = add_invoice(s, debtor, "FA-1", 150_000, TODAY - dt.timedelta(days=20))
        add_action(s, debtor, [invoice], channel="email", template="rappel")
        add_action(s, debtor, [invoice], channel="email", template="relance_2")
    recorder = Recorder()
    with LoopbackSmtp(recorder) as server:
        report = dispatch(store, make_workspace(tmp_path / "ws", {"smtp": server.config()}),
                          today=TODAY)
    assert report.sent == 2, report.errors
    assert [r for _, rs in recorder.envelopes for r in rs] == ["f-0001@client.example"] * 2
    for message in recorder.messages:
        assert recipients(message) == {"f-0001@client.example"}
        assert [(a.display_name, a.addr_spec) for a in message["To"].addresses] == [
            (name, "f-0001@client.example")]
        assert [a.display_name for a in message["From"].addresses] == [creditor_name]
        assert [a.addr_spec for a in message["Reply-To"].addresses] == [
            "compta@acme-distribution.fr"]
    outbox = make_workspace(tmp_path / "ws2")
    with store.transaction() as s:
        again, owed = s.get(Debtor, debtor.id), s.get(Invoice, invoice.id)
        assert again is not None and owed is not None
        add_action(s, again, [owed], channel="email", template="rappel", key="again")
    assert dispatch(store, outbox, today=TODAY).sent == 1
    [eml] = (outbox.outbox_dir / "emails").rglob("*.eml")
    assert _addresses(eml.read_bytes(), "To") == [[(name, "f-0001@client.example")]]


@pytest.mark.parametrize("subject", [
    "Relance\r\nBcc: x@evil.test", "Relance\nBcc: x@evil.test", "Relance\rBcc: x@evil.test",
    "Relance\u2028Bcc: x@evil.test", "=?UTF-8?Q?=0A?=Bcc: x@evil.test",
])
def test_a_subject_with_a_line_break_is_refused(subject: str) -> None:
    with pytest.raises(HeaderRefused, match="subject"):
        build_message(sender=mailbox("Acme", "a@acme.fr", "creditor"),
                      to=mailbox("Dupont", "d@client.fr", "debtor"),
                      subject=subject, text="x", html=None, msg_id="<k@acme.fr>")


@pytest.mark.parametrize("special", _SPECIALS)
def test_long_subjects_round_trip_and_add_no_header(special: str) -> None:
    for name in _names(special):
        subject = f"Relance – {name} Bcc: x@evil.test"
        message = build_message(sender=mailbox("Acme", "a@acme.fr", "creditor"),
                                to=mailbox("Dupont", "d@client.fr", "debtor"),
                                subject=subject, text="x", html=None, msg_id="<k@acme.fr>")
        parsed = BytesParser(policy=email.policy.default).parsebytes(mail.message_bytes(message))
        assert str(parsed["Subject"]) == subject
        assert sorted(parsed.keys()) == sorted(
            ["From", "To", "Subject", "Message-ID", "Content-Type",
             "Content-Transfer-Encoding", "MIME-Version"])


@pytest.mark.parametrize("addr", ["dé@client.fr", "d@clïent.fr", "d@client.fr, e@evil.test",
                                  "Evil <e@evil.test>", "d@client.fr\r\nBcc: e@evil.test"])
def test_addresses_are_plain_ascii_mailboxes(addr: str) -> None:
    with pytest.raises(HeaderRefused):
        mailbox("Dupont", addr, "debtor")


def test_random_names_and_subjects_round_trip() -> None:
    """A fixed-seed sweep over mixed scripts, specials, spaces and lengths."""
    rng = random.Random(19)
    alphabet = [*"αβγδεζηθικλμ éàü日本語€–«»\u00a0,;:<>\"\\@()[]abcXYZ019", *" " * 6]
    for _ in range(300):
        name = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 160)))
        subject = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 220)))
        message = build_message(sender=mailbox(name, "a@acme.fr", "creditor"),
                                to=mailbox(name, "d@client.fr", "debtor"), subject=subject,
                                text="x", html=None, msg_id="<k@acme.fr>")
        written = message["To"].addresses[0].display_name
        raw = mail.message_bytes(message)
        parsed = BytesParser(policy=email.policy.default).parsebytes(raw)
        assert [(a.display_name, a.addr_spec) for a in parsed["To"].addresses] == [
            (written, "d@client.fr")], raw
        assert str(parsed["Subject"]) == str(message["Subject"]), raw
        assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
