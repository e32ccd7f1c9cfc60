"""The law a collection firm's first letter reproduces, written once.

CPCE R124-4 5° requires the first letter of a firm collecting for a creditor to
reproduce paragraphs 2 and 3 of article L111-8 of the Code des procédures civiles
d'exécution. The text below is that article's wording in force since 19 March 2014
(loi n° 2014-344 of 17 March 2014, art. 12), read on Légifrance's mirrors (doctrine.fr,
the ANCR's copy, CERCLAB's document 7212): the three agree word for word. The templates
print these paragraphs from the context (`agency.law`), and the validator
(`channels.agency_mentions`) looks for these same words, so the two cannot drift apart.

A consumer's letter may not speak of "frais de recouvrement" (`channels.legal`), yet the
article says exactly those words: quoting the law is no claim of fees, so the check on
consumer texts reads them without the quoted paragraphs (`without_quoted_law`).
"""

from __future__ import annotations

import re

# Not for people to translate: the law's own words, reproduced as the code writes them.
L111_8_PARAGRAPHS: tuple[str, str] = (
    "Les frais de recouvrement entrepris sans titre exécutoire restent à la charge du "
    "créancier, sauf s'ils concernent un acte dont l'accomplissement est prescrit par la "
    "loi au créancier. Toute stipulation contraire est réputée non écrite, sauf "
    "disposition législative contraire.",
    "Cependant, le créancier qui justifie du caractère nécessaire des démarches "
    "entreprises pour recouvrer sa créance peut demander au juge de l'exécution de "
    "laisser tout ou partie des frais ainsi exposés à la charge du débiteur de mauvaise "
    "foi.",
)

# A courtesy translation printed under the French text in English letters (the French
# text is the one the law requires; this one carries no legal weight). Not marked for
# translation: it is the English rendering of a French text, for English letters only.
L111_8_ENGLISH: tuple[str, str] = (
    "Costs of collection undertaken without an enforceable title remain payable by the "
    "creditor, unless they concern a step the law requires the creditor to take. Any "
    "contrary clause is deemed unwritten, unless a statute provides otherwise.",
    "However, a creditor who shows that the steps taken to recover its claim were "
    "necessary may ask the enforcement judge to leave all or part of the costs so "
    "incurred to be borne by a debtor acting in bad faith.",
)

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u02bc": "'", "\u2018": "'"})


def flat(text: str) -> str:
    """`text` as one line for comparing: one kind of apostrophe and of space, whatever
    the PDF reader or the HTML escaping made of them."""
    text = text.translate(_APOSTROPHES).replace("\u202f", " ").replace("\xa0", " ")
    return " ".join(text.split())


def _quoted_pattern(paragraph: str) -> str:
    return r"\s+".join(re.escape(word) for word in flat(paragraph).split())


_QUOTED = re.compile("|".join(_quoted_pattern(p)
                              for p in (*L111_8_PARAGRAPHS, *L111_8_ENGLISH)))


def without_quoted_law(text: str) -> str:
    """`text` (flattened) without the reproduction of L111-8 it may hold."""
    return _QUOTED.sub(" ", flat(text))


__all__ = ["L111_8_ENGLISH", "L111_8_PARAGRAPHS", "flat", "without_quoted_law"]
