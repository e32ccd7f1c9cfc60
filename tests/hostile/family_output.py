"""Hostile text on its way out: into templates (Jinja injection, remote fetches, recursion),
e-mail headers, spreadsheet exports, the terminal and the outbox's file names.

A hostile debtor arrives the way a user's would, by `relance import invoices`; its action
is queued directly in the book (the policy is not what is probed) and rendered by
`relance preview`, which writes what dispatch would send.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import getaddresses
from pathlib import Path

from sqlalchemy import select

from relance.store.models import Creditor, Debtor, Invoice
from tests.channels.factory import add_action
from tests.hostile.bench import Bench, listening
from tests.hostile.family_files import csv_text
from tests.hostile.probe import Expect, Probe
from tests.importing.conftest import row

CORPUS = Path(__file__).resolve().parent / "corpus"
TEMPLATE = "hx"
SENDER = "relances@jcda.example"
PLAIN_LETTER = "<html><body><p>Madame, Monsieur {{ debtor.name }},</p></body></html>"
PLAIN_MAIL = ("{% set subject %}Relance {{ debtor.name }}{% endset %}"
              "Bonjour {{ debtor.name }},\n{% for inv in invoices %}{{ inv.number }}\n"
              "{% endfor %}")


def hostile_debtor(bench: Bench, *, name: str = "Salon Hostile", ref: str = "HX-D",
                   email_address: str = "hx@client.example", number: str = "HX-1",
                   channel: str = "email", letter: str = PLAIN_LETTER,
                   mail: str = PLAIN_MAIL) -> int:
    """Import the debtor, write the workspace template `hx`, queue one action; its id."""
    path = bench.root / "hostile.csv"
    path.write_text(csv_text([row(number, ref=ref, name=name, email=email_address,
                                  due="2026-09-01", issue="2026-08-01")]), encoding="utf-8")
    bench.accepted("import", "invoices", str(path))
    folder = bench.root / "templates" / TEMPLATE
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "letter.fr.html").write_text(letter, encoding="utf-8")
    (folder / "email.fr.txt").write_text(mail, encoding="utf-8")
    with (bench.root / "relance.toml").open("a", encoding="utf-8") as toml:
        toml.write(f'\n[smtp]\nfrom = "{SENDER}"\n')
    with bench.store.transaction() as session:
        debtor = session.scalars(select(Debtor).where(Debtor.ref == ref)).one()
        invoice = session.scalars(select(Invoice).where(Invoice.number == number)).one()
        creditor = session.get(Creditor, debtor.creditor_id)
        assert creditor is not None
        creditor.email = SENDER
        # The dispatch refuses a creditor without these before rendering: the probe must
        # reach the templates.
        creditor.address, creditor.siren = "1 rue X\n69002 Lyon", "552100554"
        creditor.iban = "FR7630006000011234567890189"
        return add_action(session, debtor, [invoice], channel=channel,
                          template=TEMPLATE).id


def rendered(bench: Bench, suffix: str) -> list[Path]:
    return sorted((bench.root / "outbox").rglob(f"*{suffix}"))


def parsed_eml(bench: Bench) -> EmailMessage:
    [path] = rendered(bench, ".eml")
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def recipients(message: EmailMessage) -> set[str]:
    values = [str(v) for h in ("To", "Cc", "Bcc") for v in message.get_all(h, [])]
    return {address.lower() for _, address in getaddresses(values) if address}


def pdf_text(bench: Bench) -> str:
    from pypdf import PdfReader

    [path] = rendered(bench, ".pdf")
    return "".join(page.extract_text() for page in PdfReader(path).pages)


def name_in_mail(name: str) -> Callable[[Bench], None]:
    """A hostile debtor name reaches the subject and body as text: the e-mail has the
    debtor as its only recipient and shows the name as typed, unevaluated."""
    def check(bench: Bench) -> None:
        action = hostile_debtor(bench, name=name)
        bench.accepted("preview", str(action))
        message = parsed_eml(bench)
        assert recipients(message) == {"hx@client.example"}
        assert message["Bcc"] is None and message["Cc"] is None
        assert str(message["Subject"]) == f"Relance {name}"
        body = message.get_body(("plain",))
        assert body is not None and f"Bonjour {name}," in body.get_content()
    return check


def name_in_letter(name: str, *shown: str) -> Callable[[Bench], None]:
    """A hostile debtor name in an HTML letter is escaped text in the PDF."""
    def check(bench: Bench) -> None:
        with listening() as listener:
            action = hostile_debtor(bench, name=name.replace("{listener}", listener.url),
                                    channel="letter")
            bench.accepted("preview", str(action))
        assert listener.connections == 0
        text = pdf_text(bench)
        for words in shown:
            assert words.replace("{listener}", listener.url) in text.replace("\n", ""), text
    return check


def letter_template(source: str, *, refused: str | None = None,
                    absent: tuple[str, ...] = ()) -> Callable[[Bench], None]:
    """A hostile workspace letter template (from the corpus folder, `{listener}` set to a
    loopback listener): refused with its reason, or rendered without fetching anything
    and without the words of `absent`."""
    def check(bench: Bench) -> None:
        with listening() as listener:
            letter = (CORPUS / source).read_text(encoding="utf-8")
            action = hostile_debtor(bench, channel="letter",
                                    letter=letter.replace("{listener}", listener.url))
            outcome = bench.relance("preview", str(action))
        assert listener.connections == 0, "rendering the letter fetched a URL"
        if refused is not None:
            assert outcome.code != 0 and refused in outcome.err, outcome
            assert "root:x:0:0" not in outcome.text
            return
        assert outcome.code == 0, outcome
        text = pdf_text(bench)
        for words in absent:
            assert words not in text, text
    return check


def mail_template(source: str, refused: str) -> Callable[[Bench], None]:
    def check(bench: Bench) -> None:
        action = hostile_debtor(bench, mail=source)
        outcome = bench.relance("preview", str(action))
        assert outcome.code != 0 and refused in outcome.err, outcome
        assert rendered(bench, ".eml") == []
        assert "root:x:0:0" not in outcome.text
    return check


def address_refused(address: str) -> Callable[[Bench], None]:
    """A debtor e-mail that would add a recipient is refused at import."""
    def check(bench: Bench) -> None:
        path = bench.root / "invoices.csv"
        path.write_text(csv_text([row("HX-1", ref="HX-D", email=address)]), encoding="utf-8")
        bench.refused("import", "invoices", str(path),
                      names=("invoices.csv: refused", "row 2", "column email"))
    return check


def name_not_sent(name: str, reason: str) -> Callable[[Bench], None]:
    """A debtor name no header may carry: the e-mail is refused before it is written."""
    def check(bench: Bench) -> None:
        action = hostile_debtor(bench, name=name)
        outcome = bench.relance("preview", str(action))
        assert outcome.code == 1 and reason in outcome.err, outcome
        assert rendered(bench, ".eml") == []
    return check


def subject_of_template(subject: str, sent: str) -> Callable[[Bench], None]:
    """A subject a workspace template builds with a line break in it: one header, with
    the break made a space, and no recipient added."""
    def check(bench: Bench) -> None:
        mail = "{% set subject %}" + subject + "{% endset %}Bonjour"
        action = hostile_debtor(bench, mail=mail)
        bench.accepted("preview", str(action))
        message = parsed_eml(bench)
        assert str(message["Subject"]) == sent
        assert recipients(message) == {"hx@client.example"} and message["Bcc"] is None
    return check


def export_cell(label: str) -> Callable[[Bench], None]:
    """A debtor name that starts like a formula is quoted in the CSV and XLSX exports."""
    def check(bench: Bench) -> None:
        hostile_debtor(bench, name=label, ref="HX-D")
        out_csv, out_xlsx = bench.root / "aged.csv", bench.root / "aged.xlsx"
        for fmt, path in (("csv", out_csv), ("xlsx", out_xlsx)):
            bench.accepted("report", "aged", "--by", "debtor", "--format", fmt,
                           "--output", str(path))
        import csv

        from openpyxl import load_workbook

        # The default dialect is French Excel's: `;` between cells, a BOM before them.
        with out_csv.open(encoding="utf-8-sig", newline="") as handle:
            names = {cells[0]: cells[1] for cells in csv.reader(handle, delimiter=";")}
        # The import trims a cell's blanks (a leading tab goes); what is left is quoted.
        assert names["HX-D"] == "'" + label.strip()
        sheet = load_workbook(out_xlsx).active
        cells = {r[0].value: r[1] for r in sheet.iter_rows(min_row=2) if r[0].value}
        assert cells["HX-D"].data_type == "s" and cells["HX-D"].value == "'" + label.strip()
    return check


def terminal_name(name: str) -> Callable[[Bench], None]:
    """Markup, emoji codes and links in a name are printed as typed, and obeyed nowhere."""
    def check(bench: Bench) -> None:
        hostile_debtor(bench, name=name, ref="HX-D")
        for command in (("report", "aged", "--by", "debtor"), ("history", "HX-D")):
            outcome = bench.accepted(*command)
            assert name in outcome.out.replace("\n", ""), outcome.out
            assert "\x1b]8;" not in outcome.out  # no hyperlink escape was emitted
    return check


def outbox_file_name(ref: str, number: str) -> Callable[[Bench], None]:
    """A debtor reference or invoice number with `../` or `/` names no file outside the
    outbox: every file the preview writes lies inside it."""
    def check(bench: Bench) -> None:
        action = hostile_debtor(bench, ref=ref, number=number, channel="letter")
        before = {p for p in bench.root.parent.rglob("*") if p.is_file()}
        bench.accepted("preview", str(action))
        written = {p for p in bench.root.parent.rglob("*") if p.is_file()} - before
        assert written and all(p.is_relative_to(bench.root / "outbox") for p in written)
    return check


def deep_rule(opening: str, depth: int, finding: str | None) -> Callable[[Bench], None]:
    """A policy condition nested `depth` deep: `relance check` names the nesting as a
    finding (E111, exit 1) or reads it whole; it never dies of a RecursionError."""
    def check(bench: Bench) -> None:
        rules = bench.root / "rules" / "deep.rules"
        condition = opening * depth + "overdue >= 3d" + ")" * depth
        rules.write_text(f"policy deep for segment = smb\n\nrule deep_1:\n  when {condition}"
                         " and not paused\n  then send email 'relance_1'\n", encoding="utf-8")
        outcome = bench.relance("check")
        if finding is None:
            assert outcome.code == 0 and "no problems" in outcome.out, outcome
            return
        assert outcome.code == 1, outcome
        assert "deep.rules:4:" in outcome.out and finding in outcome.out, outcome
    return check


def rule_template_name(name: str) -> Callable[[Bench], None]:
    """A rule naming a template by a path: `relance check` refuses it."""
    def check(bench: Bench) -> None:
        rules = bench.root / "rules" / "path.rules"
        rules.write_text("policy path for segment = smb\n\nrule path_1:\n"
                         f"  when overdue >= 3d\n  then send letter '{name}'\n",
                         encoding="utf-8")
        outcome = bench.relance("check")
        assert outcome.code == 1, outcome  # `check` exits 1 on an error finding
        assert f"path.rules:5:8: error E212: unknown template '{name}'" in outcome.out
    return check


TPL, SSRF, HDR, CSV, TERM, REC, TRAV = ("template-injection", "ssrf", "header-injection",
                                        "formula-injection", "rich-markup", "recursion",
                                        "path-traversal")
JINJA_NAMES = ["{{ ''.__class__.__mro__ }}", "{% include '/etc/passwd' %}",
               "{{ cycler.__init__.__globals__ }}", "{{ 7*7 }}"]
FORMULAS = ['=HYPERLINK("http://evil.test","x")', "+cmd|' /C calc'!A0", "-1+1", "@SUM(A1:A9)",
            "=1+1", "\t=2+2"]
MARKUP = ["Salon [/bold] Lyon", "[link=http://evil.test]Lyon[/link]", "Spa :fire: :x:",
          "[bold red]Lyon", "Salon \\[x] [/]"]

PROBES: list[Probe] = [
    *(Probe(TPL, f"debtor-name-in-mail-{n}", Expect.NEUTRALISED, name_in_mail(name))
      for n, name in enumerate(JINJA_NAMES, start=1)),
    Probe(TPL, "debtor-name-in-letter", Expect.NEUTRALISED, name_in_letter(
        "{{ ''.__class__ }} <b>x</b>", "{{ ''.__class__ }} <b>x</b>")),
    Probe(TPL, "workspace-letter-class-walk", Expect.REFUSED, letter_template(
        "letter-class-walk.html", refused="sandbox")),
    Probe(TPL, "workspace-letter-include-passwd", Expect.REFUSED, letter_template(
        "letter-include-passwd.html", refused="etc/passwd")),
    Probe(TPL, "workspace-mail-globals", Expect.REFUSED, mail_template(
        "{{ lipsum.__globals__['os'].popen('id').read() }}", "hx/email.fr.txt")),
    Probe(TPL, "workspace-mail-include-dotdot", Expect.REFUSED, mail_template(
        "{% include '../../../../etc/passwd' %}", "hx/email.fr.txt")),
    Probe(SSRF, "letter-img-loopback", Expect.NEUTRALISED, letter_template("letter-img.html")),
    Probe(SSRF, "letter-css-url-file", Expect.NEUTRALISED, letter_template(
        "letter-css-file.html", absent=("root:",))),
    Probe(SSRF, "letter-css-import-loopback", Expect.NEUTRALISED,
          letter_template("letter-css-import.html")),
    Probe(SSRF, "letter-attachment-passwd", Expect.NEUTRALISED,
          letter_template("letter-attachment.html")),
    Probe(SSRF, "debtor-name-img-tag", Expect.NEUTRALISED, name_in_letter(
        '<img src="{listener}/name">', '<img src="{listener}/name">')),
    Probe(SSRF, "debtor-email-url", Expect.REFUSED, address_refused("{listener}/x")),
    *(Probe(HDR, f"debtor-name-{n}", Expect.NEUTRALISED, name_in_mail(name))
      for n, name in enumerate(["Dupont, <evil@evil.test>", 'Dupont" <evil@evil.test>',
                                "Dupont <evil@evil.test>, x@evil.test"], start=1)),
    Probe(HDR, "debtor-name-crlf-bcc", Expect.REFUSED, address_refused(
        "hx@client.example\r\nBcc: evil@evil.test")),
    Probe(HDR, "debtor-email-two-addresses", Expect.REFUSED,
          address_refused("hx@client.example, evil@evil.test")),
    Probe(HDR, "debtor-email-display-name", Expect.REFUSED,
          address_refused("Dupont <evil@evil.test>")),
    Probe(HDR, "debtor-email-semicolon", Expect.REFUSED, address_refused(
        "hx@client.example;evil@evil.test")),
    Probe(HDR, "debtor-email-non-ascii", Expect.REFUSED, address_refused(
        "hx@clïent.example")),
    Probe(HDR, "debtor-name-encoded-word", Expect.REFUSED, name_not_sent(
        "=?UTF-8?B?RXZpbA==?= Bcc: evil@evil.test", "debtor name contains =?")),
    Probe(HDR, "subject-crlf-in-template", Expect.NEUTRALISED, subject_of_template(
        "Relance\r\nBcc: evil@evil.test", "Relance Bcc: evil@evil.test")),
    *(Probe(CSV, f"debtor-name-{n}", Expect.NEUTRALISED, export_cell(label))
      for n, label in enumerate(FORMULAS, start=1)),
    *(Probe(TERM, f"debtor-name-{n}", Expect.NEUTRALISED, terminal_name(name))
      for n, name in enumerate(MARKUP, start=1)),
    Probe(REC, "self-including-letter", Expect.REFUSED, letter_template(
        "letter-self-include.html", refused="RecursionError")),
    Probe(REC, "recursive-macro-mail", Expect.REFUSED, mail_template(
        "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", "RecursionError")),
    Probe(REC, "policy-not-50000-deep", Expect.REFUSED, deep_rule(
        "(not ", 50_000, "error E111: this condition nests more than 64 levels deep")),
    Probe(REC, "policy-parentheses-50000-deep", Expect.NEUTRALISED, deep_rule("(", 50_000,
                                                                             None)),
    Probe(TRAV, "outbox-debtor-ref-dotdot", Expect.NEUTRALISED,
          outbox_file_name("../../../escaped", "HX-1")),
    Probe(TRAV, "outbox-invoice-number-slash", Expect.NEUTRALISED,
          outbox_file_name("HX-D", "/tmp/../../escaped")),
    Probe(TRAV, "rule-template-dotdot", Expect.REFUSED, rule_template_name("../../etc/passwd")),
    Probe(TRAV, "rule-template-absolute", Expect.REFUSED, rule_template_name("/etc/passwd")),
]

