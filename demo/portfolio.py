"""The demo's book: one white-label creditor, a beauty-salon franchise network, and the
customers around it — key accounts, independent salons, individuals, public bodies.

Deterministic for a (date, seed): the same command on the same day shows the same
figures. Invoices are written as a canonical import file, so the demo goes through the
same import as a real ERP export. Names, addresses, phone numbers (the ranges ARCEP keeps
for fiction), SIREN and IBAN are invented; the identifiers carry valid check digits.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CREDITOR_CODE = "BELLEROSE"

CREDITOR: dict[str, Any] = {
    "code": CREDITOR_CODE,
    "name": "Bellerose Beauté SAS",
    "address": "18 quai Saint-Antoine\n69002 Lyon",
    "country": "FR",
    "siren": "832917454",
    "vat_number": "FR73832917454",
    "iban": "FR7619999012345678901234503",
    "bic": "BLRSFRP2XXX",
    "email": "recouvrement@bellerose.example.fr",
    "reply_to": "compta-clients@bellerose.example.fr",
    "phone": "+33 4 65 71 00 10",
    "legal_mentions": (
        "Bellerose Beauté SAS au capital de 250 000 € — RCS Lyon 832 917 454 — "
        "TVA FR73832917454. Pas d'escompte pour paiement anticipé."
    ),
    "late_penalties": True,
    # Printed to business debtors only: the law reserves these penalties to them.
    "settings": {"legal_mentions_b2b": (
        "En cas de retard de paiement, des pénalités au taux de la BCE majoré de 10 points "
        "sont exigibles de plein droit, ainsi qu'une indemnité forfaitaire de 40 € pour "
        "frais de recouvrement (art. L441-10 du Code de commerce).")},
}
"""The creditor's branding, as its letters show it."""

HEADER = [
    "creditor", "debtor_ref", "debtor_name", "segment", "email", "phone", "country",
    "language", "payment_method", "sales_rep", "invoice_number", "issue_date", "due_date",
    "amount", "currency", "paid_amount", "address", "disputed", "promised_until",
    "paused_until", "tags", "risk", "is_consumer", "region",
]

FRENCH_CITIES = (
    ("Lyon", "69", "ARA"), ("Villeurbanne", "69", "ARA"), ("Grenoble", "38", "ARA"),
    ("Saint-Étienne", "42", "ARA"), ("Annecy", "74", "ARA"), ("Clermont-Ferrand", "63", "ARA"),
    ("Paris", "75", "IDF"), ("Versailles", "78", "IDF"), ("Boulogne-Billancourt", "92", "IDF"),
    ("Créteil", "94", "IDF"), ("Nantes", "44", "PDL"), ("Angers", "49", "PDL"),
    ("Le Mans", "72", "PDL"), ("Lille", "59", "HDF"), ("Amiens", "80", "HDF"),
    ("Bordeaux", "33", "NAQ"), ("Limoges", "87", "NAQ"), ("La Rochelle", "17", "NAQ"),
    ("Marseille", "13", "PAC"), ("Nice", "06", "PAC"), ("Toulon", "83", "PAC"),
    ("Aix-en-Provence", "13", "PAC"), ("Toulouse", "31", "OCC"), ("Montpellier", "34", "OCC"),
    ("Nîmes", "30", "OCC"), ("Rennes", "35", "BRE"), ("Brest", "29", "BRE"),
    ("Strasbourg", "67", "GES"), ("Metz", "57", "GES"), ("Reims", "51", "GES"),
    ("Dijon", "21", "BFC"), ("Besançon", "25", "BFC"), ("Rouen", "76", "NOR"),
    ("Caen", "14", "NOR"), ("Tours", "37", "CVL"), ("Orléans", "45", "CVL"),
)
SWISS_CITIES = (("Genève", "1204", "GE"), ("Lausanne", "1003", "VD"), ("Fribourg", "1700", "FR"))
BELGIAN_CITIES = (("Bruxelles", "1050", "BXL"), ("Liège", "4000", "WAL"), ("Namur", "5000", "WAL"))
DISTRICTS = ("Centre", "Gare", "République", "Les Halles", "Saint-Michel", "Jean-Jaurès",
             "Bellecour", "Carnot", "Victor-Hugo", "Les Arcades", "Pasteur", "Le Port")
STREETS = ("rue de la République", "avenue Jean-Jaurès", "boulevard Victor-Hugo",
           "rue Nationale", "place du Marché", "rue Pasteur", "cours Gambetta",
           "rue des Tanneurs", "avenue de la Gare", "rue du Commerce", "allée des Tilleuls")
FIRST_NAMES = ("Martine", "Sophie", "Nathalie", "Camille", "Julie", "Isabelle", "Claire",
               "Léa", "Chloé", "Manon", "Thomas", "Nicolas", "Julien", "Karim", "Mehdi",
               "Pierre", "Antoine", "Hélène", "Amandine", "Yasmine", "Océane", "Inès")
LAST_NAMES = ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit",
              "Durand", "Leroy", "Moreau", "Simon", "Laurent", "Lefebvre", "Michel",
              "Garcia", "Fontaine", "Rousseau", "Vincent", "Muller", "Benali", "Nguyen",
              "Chevalier", "Girard", "Lambert", "Bonnet", "François", "Mercier")
KEY_ACCOUNTS = ("Groupe Hôtelier Riviera", "Thalasso Atlantique", "Galeries Lumière",
                "Spa & Golf du Léman", "Croisières Méditerranée", "Résidences Seniors Azur",
                "Club Forme Évasion", "Hôtels Particuliers de France", "Parfumerie Sillage",
                "Centres Aquatiques Océa", "Domaine des Thermes", "Pharmacies Unies",
                "Instituts Lumière Prestige", "Campings Grand Large", "Palais des Congrès Nord")
SMB_KINDS = ("Salon", "Coiffure", "Institut", "Barbier", "Onglerie", "Spa", "Pharmacie",
             "Parfumerie", "Esthétique")
SMB_WORDS = ("Éclat", "Harmonie", "L'Atelier", "Belle Époque", "Zen", "Les Délices",
             "Aurore", "Le Carré", "Sérénité", "Bulle", "L'Orchidée", "Rive Gauche")
PUBLIC_BODIES = ("Mairie de", "Centre hospitalier de", "Conseil départemental —",
                 "Communauté d'agglomération de", "EHPAD public de", "Lycée professionnel de")
SALES_REPS = ("alice", "bruno", "chloe", "david", "emma")
DISPUTE_REASONS = ("produits livrés endommagés", "facture déjà réglée selon le client",
                   "prestation contestée", "remise commerciale non appliquée",
                   "quantités facturées erronées")
TAGS = ("vip", "nouveau", "sepa", "multi-salons", "litige_recurrent")


@dataclass
class _Debtor:
    ref: str
    name: str
    segment: str
    email: str
    phone: str
    country: str
    language: str
    payment_method: str
    sales_rep: str
    address: str
    region: str
    currency: str
    terms: int  # payment terms in days
    payer: float  # probability to have paid an invoice that is due
    is_consumer: bool = False
    tags: str = ""
    risk: int = 0
    paused_until: str = ""


class _Phones:
    """Phone numbers from the ranges kept for fiction (06 39 98 …, 04 65 71 …)."""

    def __init__(self) -> None:
        self.next = 0

    def take(self, mobile: bool) -> str:
        self.next += 1
        prefix = "+33 6 39 98" if mobile else "+33 4 65 71"
        return f"{prefix} {self.next // 100 % 100:02d} {self.next % 100:02d}"


def _slug(text: str) -> str:
    table = str.maketrans("àâäéèêëîïôöùûüçÉÈ'’ &—", "aaaeeeeiioouuucee-----")
    return "-".join(part for part in text.lower().translate(table).split("-") if part)


def _address(rng: random.Random, city: str, postcode: str) -> str:
    return f"{rng.randint(1, 180)} {rng.choice(STREETS)}\n{postcode} {city}"


def _postcode(department: str, rng: random.Random) -> str:
    return f"{department}{rng.randint(0, 9)}{rng.choice('0123')}0"


def _debtors(rng: random.Random, on: dt.date) -> list[_Debtor]:
    phones = _Phones()
    found: list[_Debtor] = []
    # The franchise network: ~300 salons, a few in Switzerland (CHF) and Belgium.
    for index in range(1, 301):
        if index % 37 == 0:
            city, postcode, region = rng.choice(SWISS_CITIES)
            country, currency = "CH", "CHF"
        elif index % 23 == 0:
            city, postcode, region = rng.choice(BELGIAN_CITIES)
            country, currency = "BE", "EUR"
        else:
            city, department, region = rng.choice(FRENCH_CITIES)
            postcode, country, currency = _postcode(department, rng), "FR", "EUR"
        district = rng.choice(DISTRICTS)
        manager = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        name = f"Bellerose {city} {district} (SARL {manager.split()[1]})"
        found.append(_Debtor(
            ref=f"F-{index:04d}", name=name, segment="franchisee",
            email=f"gerance.{_slug(city)}.{index}@franchise-bellerose.example.fr",
            phone=phones.take(False), country=country, language="fr",
            payment_method=rng.choice(("direct_debit", "direct_debit", "transfer", "transfer",
                                       "cheque")),
            sales_rep=SALES_REPS[index % 3], address=_address(rng, city, postcode),
            region=region, currency=currency, terms=30,
            payer=rng.choice((0.99, 0.98, 0.96, 0.95, 0.92, 0.85, 0.6)),
            tags="multi-salons" if index % 41 == 0 else ("nouveau" if index > 285 else ""),
            risk=rng.randint(5, 80),
        ))
    for index, company in enumerate(KEY_ACCOUNTS, start=1):
        city, department, region = rng.choice(FRENCH_CITIES)
        found.append(_Debtor(
            ref=f"K-{index:04d}", name=company, segment="key_account",
            email=f"fournisseurs@{_slug(company)}.example.com", phone=phones.take(False),
            country="FR", language="fr", payment_method="transfer", sales_rep="chloe",
            address=_address(rng, city, _postcode(department, rng)), region=region,
            currency="EUR", terms=60, payer=rng.choice((0.95, 0.85, 0.7)),
            tags="vip", risk=rng.randint(5, 40),
        ))
    for index in range(1, 121):
        city, department, region = rng.choice(FRENCH_CITIES)
        name = f"{rng.choice(SMB_KINDS)} {rng.choice(SMB_WORDS)} {city}"
        found.append(_Debtor(
            ref=f"S-{index:04d}", name=name, segment="smb",
            email=f"contact.{index}@{_slug(name)[:30]}.example.fr", phone=phones.take(False),
            country="FR", language="fr",
            payment_method=rng.choice(("transfer", "cheque", "card", "direct_debit")),
            sales_rep=SALES_REPS[3 + index % 2], address=_address(rng, city,
                                                                _postcode(department, rng)),
            region=region, currency="EUR", terms=rng.choice((30, 30, 45)),
            payer=rng.choice((0.95, 0.9, 0.8, 0.6, 0.4)),
            tags="sepa" if index % 9 == 0 else "", risk=rng.randint(10, 95),
        ))
    for index in range(1, 81):
        city, department, region = rng.choice(FRENCH_CITIES)
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        found.append(_Debtor(
            ref=f"I-{index:04d}", name=f"{first} {last}", segment="individual",
            email=f"{_slug(first)}.{_slug(last)}{index}@example.fr", phone=phones.take(True),
            country="FR", language="fr", payment_method="card", sales_rep="alice",
            address=_address(rng, city, _postcode(department, rng)), region=region,
            currency="EUR", terms=15, payer=rng.choice((0.95, 0.85, 0.7, 0.5)),
            is_consumer=True, risk=rng.randint(10, 90),
        ))
    for index in range(1, 13):
        city, department, region = FRENCH_CITIES[(index * 5) % len(FRENCH_CITIES)]
        body = PUBLIC_BODIES[index % len(PUBLIC_BODIES)]
        found.append(_Debtor(
            ref=f"P-{index:04d}", name=f"{body} {city}", segment="public_body",
            email=f"mandatement.{index}@{_slug(city)}.example.gouv.fr",
            phone=phones.take(False), country="FR", language="fr",
            payment_method="transfer", sales_rep="chloe",
            address=_address(rng, city, _postcode(department, rng)), region=region,
            currency="EUR", terms=30, payer=0.75, risk=rng.randint(0, 20),
        ))
    # A few debtors are paused: a safeguard procedure, a negotiation in progress.
    for debtor in rng.sample(found, 6):
        debtor.paused_until = (on + dt.timedelta(days=rng.choice((10, 20, 45)))).isoformat()
    return found


def _french_amount(cents: int) -> str:
    units, rest = divmod(cents, 100)
    return f"{units:,}".replace(",", "\u202f") + f",{rest:02d}"


def _issues(rng: random.Random, debtor: _Debtor, on: dt.date) -> Iterator[tuple[dt.date, int]]:
    """(issue date, amount in cents) of the debtor's invoices over the last ~7 months."""
    first_month = (on.replace(day=1) - dt.timedelta(days=190)).replace(day=1)
    if debtor.segment == "franchisee":
        month = first_month
        while month <= on:
            royalty = rng.randint(90_000, 320_000)  # monthly royalty and marketing fee
            yield month, royalty
            if rng.random() < 0.3:  # an order of products
                yield month + dt.timedelta(days=rng.randint(5, 25)), rng.randint(15_000, 180_000)
            month = (month + dt.timedelta(days=32)).replace(day=1)
        return
    count, low, high = {
        "key_account": (8, 400_000, 4_500_000),
        "smb": (4, 12_000, 240_000),
        "individual": (2, 4_500, 39_000),
        "public_body": (5, 80_000, 900_000),
    }[debtor.segment]
    for _ in range(rng.randint(max(1, count // 2), count)):
        yield on - dt.timedelta(days=rng.randint(0, 205)), rng.randint(low, high)


def portfolio_rows(on: dt.date, seed: int = 7) -> list[list[str]]:
    """The demo's invoices, one canonical row each, sorted by issue date."""
    rng = random.Random(f"{seed}:{on.isoformat()}")
    drafts: list[tuple[dt.date, _Debtor, int]] = []
    for debtor in _debtors(rng, on):
        drafts.extend((issued, debtor, cents) for issued, cents in _issues(rng, debtor, on)
                      if issued <= on)
    drafts.sort(key=lambda item: (item[0], item[1].ref))
    rows: list[list[str]] = []
    for sequence, (issued, debtor, cents) in enumerate(drafts, start=1):
        due = issued + dt.timedelta(days=debtor.terms)
        late = (on - due).days
        paid = 0
        if late > -10 and rng.random() < debtor.payer * (0.5 if late < 0 else 1.0):
            paid = cents
        elif late > 0 and rng.random() < 0.12:
            paid = (cents // 3) // 100 * 100  # a round partial payment
        disputed = rng.choice(DISPUTE_REASONS) if paid < cents and rng.random() < 0.03 else ""
        promised = ""
        if paid < cents and late > 5 and not disputed and rng.random() < 0.06:
            promised = (on + dt.timedelta(days=rng.choice((3, 7, 10, 15)))).isoformat()
        # Exports mix notations: the import reads them all.
        amount = (_french_amount(cents) if sequence % 3 == 0
                  else f"{cents // 100}.{cents % 100:02d}")
        rows.append([
            CREDITOR_CODE, debtor.ref, debtor.name, debtor.segment, debtor.email, debtor.phone,
            debtor.country, debtor.language, debtor.payment_method, debtor.sales_rep,
            f"BR-{issued.year}-{sequence:05d}",
            issued.isoformat() if sequence % 4 else issued.strftime("%d/%m/%Y"),
            due.isoformat(), amount, debtor.currency, f"{paid // 100}.{paid % 100:02d}",
            debtor.address, disputed, promised, debtor.paused_until, debtor.tags,
            str(debtor.risk), "yes" if debtor.is_consumer else "no", debtor.region,
        ])
    return rows


def write_portfolio(path: Path, on: dt.date, seed: int = 7) -> int:
    """Write the demo's invoice file; returns the number of invoices."""
    rows = portfolio_rows(on, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(HEADER)
        writer.writerows(rows)
    return len(rows)
