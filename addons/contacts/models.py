"""Accounts, contacts, addresses and tags.

Every table is named ``contacts_<thing>`` and every business row carries ``BusinessMixin``
(id, timestamps, authors, company, optimistic-lock version); accounts and contacts can be
archived. Data invariants that must hold whichever path writes a row (a service, the
generated REST resource, an import, a shell session) are kept here with ``@validates``:

* e-mails are stored trimmed and lower-cased;
* ``name_key`` is the accent-, case- and punctuation-free form of the name (for accounts,
  without the legal form: "ACME GmbH" and "Acme" share the key ``acme``). It is derived,
  but stored and indexed on purpose: duplicate detection looks it up on every create and
  on every imported row, which must stay an index lookup at 100,000 rows (see
  ``services._duplicate_query`` for how the look-ups are written so that both SQLite and
  PostgreSQL use these single-column indexes);
* phone numbers written with an international prefix become E.164. Numbers in national
  form need a country to be converted; ``services`` does that where a country is known.

Workflows (duplicate detection, merge, forget, delete rules) live in ``services``.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from datetime import datetime

import phonenumbers
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from addons.contacts.phones import is_possible, parse_number
from core.db import ArchiveMixin, Base, BusinessMixin
from core.models import User

ADDRESS_KINDS = ("billing", "shipping", "other")
ACCOUNT_SIZES = ("1-10", "11-50", "51-250", "251-1000", "1001+")

# Legal-form words dropped from the end of an account name before comparing names.
LEGAL_FORMS = frozenset(
    [
        "ab",
        "ag",
        "as",
        "asa",
        "bv",
        "co",
        "company",
        "corp",
        "corporation",
        "cv",
        "gbr",
        "gmbh",
        "inc",
        "incorporated",
        "kg",
        "kgaa",
        "lda",
        "llc",
        "llp",
        "lp",
        "ltd",
        "limited",
        "mbh",
        "nv",
        "oy",
        "oyj",
        "plc",
        "pty",
        "sa",
        "sarl",
        "sas",
        "sl",
        "spa",
        "sprl",
        "srl",
        "ug",
    ]
)

_NON_WORD = re.compile(r"[\W_]+")
_PHONE_JUNK = re.compile(r"[^\d+]")


# --------------------------------------------------------------------------- normalisers


def normalise_email(value: str | None) -> str | None:
    """Trimmed and lower-cased; empty becomes ``None`` (so it never matches another blank)."""
    if value is None:
        return None
    value = value.strip().lower()
    return value or None


def name_key(*parts: str | None, drop_legal_form: bool = False) -> str:
    """A comparison key for names: accents removed, case-folded, punctuation collapsed.

    ``name_key("José", "Müller-Lüdenscheidt") == "jose muller ludenscheidt"``. With
    ``drop_legal_form`` trailing legal forms go too: ``"Acme Ltd."`` and ``"ACME S.p.A."``
    both give ``"acme"``.
    """
    return _name_key(" ".join(p for p in parts if p), drop_legal_form)


@functools.lru_cache(maxsize=16384)  # first names, account names: an import repeats them
def _name_key(raw: str, drop_legal_form: bool) -> str:
    decomposed = unicodedata.normalize("NFKD", raw)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    # Dots join abbreviations ("S.p.A." -> "spa", "J.P." -> "jp") instead of splitting them.
    words = _NON_WORD.sub(" ", plain.replace(".", "")).split()
    if drop_legal_form:
        while len(words) > 1 and words[-1] in LEGAL_FORMS:
            words.pop()
    return " ".join(words)


#: Stored forms made recently by ``stored_phone``: normalising one again gives itself, and
#: the model's validator sees every number a service has just normalised. Parsing a number
#: is the dearest step of an import row, so the answer is remembered (bounded; cleared
#: when full).
_STORED_FORMS: dict[str, None] = {}
_STORED_FORMS_MAX = 50_000


def stored_phone(number: phonenumbers.PhoneNumber) -> str:
    """The stored form of a parsed, possible number: E.164, an extension in RFC 3966 style."""
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    stored = f"{e164};ext={number.extension}" if number.extension else e164
    if len(_STORED_FORMS) >= _STORED_FORMS_MAX:
        _STORED_FORMS.clear()
    _STORED_FORMS[stored] = None
    return stored


def normalise_phone(value: str | None, region: str | None = None) -> str | None:
    """E.164 when the number carries its country (``+``/``00``) or ``region`` is given.

    Otherwise the number is kept as typed minus spaces and punctuation (digits and a leading
    ``+``), which still compares equal to the same number typed differently. An extension
    is kept in RFC 3966 style (``+4930123456;ext=12``). Never raises: validation with a
    field message is ``services.clean_phone``'s job.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if value in _STORED_FORMS:
        return value
    candidate = "+" + value[2:] if value.startswith("00") else value
    if candidate.startswith("+") or region:
        try:
            number = parse_number(candidate, None if candidate.startswith("+") else region)
        except phonenumbers.NumberParseException:
            number = None
        if number is not None and is_possible(number):
            return stored_phone(number)
    cleaned = _PHONE_JUNK.sub("", candidate)
    return cleaned[:1] + cleaned[1:].replace("+", "") if cleaned else None


# --------------------------------------------------------------------------- link tables

account_tag = Table(
    "contacts_account_tag",
    Base.metadata,
    Column("account_id", ForeignKey("contacts_account.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "tag_id", ForeignKey("contacts_tag.id", ondelete="CASCADE"), primary_key=True, index=True
    ),
)

contact_tag = Table(
    "contacts_contact_tag",
    Base.metadata,
    Column("contact_id", ForeignKey("contacts_contact.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "tag_id", ForeignKey("contacts_tag.id", ondelete="CASCADE"), primary_key=True, index=True
    ),
)


# --------------------------------------------------------------------------- models


class Tag(BusinessMixin, Base):
    """A label shared by accounts and contacts of one company ("VIP", "Prospect")."""

    __tablename__ = "contacts_tag"
    __table_args__ = (UniqueConstraint("company_id", "name"),)

    name: Mapped[str] = mapped_column(String(60))
    color: Mapped[str | None] = mapped_column(String(7), nullable=True)

    def __repr__(self) -> str:
        return f"<Tag {self.id} {self.name!r}>"


class Account(BusinessMixin, ArchiveMixin, Base):
    """An organisation: a customer, a vendor, a partner (or several of these at once)."""

    __tablename__ = "contacts_account"

    name: Mapped[str] = mapped_column(String(200), index=True)
    name_key: Mapped[str] = mapped_column(String(200), index=True, default="")
    legal_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    tax_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    website: Mapped[str | None] = mapped_column(String(255), nullable=True)
    email: Mapped[str | None] = mapped_column(String(254), nullable=True, index=True)
    phone: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    industry: Mapped[str | None] = mapped_column(String(100), nullable=True)
    size: Mapped[str | None] = mapped_column(String(16), nullable=True)
    is_customer: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    is_vendor: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("core_user.id", ondelete="SET NULL"), nullable=True, index=True
    )
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts_account.id"), nullable=True, index=True
    )
    notes: Mapped[str | None] = mapped_column(Text, nullable=True)

    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])
    parent: Mapped[Account | None] = relationship(
        remote_side="Account.id", back_populates="children"
    )
    children: Mapped[list[Account]] = relationship(back_populates="parent")
    contacts: Mapped[list[Contact]] = relationship(
        back_populates="account", order_by="Contact.name_key"
    )
    addresses: Mapped[list[Address]] = relationship(
        back_populates="account", cascade="all, delete-orphan", passive_deletes=True,
        order_by="Address.id",
    )  # fmt: skip
    tags: Mapped[list[Tag]] = relationship(secondary=account_tag, order_by="Tag.name")

    @validates("name")
    def _set_name(self, _key: str, value: str) -> str:
        value = (value or "").strip()
        self.name_key = name_key(value, drop_legal_form=True)
        return value

    @validates("email")
    def _set_email(self, _key: str, value: str | None) -> str | None:
        return normalise_email(value)

    @validates("phone")
    def _set_phone(self, _key: str, value: str | None) -> str | None:
        return normalise_phone(value)

    @property
    def types(self) -> list[str]:
        return [
            t for t, flag in (("customer", self.is_customer), ("vendor", self.is_vendor)) if flag
        ]

    def default_address(self, kind: str) -> Address | None:
        return _default_address(self.addresses, kind)

    def __repr__(self) -> str:
        return f"<Account {self.id} {self.name!r}>"


class Contact(BusinessMixin, ArchiveMixin, Base):
    """A person, usually working at an account."""

    __tablename__ = "contacts_contact"
    # The language filter's choices: a loose index scan over it (core distinct_values).
    __table_args__ = (Index("ix_contacts_contact_company_language", "company_id", "language"),)

    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100), default="")
    name_key: Mapped[str] = mapped_column(String(200), index=True, default="")
    title: Mapped[str | None] = mapped_column(String(100), nullable=True)  # job title
    email: Mapped[str | None] = mapped_column(String(254), nullable=True, index=True)
    phone: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    mobile: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts_account.id"), nullable=True, index=True
    )
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("core_user.id", ondelete="SET NULL"), nullable=True, index=True
    )
    language: Mapped[str | None] = mapped_column(String(16), nullable=True)  # BCP 47, e.g. "de-CH"
    notes: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Personal-data erasure: the row stays (references remain valid), its personal fields go.
    forgotten_at: Mapped[datetime | None] = mapped_column(nullable=True)
    forgotten_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("core_user.id", ondelete="SET NULL"), nullable=True
    )

    account: Mapped[Account | None] = relationship(back_populates="contacts")
    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])
    addresses: Mapped[list[Address]] = relationship(
        back_populates="contact", cascade="all, delete-orphan", passive_deletes=True,
        order_by="Address.id",
    )  # fmt: skip
    tags: Mapped[list[Tag]] = relationship(secondary=contact_tag, order_by="Tag.name")

    @validates("first_name", "last_name")
    def _set_names(self, key: str, value: str | None) -> str:
        value = (value or "").strip()
        first = value if key == "first_name" else self.first_name
        last = value if key == "last_name" else self.last_name
        self.name_key = name_key(first, last)
        return value

    @validates("email")
    def _set_email(self, _key: str, value: str | None) -> str | None:
        return normalise_email(value)

    @validates("phone", "mobile")
    def _set_phone(self, _key: str, value: str | None) -> str | None:
        return normalise_phone(value)

    @property
    def name(self) -> str:
        if self.forgotten_at is not None:
            return f"Forgotten contact #{self.id}"
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def is_forgotten(self) -> bool:
        return self.forgotten_at is not None

    def default_address(self, kind: str) -> Address | None:
        return _default_address(self.addresses, kind)

    def __repr__(self) -> str:
        return f"<Contact {self.id} {self.name!r}>"


class Address(BusinessMixin, Base):
    """A postal address of exactly one account or one contact.

    At most one address per owner and kind is the default (enforced by partial unique
    indexes); the default billing and shipping addresses are what documents of other addons
    (invoices, deliveries) pick first.
    """

    __tablename__ = "contacts_address"
    __table_args__ = (
        CheckConstraint("kind IN ('billing', 'shipping', 'other')", name="kind"),
        CheckConstraint("(account_id IS NULL) <> (contact_id IS NULL)", name="one_owner"),
        Index(
            "uq_contacts_address_account_default", "account_id", "kind", unique=True,
            sqlite_where=text("is_default AND account_id IS NOT NULL"),
            postgresql_where=text("is_default AND account_id IS NOT NULL"),
        ),
        Index(
            "uq_contacts_address_contact_default", "contact_id", "kind", unique=True,
            sqlite_where=text("is_default AND contact_id IS NOT NULL"),
            postgresql_where=text("is_default AND contact_id IS NOT NULL"),
        ),
    )  # fmt: skip

    kind: Mapped[str] = mapped_column(String(16), default="billing")
    is_default: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    street1: Mapped[str | None] = mapped_column(String(200), nullable=True)
    street2: Mapped[str | None] = mapped_column(String(200), nullable=True)
    city: Mapped[str | None] = mapped_column(String(100), nullable=True)
    postal_code: Mapped[str | None] = mapped_column(String(20), nullable=True)
    region: Mapped[str | None] = mapped_column(String(100), nullable=True)
    country: Mapped[str | None] = mapped_column(String(2), nullable=True, index=True)  # ISO 3166-1
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts_account.id", ondelete="CASCADE"), nullable=True, index=True
    )
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts_contact.id", ondelete="CASCADE"), nullable=True, index=True
    )

    account: Mapped[Account | None] = relationship(back_populates="addresses")
    contact: Mapped[Contact | None] = relationship(back_populates="addresses")

    @validates("country")
    def _set_country(self, _key: str, value: str | None) -> str | None:
        value = (value or "").strip().upper()
        return value or None

    @property
    def lines(self) -> list[str]:
        """The address as printed on an envelope, one line per entry, blanks skipped."""
        city = " ".join(p for p in (self.postal_code, self.city) if p)
        return [p for p in (self.street1, self.street2, city, self.region, self.country) if p]

    def __repr__(self) -> str:
        return f"<Address {self.id} {self.kind} {self.city!r}>"


# --------------------------------------------------------------------------- search indexes

#: Columns the list search reads (``api.py``'s ``search=[...]``) with ``lower(col) LIKE '%word%'``.
#: On PostgreSQL each gets a GIN trigram index on ``lower(col)`` (migration 0004): every
#: branch of the search's ``OR`` must be indexed, or the planner scans the whole table.
#: SQLite has no such index type; there the indexes are not created.
TRIGRAM_SEARCH_COLUMNS: dict[type, tuple[str, ...]] = {
    Contact: ("first_name", "last_name", "name_key", "email", "phone", "mobile"),
    Account: ("name", "name_key", "legal_name", "email", "phone", "website"),
}


def trigram_index_name(model: type, column: str) -> str:
    return f"ix_{model.__tablename__}_{column}_trgm"


def _declare_trigram_indexes() -> None:
    """Declare the indexes of migration 0004 so that models and migrations compare equal."""
    for model, columns in TRIGRAM_SEARCH_COLUMNS.items():
        for column in columns:
            label = f"{column}_lower"
            Index(
                trigram_index_name(model, column),
                func.lower(getattr(model, column)).label(label),
                postgresql_using="gin",
                postgresql_ops={label: "gin_trgm_ops"},
            ).ddl_if(dialect="postgresql")


_declare_trigram_indexes()


def _default_address(addresses: list[Address], kind: str) -> Address | None:
    """The default address of ``kind``, else the first of that kind, else ``None``."""
    of_kind = [a for a in addresses if a.kind == kind]
    return next((a for a in of_kind if a.is_default), of_kind[0] if of_kind else None)


__all__ = [
    "ACCOUNT_SIZES",
    "ADDRESS_KINDS",
    "Account",
    "Address",
    "Contact",
    "Tag",
    "account_tag",
    "contact_tag",
    "name_key",
    "normalise_email",
    "normalise_phone",
]
