"""What an action will send, for the queue's preview.

The channels render the real thing (`relance.channels.preview.render_preview`): the
letter's text and PDF, the e-mail, the SMS, written under `outbox/preview/` and sent
nowhere. For what the channels do not render (a call task), or when rendering fails (a
template missing, say), the preview shows a summary of the action read from the store,
and says why.
"""

from __future__ import annotations

from relance.channels.preview import render_preview
from relance.kernel.errors import RelanceError
from relance.tui import data, format
from relance.tui.context import TuiContext


def summary(ctx: TuiContext, action_id: int) -> str:
    """The action as stored: recipient, invoices and amounts, and the rules behind it."""
    with ctx.reading() as session:
        info = data.action_detail(session, action_id)
    if info is None:
        return f"Action {action_id} no longer exists."
    action, debtor = info.action, info.debtor
    to = {"letter": debtor.address or debtor.name, "email": debtor.email or "—",
          "sms": debtor.phone or "—", "call": debtor.phone or "—"}.get(action.channel.value, "")
    lines = [
        f"{action.channel.value} · template {action.template or '—'} · tone {action.tone or '—'}",
        f"To: {debtor.name} — {to}",
        f"From: {info.creditor.name}",
        "",
        "Invoices:",
    ]
    total: dict[str, int] = {}
    for line in info.lines:
        state = "" if line.drop_reason is None else f"  (left out: {line.drop_reason})"
        lines.append(f"  {line.number:<16} due {format.day(line.due_date)}  "
                     f"{format.money(line.balance_minor, line.currency):>16}{state}")
        if line.drop_reason is None:
            total[line.currency] = total.get(line.currency, 0) + line.balance_minor
    lines.append("  " + "  ".join(f"total {format.money(v, c)}" for c, v in total.items()))
    lines += ["", "Why:"]
    for line in info.lines:
        lines.append(f"  {line.number}: {line.rule} — {line.rule_file}:{line.rule_line}")
    lines.append(f"  rules version {info.ruleset}, run of {format.day(action.created_on)}")
    return "\n".join(lines)


def preview_text(ctx: TuiContext, action_id: int) -> tuple[str, str, str | None]:
    """(title, text, PDF path or None) of what the action will send."""
    title = f"Preview of action {action_id}"
    try:
        rendered = render_preview(ctx.store, ctx.workspace, action_id, today=ctx.today)
    except RelanceError as exc:
        return title, f"({exc.message})\n\n" + summary(ctx, action_id), None
    except Exception as exc:  # a broken template must not take the desk down
        return title, (f"(the channels could not render it: {exc})\n\n"
                       + summary(ctx, action_id)), None
    if rendered.error:
        return title, (f"(the channels could not render it: {rendered.error})\n\n"
                       + summary(ctx, action_id)), None
    head = [f"Subject: {rendered.subject}", ""] if rendered.subject else []
    files = [f"{label}: {path}" for label, path in (("PDF", rendered.pdf_path),
                                                     ("E-mail", rendered.eml)) if path]
    body = "\n".join([*head, rendered.text.strip(), "", *files])
    return title, body, str(rendered.pdf_path) if rendered.pdf_path else None
