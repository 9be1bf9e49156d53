"""Deterministic, realistic demo accounts and contacts, with no network.

``DemoGenerator(seed)`` yields rows shaped like the REST/CSV input (what a person would
type: phone numbers in national or international form, mixed-case e-mails), across nine
countries with valid postal formats, VAT-style tax ids and phone numbers that
``phonenumbers`` accepts as valid. The same seed always gives the same rows, and rows never
look like duplicates of each other (names, e-mails and phone numbers are unique by
construction), so they can be imported in bulk without a single duplicate warning.

Used by ``load_demo`` (``mosaic addons install contacts --with-demo``), by the benchmark
(100,000 contacts, 10,000 accounts) and by the tests.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from addons.contacts.models import ACCOUNT_SIZES, name_key

DEFAULT_SEED = 20240501


@dataclass(frozen=True)
class Locale:
    country: str
    language: str
    tld: str
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    streets: tuple[str, ...]
    street_format: str  # "{number} {street}" or "{street} {number}"
    cities: tuple[tuple[str, str, str], ...]  # city, postal-code pattern (9 = digit), region
    legal_forms: tuple[str, ...]
    fixed: tuple[str, ...]  # phone templates in national form; X = a generated digit
    mobile: tuple[str, ...]
    tax_format: str  # 9 = digit


def _t(text: str) -> tuple[str, ...]:
    return tuple(text.split("|")) if "|" in text else tuple(text.split())


LOCALES = (
    Locale(
        "DE",
        "de",
        "de",
        _t(
            "Anna Lena Julia Katharina Sabine Petra Claudia Monika Laura Sophie Miriam Jana Ute "
            "Thomas Michael Andreas Stefan Jürgen Frank Markus Tobias Jan Lukas Felix Matthias Dieter"
        ),
        _t(
            "Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Schäfer Koch "
            "Bauer Richter Klein Wolf Schröder Neumann Schwarz Zimmermann Braun Krüger Hofmann Hartmann "
            "Lange Schmitt Werner Krause Meier Lehmann"
        ),
        _t(
            "Hauptstraße|Bahnhofstraße|Gartenweg|Lindenallee|Schillerstraße|Goethestraße|Industriestraße|"
            "Am Markt|Kirchgasse|Mühlenweg|Rosenstraße|Hafenstraße"
        ),
        "{street} {number}",
        (
            ("Berlin", "10999", "Berlin"),
            ("München", "80999", "Bayern"),
            ("Hamburg", "20999", "Hamburg"),
            ("Köln", "50999", "Nordrhein-Westfalen"),
            ("Frankfurt am Main", "60999", "Hessen"),
            ("Stuttgart", "70999", "Baden-Württemberg"),
            ("Leipzig", "04999", "Sachsen"),
            ("Bremen", "28999", "Bremen"),
        ),
        ("GmbH", "AG", "GmbH & Co. KG", "KG"),
        ("030 2XXXXXXX", "089 3XXXXXXX", "040 4XXXXXXX"),
        ("0151 2XXXXXXX", "0170 XXXXXXX"),
        "DE999999999",
    ),
    Locale(
        "FR",
        "fr",
        "fr",
        _t(
            "Camille Léa Manon Chloé Inès Sarah Julie Claire Élodie Nathalie Isabelle Amélie "
            "Jean Pierre Nicolas Julien Antoine Thomas Mathieu François Laurent Olivier Hugo Théo"
        ),
        _t(
            "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent "
            "Lefèbvre Michel Garcia David Bertrand Roux Vincent Fournier Morel Girard André Mercier"
        ),
        _t(
            "rue de la République|avenue Victor Hugo|rue Pasteur|boulevard Voltaire|rue des Lilas|"
            "place de la Mairie|rue du Moulin|avenue Jean Jaurès|rue de la Gare|quai des Chartrons"
        ),
        "{number} {street}",
        (
            ("Paris", "75099", "Île-de-France"),
            ("Lyon", "69009", "Auvergne-Rhône-Alpes"),
            ("Marseille", "13009", "Provence-Alpes-Côte d'Azur"),
            ("Bordeaux", "33099", "Nouvelle-Aquitaine"),
            ("Lille", "59099", "Hauts-de-France"),
            ("Nantes", "44099", "Pays de la Loire"),
        ),
        ("SAS", "SA", "SARL"),
        ("01 4X XX XX XX", "04 7X XX XX XX"),
        ("06 1X XX XX XX", "07 5X XX XX XX"),
        "FR99999999999",
    ),
    Locale(
        "GB",
        "en-GB",
        "co.uk",
        _t(
            "Oliver George Harry Jack Charlie James William Thomas Emily Olivia Amelia Isla Ava "
            "Jessica Sophie Charlotte Grace Lucy Hannah Eleanor Daniel Samuel Joseph Henry"
        ),
        _t(
            "Smith Jones Taylor Brown Williams Wilson Johnson Davies Robinson Wright Thompson Evans "
            "Walker White Roberts Green Hall Wood Jackson Clarke Hughes Edwards Turner Hill"
        ),
        _t(
            "High Street|Station Road|Church Lane|Mill Lane|Victoria Road|Park Avenue|Queen Street|"
            "Green Lane|Manor Road|Kings Road"
        ),
        "{number} {street}",
        (
            ("London", "EC1A 9AA", "England"),
            ("Manchester", "M1 9AA", "England"),
            ("Leeds", "LS1 9AA", "England"),
            ("Edinburgh", "EH1 9AA", "Scotland"),
            ("Cardiff", "CF10 9AA", "Wales"),
            ("Bristol", "BS1 9AA", "England"),
        ),
        ("Ltd", "PLC", "LLP"),
        ("020 7XXX XXXX", "0161 4XX XXXX", "0113 4XX XXXX"),
        ("07412 XXXXXX", "07823 XXXXXX"),
        "GB999999999",
    ),
    Locale(
        "US",
        "en-US",
        "com",
        _t(
            "Michael Jennifer David Jessica Christopher Ashley Matthew Emily Joshua Sarah Andrew "
            "Amanda Daniel Megan Ryan Rachel Brandon Lauren Tyler Nicole Kevin Stephanie Justin Heather"
        ),
        _t(
            "Miller Davis Garcia Rodriguez Martinez Anderson Taylor Moore Jackson Martin Lee Harris "
            "Clark Lewis Young Allen King Scott Baker Adams Nelson Carter Mitchell Campbell"
        ),
        _t(
            "Main Street|Oak Avenue|Maple Drive|Cedar Lane|Washington Street|Lake Road|Elm Street|"
            "Sunset Boulevard|Park Place|Broadway"
        ),
        "{number} {street}",
        (
            ("New York", "10099", "NY"),
            ("San Francisco", "94199", "CA"),
            ("Chicago", "60699", "IL"),
            ("Austin", "78799", "TX"),
            ("Seattle", "98199", "WA"),
            ("Boston", "02199", "MA"),
        ),
        ("Inc.", "LLC", "Corp."),
        ("(212) 5XX-XXXX", "(415) 3XX-XXXX", "(312) 7XX-XXXX"),
        ("(646) 2XX-XXXX", "(917) 4XX-XXXX"),
        "99-9999999",
    ),
    Locale(
        "ES",
        "es",
        "es",
        _t(
            "Lucía María Paula Carmen Laura Marta Sara Elena Alba Cristina Ana Raquel "
            "Alejandro Daniel Pablo Javier Sergio Carlos Manuel Jorge David Álvaro Adrián Diego"
        ),
        _t(
            "García Fernández González Rodríguez López Martínez Sánchez Pérez Gómez Martín Jiménez "
            "Ruiz Hernández Díaz Moreno Muñoz Álvarez Romero Alonso Gutiérrez Navarro Torres"
        ),
        _t(
            "Calle Mayor|Gran Vía|Calle de Alcalá|Avenida de la Constitución|Calle Real|Paseo del Prado|"
            "Calle Nueva|Plaza de España|Calle del Sol|Avenida Diagonal"
        ),
        "{street} {number}",
        (
            ("Madrid", "28099", "Comunidad de Madrid"),
            ("Barcelona", "08099", "Cataluña"),
            ("Valencia", "46099", "Comunidad Valenciana"),
            ("Sevilla", "41099", "Andalucía"),
            ("Bilbao", "48099", "País Vasco"),
        ),
        ("S.L.", "S.A."),
        ("91 XXX XX XX", "93 XXX XX XX"),
        ("6XX XXX XXX", "61X XXX XXX"),
        "ESB99999999",
    ),
    Locale(
        "IT",
        "it",
        "it",
        _t(
            "Giulia Francesca Chiara Sara Martina Valentina Alessia Elena Federica Silvia Anna "
            "Marco Luca Giuseppe Francesco Alessandro Andrea Matteo Lorenzo Davide Stefano Paolo Simone"
        ),
        _t(
            "Rossi Russo Ferrari Esposito Bianchi Romano Colombo Ricci Marino Greco Bruno Gallo Conti "
            "De Luca Mancini Costa Giordano Rizzo Lombardi Moretti Barbieri Fontana"
        ),
        _t(
            "Via Roma|Via Garibaldi|Corso Italia|Via Dante|Via Verdi|Piazza della Libertà|Via Mazzini|"
            "Viale Europa|Via Cavour|Corso Vittorio Emanuele"
        ),
        "{street} {number}",
        (
            ("Milano", "20199", "Lombardia"),
            ("Roma", "00199", "Lazio"),
            ("Torino", "10199", "Piemonte"),
            ("Bologna", "40199", "Emilia-Romagna"),
            ("Firenze", "50199", "Toscana"),
        ),
        ("S.r.l.", "S.p.A."),
        ("02 XXXX XXXX", "06 XXXX XXXX"),
        ("333 XXX XXXX", "347 XXX XXXX"),
        "IT99999999999",
    ),
    Locale(
        "NL",
        "nl",
        "nl",
        _t(
            "Emma Sophie Julia Anna Lisa Eva Sanne Fleur Lotte Iris Noor Femke "
            "Daan Sem Lucas Finn Bram Thijs Jesse Ruben Lars Niels Joris Pieter"
        ),
        _t(
            "de Jong|Jansen|de Vries|van den Berg|van Dijk|Bakker|Janssen|Visser|Smit|Meijer|de Boer|"
            "Mulder|de Groot|Bos|Vos|Peters|Hendriks|van Leeuwen|Dekker|Brouwer|de Wit|Dijkstra"
        ),
        _t(
            "Kerkstraat|Dorpsstraat|Molenweg|Schoolstraat|Stationsweg|Prinsengracht|Julianalaan|"
            "Nieuwstraat|Marktplein|Havenstraat"
        ),
        "{street} {number}",
        (
            ("Amsterdam", "1099 AB", "Noord-Holland"),
            ("Rotterdam", "3099 CD", "Zuid-Holland"),
            ("Utrecht", "3599 EF", "Utrecht"),
            ("Eindhoven", "5699 GH", "Noord-Brabant"),
            ("Groningen", "9799 JK", "Groningen"),
        ),
        ("B.V.", "N.V."),
        ("020 XXX XXXX", "010 XXX XXXX"),
        ("06 1XXX XXXX", "06 2XXX XXXX"),
        "NL999999999B01",
    ),
    Locale(
        "AT",
        "de-AT",
        "at",
        _t(
            "Anna Katharina Lena Sarah Julia Hannah Theresa Magdalena Elisabeth Johanna Eva "
            "Maximilian Florian Lukas Tobias Alexander Sebastian Johannes Dominik Philipp Gregor Wolfgang"
        ),
        _t(
            "Gruber Huber Bauer Wagner Pichler Moser Mayer Hofer Leitner Berger Fuchs Eder Fischer "
            "Schmid Winkler Weber Schwarz Maier Schneider Reiter Mayr Steiner"
        ),
        _t(
            "Hauptplatz|Mariahilfer Straße|Landstraße|Kärntner Straße|Bahnhofplatz|Grazer Straße|"
            "Linzer Gasse|Museumstraße"
        ),
        "{street} {number}",
        (
            ("Wien", "1099", "Wien"),
            ("Graz", "8099", "Steiermark"),
            ("Linz", "4099", "Oberösterreich"),
            ("Salzburg", "5099", "Salzburg"),
            ("Innsbruck", "6099", "Tirol"),
        ),
        ("GmbH", "AG", "KG"),
        ("0512 XXX XXX", "0316 XXX XXX"),
        ("0664 XXX XXXX", "0676 XXX XXXX"),
        "ATU99999999",
    ),
    Locale(
        "CH",
        "de-CH",
        "ch",
        _t(
            "Lea Mia Laura Sara Anna Noemi Chiara Céline Nina Lara Elena "
            "Luca Noah Leon David Simon Nico Jonas Reto Beat Urs Marco Fabian"
        ),
        _t(
            "Müller Meier Schmid Keller Weber Huber Schneider Meyer Steiner Fischer Gerber Brunner "
            "Baumann Frei Zimmermann Moser Widmer Wyss Graf Roth"
        ),
        _t(
            "Bahnhofstrasse|Dorfstrasse|Seestrasse|Hauptstrasse|Kirchweg|Rue du Rhône|Schulhausstrasse|"
            "Industriestrasse"
        ),
        "{street} {number}",
        (
            ("Zürich", "8099", "ZH"),
            ("Genève", "1299", "GE"),
            ("Basel", "4099", "BS"),
            ("Bern", "3099", "BE"),
            ("Lausanne", "1099", "VD"),
        ),
        ("AG", "GmbH", "SA"),
        ("044 XXX XX XX", "022 XXX XX XX"),
        ("079 XXX XX XX", "076 XXX XX XX"),
        "CHE-999.999.999",
    ),
)

ADJECTIVES = _t(
    "Alpine Atlantic Blue Bright Central Clear Coastal Crown Delta Eastern Evergreen First Global "
    "Golden Grand Green Harbor Horizon Iron Liberty Lunar Meridian Modern Nordic Northern Oak Pacific "
    "Pioneer Prime Quantum Rapid Red Royal Silver Smart Solar Southern Star Summit Swift True United "
    "Urban Vertex Western White Wild"
)
NOUNS = _t(
    "Analytics Apparel Architects Automation Bakery Bioscience Brewing Builders Cargo Ceramics Chemicals "
    "Consulting Dairy Design Devices Dynamics Electric Energy Engineering Fabrics Farms Foods Freight "
    "Furniture Glass Health Hotels Imports Industries Instruments Insurance Labs Logistics Machines "
    "Marine Media Metals Mills Motors Networks Optics Packaging Paper Pharma Plastics Power Printing "
    "Robotics Software Solutions Steel Systems Technologies Textiles Tools Trading Travel Ventures Wines"
)
INDUSTRIES = _t(
    "Manufacturing|Wholesale|Retail|Software|Consulting|Logistics|Construction|Food & Beverage|"
    "Healthcare|Energy|Financial Services|Education|Hospitality|Media|Automotive|Chemicals"
)
TITLES = _t(
    "Chief Executive Officer|Chief Financial Officer|Head of Purchasing|Purchasing Manager|Buyer|"
    "Sales Director|Account Manager|Office Manager|Accountant|IT Director|Operations Manager|"
    "Project Manager|Marketing Manager|Logistics Coordinator|HR Manager|Managing Director"
)
TAGS = ("Key account", "Newsletter", "Prospect", "Partner", "Trade fair 2024", "Reseller")

# Bijective digit generation: multiplying by a number coprime with 10 permutes 0..10**k-1,
# so distinct indexes give distinct (and not visibly sequential) phone numbers.
_MIX, _SALT = 7919, 104729
CONTACT_PHONE_OFFSET = 200_000  # contacts and accounts share fixed-line templates


def _fill(template: str, index: int) -> str:
    slots = template.count("X")
    digits = f"{(index * _MIX + _SALT) % 10**slots:0{slots}d}"
    it = iter(digits)
    return "".join(next(it) if ch == "X" else ch for ch in template)


def _pattern(rng: random.Random, pattern: str) -> str:
    return "".join(str(rng.randrange(10)) if ch == "9" else ch for ch in pattern)


def _slug(text: str) -> str:
    return name_key(text, drop_legal_form=True).replace(" ", "-")


def _ascii_local(*parts: str) -> str:
    return ".".join(name_key(p).replace(" ", "") for p in parts if p)


def _international(national: str, country: str) -> str:
    """The same number written as "+<country code> ..." (how many people paste numbers)."""
    import phonenumbers

    number = phonenumbers.parse(national, country)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


class DemoGenerator:
    """Rows for accounts and contacts; equal seeds give equal rows."""

    def __init__(self, seed: int = DEFAULT_SEED) -> None:
        self.seed = seed

    def accounts(self, count: int) -> list[dict[str, Any]]:
        rng = random.Random(f"{self.seed}-accounts")
        rows, seen = [], set()
        for index in range(count):
            locale = LOCALES[index % len(LOCALES)]
            name = self._account_name(rng, locale, seen)
            slug = _slug(name)
            city, postal, region = rng.choice(locale.cities)
            fixed = _fill(rng.choice(locale.fixed), index)
            billing = {
                "kind": "billing", "street1": self._street(rng, locale), "city": city,
                "postal_code": _pattern(rng, postal), "region": region, "country": locale.country,
            }  # fmt: skip
            addresses = [billing]
            if rng.random() < 0.3:
                city2, postal2, region2 = rng.choice(locale.cities)
                addresses.append({
                    "kind": "shipping", "street1": self._street(rng, locale), "street2": "Gate " + str(rng.randint(1, 9)),
                    "city": city2, "postal_code": _pattern(rng, postal2), "region": region2, "country": locale.country,
                })  # fmt: skip
            roll = rng.random()
            rows.append({
                "name": name,
                "legal_name": name if rng.random() < 0.5 else None,
                "tax_id": _pattern(rng, locale.tax_format),
                "website": f"https://www.{slug}.{locale.tld}",
                "email": f"info@{slug}.{locale.tld}" if rng.random() < 0.8 else f"Office@{slug.title()}.{locale.tld}",
                "phone": fixed if rng.random() < 0.6 else _international(fixed, locale.country),
                "industry": rng.choice(INDUSTRIES),
                "size": rng.choice(ACCOUNT_SIZES),
                "is_customer": roll < 0.75,
                "is_vendor": roll > 0.6,
                "notes": None,
                "tags": sorted(rng.sample(TAGS, rng.choice((0, 0, 1, 1, 2)))),
                "addresses": addresses,
            })  # fmt: skip
        return rows

    def contacts(self, count: int, accounts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """People, each working at one of ``accounts`` (``account`` = index into that list)."""
        rng = random.Random(f"{self.seed}-contacts")
        used: dict[int, set[str]] = {}
        rows = []
        for index in range(count):
            account_index = index % len(accounts) if accounts else None
            locale = (
                LOCALES[account_index % len(LOCALES)]
                if account_index is not None
                else LOCALES[index % len(LOCALES)]
            )
            names = used.setdefault(account_index if account_index is not None else -1, set())
            first, last = self._person(rng, locale, names)
            domain = (
                accounts[account_index]["website"].split("www.", 1)[1]
                if account_index is not None
                else f"example.{locale.tld}"
            )
            mobile = _fill(rng.choice(locale.mobile), index)
            fixed = _fill(rng.choice(locale.fixed), CONTACT_PHONE_OFFSET + index)
            rows.append({
                "first_name": first,
                "last_name": last,
                "title": rng.choice(TITLES),
                "email": f"{_ascii_local(first, last)}@{domain}",
                "phone": fixed if rng.random() < 0.7 else None,
                "mobile": mobile if rng.random() < 0.8 else _international(mobile, locale.country),
                "language": locale.language,
                "account": account_index,
                "tags": sorted(rng.sample(TAGS, rng.choice((0, 0, 0, 1)))),
                "notes": None,
            })  # fmt: skip
        return rows

    # ------------------------------------------------------------------ pieces
    def _account_name(self, rng: random.Random, locale: Locale, seen: set[str]) -> str:
        while True:
            shape = rng.random()
            if shape < 0.4:
                base = f"{rng.choice(locale.last_names)} {rng.choice(NOUNS)}"
            elif shape < 0.75:
                base = f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}"
            else:
                a, b = rng.sample(locale.last_names, 2)
                base = f"{a} & {b}"
            key = name_key(base, drop_legal_form=True)
            if key not in seen:
                seen.add(key)
                return f"{base} {rng.choice(locale.legal_forms)}"
            # A clash: make it distinct the way real firms do, with a place name.
            base = f"{base} {rng.choice(locale.cities)[0]}"
            key = name_key(base, drop_legal_form=True)
            if key not in seen:
                seen.add(key)
                return f"{base} {rng.choice(locale.legal_forms)}"

    def _person(self, rng: random.Random, locale: Locale, used: set[str]) -> tuple[str, str]:
        for _ in range(1000):
            first, last = rng.choice(locale.first_names), rng.choice(locale.last_names)
            key = name_key(first, last)
            if key not in used:
                used.add(key)
                return first, last
        raise RuntimeError("too many contacts for one account")  # pragma: no cover

    def _street(self, rng: random.Random, locale: Locale) -> str:
        return locale.street_format.format(
            street=rng.choice(locale.streets), number=rng.randint(1, 180)
        )


def iter_chunks(rows: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def load_demo(
    session: Session, *, accounts: int = 24, contacts: int = 80, seed: int = DEFAULT_SEED
) -> None:
    """Create demo accounts and contacts in every company, through the services. Flushes only."""
    from addons.contacts import services
    from core.models import Company, User

    owner_id = session.scalar(select(User.id).order_by(User.id).limit(1))
    generator = DemoGenerator(seed)
    account_rows = generator.accounts(accounts)
    contact_rows = generator.contacts(contacts, account_rows)
    for company_id in session.scalars(select(Company.id).order_by(Company.id)).all():
        created = []
        for row in account_rows:
            # Demo rows are distinct by construction; a duplicate warning must not stop an install.
            created.append(services.create_account(
                session, {**row, "owner_id": owner_id}, company_id=company_id, confirm_duplicate=True
            ))  # fmt: skip
        for row in contact_rows:
            data = {k: v for k, v in row.items() if k != "account"}
            data["account_id"] = created[row["account"]].id if row["account"] is not None else None
            services.create_contact(
                session,
                {**data, "owner_id": owner_id},
                company_id=company_id,
                confirm_duplicate=True,
            )
        session.flush()


# --------------------------------------------------------------------------- CSV files

ACCOUNT_COLUMNS = (
    "name", "legal_name", "tax_id", "website", "email", "phone", "industry", "size", "is_customer",
    "is_vendor", "tags", "billing_street1", "billing_postal_code", "billing_city", "billing_region",
    "billing_country",
)  # fmt: skip
CONTACT_COLUMNS = ("first_name", "last_name", "title", "email", "phone", "mobile", "language",
                   "account_name", "tags")  # fmt: skip


def account_csv_row(row: dict[str, Any]) -> dict[str, Any]:
    """A generated account as a line of an import file (billing address in flat columns)."""
    billing = row["addresses"][0]
    flat = {k: v for k, v in row.items() if k in ACCOUNT_COLUMNS}
    flat.update(
        {
            f"billing_{k}": billing.get(k)
            for k in ("street1", "postal_code", "city", "region", "country")
        }
    )
    flat["tags"] = "; ".join(row["tags"])
    return flat


def contact_csv_row(row: dict[str, Any], accounts: list[dict[str, Any]]) -> dict[str, Any]:
    """A generated contact as a line of an import file (its account named, not numbered)."""
    flat = {k: v for k, v in row.items() if k in CONTACT_COLUMNS}
    flat["account_name"] = accounts[row["account"]]["name"] if row["account"] is not None else None
    flat["tags"] = "; ".join(row["tags"])
    return flat


def write_csv(out: Any, columns: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    import csv

    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else str(row[k]).lower() if isinstance(row[k], bool) else row[k]
                         for k in columns})  # fmt: skip


def write_samples(
    folder: Any, *, accounts: int = 10, contacts: int = 25, seed: int = DEFAULT_SEED
) -> None:
    """Write ``accounts.csv`` and ``contacts.csv`` (the samples in ``docs/samples``)."""
    from pathlib import Path

    generator = DemoGenerator(seed)
    account_rows = generator.accounts(accounts)
    contact_rows = generator.contacts(contacts, account_rows)
    folder = Path(folder)
    with open(folder / "accounts.csv", "w", encoding="utf-8", newline="") as out:
        write_csv(out, ACCOUNT_COLUMNS, [account_csv_row(r) for r in account_rows])
    with open(folder / "contacts.csv", "w", encoding="utf-8", newline="") as out:
        write_csv(out, CONTACT_COLUMNS, [contact_csv_row(r, account_rows) for r in contact_rows])
