"""The sentences of the sign-in templates and of the portal's layout
(`web/templates/portal_base.html`, `portal_sign_in*.html`), marked here for the catalogs,
which read Python files only (`tests/web/test_page_words.py` holds the templates to it).
"""

from __future__ import annotations

from relance.kernel.i18n import N_, ngettext

PORTAL_LAYOUT_SENTENCES = (
    N_("relance portal"),
    N_("Portal"),
    N_("Home"),
    N_("Sign out"),
    N_("For the people of the collection team and its clients: do not leave this page "
       "open on a shared computer."),
)

SIGN_IN_SENTENCES = (
    N_("Sign in to the portal"),
    N_("Type the e-mail address you are known by: we send you a link that signs you in."),
    N_("Please type your e-mail address."),
    N_("E-mail address"),
    N_("Send me a link"),
    N_("Signing in by e-mail is not set up on this server yet. Please ask the person who "
       "runs relance for a sign-in link."),
    N_("Check your e-mail"),
    N_("If {address} is the address of someone who may use the portal, a sign-in link is "
       "on its way to it."),
    N_("Nothing after a few minutes? Check your spam folder, or ask for a new link."),
    N_("Ask for another link"),
    N_("Press the button to sign in. The link works only once."),
    N_("Sign in"),
)


def _counted_sentences() -> None:
    # Never called: marks the counted sentence of portal_sign_in_sent.html.
    ngettext("The link works once, within {n} minute.",
             "The link works once, within {n} minutes.", 1)
