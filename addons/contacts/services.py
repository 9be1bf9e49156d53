"""Business rules of accounts, contacts and addresses. No Flask here.

Everything a person can do to a contact goes through these functions, whether it comes from
the REST API, a web page, the CLI, an import, a job or a test, so the rules hold everywhere:

* **cleaning** - e-mails lower-cased and checked, phone numbers in E.164 where the country
  is known (``clean_phone``), ISO 3166-1 countries and ISO 639 languages checked;
* **duplicates** - ``find_duplicates`` / ``duplicate_report`` look up the normalised e-mail,
  phone numbers and name key; ``create_*`` refuse a likely duplicate with ``DuplicateError``
  unless the caller confirms;
* **delete or archive** - a record that something still refers to cannot be deleted
  (``ReferencedError`` says what refers to it); archive it instead;
* **merge** - ``merge_contacts`` / ``merge_accounts`` move everything of the source onto the
  target, ask other addons to re-point their rows through the ``contacts_merge_records``
  hook, verify nothing points at the source any more, delete it and write the audit trail;
* **forget** - ``forget_contact`` erases a person's personal data but keeps the row.

Functions take the session and flush; they never commit (the caller owns the transaction,
so a merge and everything the hooks did commit or roll back together). Field problems raise
``InvalidData`` with ``{field: [message]}`` (a 422 in the API, a row error in an import).
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import phonenumbers
import pycountry
from sqlalchemy import and_, bindparam, func, inspect, or_, select, union
from sqlalchemy import column as sql_column
from sqlalchemy import table as sql_table
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.attributes import instance_state

from addons.contacts.models import (
    ACCOUNT_SIZES,
    ADDRESS_KINDS,
    Account,
    Address,
    Contact,
    Tag,
    name_key,
    normalise_email,
    normalise_phone,
    stored_phone,
)
from addons.contacts.phones import is_possible, parse_number
from core import audit  # importing it installs the listeners that record every change
from core.bulk import insert_new
from core.db import hold_lock, in_values, session_cache, utcnow
from core.models import User
from core.resources.declaration import BusinessError
from core.tenancy import current_scope

Kind = Literal["contact", "account"]
MODELS: dict[str, type[Contact] | type[Account]] = {"contact": Contact, "account": Account}

# Fields a merge copies from the source when the target has none.
CONTACT_MERGE_FIELDS = ("first_name", "last_name", "title", "email", "phone", "mobile",
                        "account_id", "owner_id", "language")  # fmt: skip
ACCOUNT_MERGE_FIELDS = ("legal_name", "tax_id", "website", "email", "phone", "industry",
                        "size", "owner_id", "parent_id")  # fmt: skip
# What "forget a person" erases. The audit trail of these fields is redacted as well.
PERSONAL_FIELDS = ("first_name", "last_name", "title", "email", "phone", "mobile", "language",
                   "notes")  # fmt: skip
ERASED = audit.ERASED

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DIGITS = re.compile(r"\d")
MIN_PHONE_DIGITS_FOR_MATCH = 6


# =========================================================================== errors


class ContactsError(BusinessError):
    """A business rule refused the operation; ``message`` is meant for the user.

    Being a ``core.resources.BusinessError``, it becomes a problem+json answer with
    ``status`` in the API, a message on the pages and a row error in an import.
    """

    status = 409

    def __init__(self, message: str, *, errors: Mapping[str, Any] | None = None) -> None:
        super().__init__(message, status=type(self).status, errors=errors)


class InvalidData(ContactsError):
    """Some fields are not acceptable: ``errors`` is ``{field: [messages]}`` (a 422)."""

    status = 422

    def __init__(self, errors: Mapping[str, list[str]]) -> None:
        fields_ = ", ".join(errors)
        super().__init__(f"The data is not valid: check {fields_}.", errors=errors)


@dataclass(frozen=True)
class Candidate:
    """A record that may be the same as the one being created or imported."""

    kind: str
    id: int | None
    name: str
    email: str | None
    phone: str | None
    archived: bool
    reasons: tuple[str, ...]
    row: int | None = None  # set when the candidate is an earlier row of the same import

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "id": self.id, "name": self.name, "email": self.email,
            "phone": self.phone, "archived": self.archived, "reasons": list(self.reasons),
            **({"row": self.row} if self.row is not None else {}),
        }  # fmt: skip

    def describe(self) -> str:
        where = f"row {self.row}" if self.row is not None else f"{self.kind} #{self.id}"
        return f"{where} {self.name!r} (same {', '.join(self.reasons)})"


class DuplicateError(ContactsError):
    """Creating the record would likely duplicate existing ones; confirm to go ahead.

    ``errors`` puts the explanation on the ``confirm_duplicate`` field: the box a form
    shows, the column an import file can set.
    """

    def __init__(self, kind: str, candidates: Sequence[Candidate]) -> None:
        self.kind, self.candidates = kind, list(candidates)
        listed = "; ".join(c.describe() for c in self.candidates)
        super().__init__(
            f"This {kind} looks like an existing one: {listed}.",
            errors={"confirm_duplicate": [f"Looks like {listed}."]},
        )


@dataclass(frozen=True)
class Reference:
    """``count`` rows of ``table`` point at a record through ``column``."""

    table: str
    column: str
    count: int

    def describe(self) -> str:
        return f"{self.count} {self.table} row{'s' if self.count != 1 else ''} ({self.column})"

    def as_dict(self) -> dict[str, Any]:
        return {"table": self.table, "column": self.column, "count": self.count}


class ReferencedError(ContactsError):
    """The record is still referenced, so it cannot be deleted (archive it instead)."""

    def __init__(self, kind: str, record_id: int, references: Sequence[Reference]) -> None:
        self.kind, self.record_id, self.references = kind, record_id, list(references)
        listed = ", ".join(r.describe() for r in self.references)
        super().__init__(
            f"{kind.capitalize()} #{record_id} is still referenced by {listed}; "
            "archive it instead, or merge it into another one."
        )


class MergeError(ContactsError):
    """The merge was refused; nothing was changed."""


# =========================================================================== cleaning


def clean_email(value: str | None, field_name: str = "email") -> str | None:
    email = normalise_email(value)
    if email is not None and (len(email) > 254 or not _EMAIL.match(email)):
        raise InvalidData({field_name: ["Not a valid e-mail address."]})
    return email


@functools.lru_cache(maxsize=4096)  # an import repeats the same few codes on every row
def clean_country(value: str | None, field_name: str = "country") -> str | None:
    """An ISO 3166-1 alpha-2 code, upper-case. Alpha-3 codes are accepted and converted."""
    if value is None or not value.strip():
        return None
    code = value.strip().upper()
    country = None
    if len(code) == 2:
        country = pycountry.countries.get(alpha_2=code)
    elif len(code) == 3:
        country = pycountry.countries.get(alpha_3=code)
    if country is None:
        raise InvalidData(
            {field_name: [f"'{value}' is not an ISO 3166-1 country code (e.g. DE, FR, US)."]}
        )
    return country.alpha_2


@functools.lru_cache(maxsize=4096)  # (refused codes raise, and are not remembered)
def clean_language(value: str | None, field_name: str = "language") -> str | None:
    """A BCP 47 tag whose language is ISO 639-1 (``en``, ``de-CH``, ``pt-BR``), normalised."""
    if value is None or not value.strip():
        return None
    parts = value.strip().replace("_", "-").split("-")
    base = parts[0].lower()
    if len(base) != 2 or pycountry.languages.get(alpha_2=base) is None:
        raise InvalidData({field_name: [f"'{value}' is not a language code (e.g. en, de-CH)."]})
    if len(parts) == 1:
        return base
    region = parts[1].upper()
    if len(parts) > 2 or pycountry.countries.get(alpha_2=region) is None:
        raise InvalidData({field_name: [f"'{value}' is not a language code (e.g. en, de-CH)."]})
    return f"{base}-{region}"


def language_match(column: Any, tag: str) -> Any:
    """The condition for "speaks ``tag``": a bare language (``de``) covers its regional
    forms (``de-CH``, ``de-AT``); a regional tag only itself. ``tag`` is a cleaned one
    (``clean_language``), so it holds no LIKE wildcards."""
    if "-" in tag:
        return column == tag
    return or_(column == tag, column.like(f"{tag}-%"))


def clean_phone(value: str | None, region: str | None, field_name: str = "phone") -> str | None:
    """Validate a phone number and return its stored form (see ``models.normalise_phone``).

    With an international prefix or a known ``region`` the number must be possible for its
    country; without either, it must at least look like a phone number.
    """
    if value is None or not value.strip():
        return None
    raw = value.strip()
    international = raw.startswith(("+", "00"))
    if international or region:
        try:
            number = parse_number("+" + raw[2:] if raw.startswith("00") else raw,
                                  None if international else region)  # fmt: skip
        except phonenumbers.NumberParseException as exc:
            raise InvalidData({field_name: [f"Not a phone number ({exc._msg})."]}) from None
        if not is_possible(number):
            country = phonenumbers.region_code_for_number(number) or region
            raise InvalidData({field_name: [f"Not a possible phone number for {country}."]})
        return stored_phone(number)
    else:
        digits = len(_DIGITS.findall(raw))
        if (
            digits < 3
            or digits > 20
            or re.search(r"[^\d\s()./+\-x]", raw.lower().replace("ext", ""))
        ):
            raise InvalidData({field_name: ["Not a phone number."]})
    return normalise_phone(raw, region)


def _phone_region(
    addresses: Iterable[Mapping[str, Any] | Address], fallback: str | None = None
) -> str | None:
    """The country phone numbers are read in: the default billing address's, else any address's."""

    def get(a: Any, key: str) -> Any:
        return a.get(key) if isinstance(a, Mapping) else getattr(a, key)

    ranked = sorted(
        addresses, key=lambda a: (get(a, "kind") != "billing", not get(a, "is_default"))
    )
    for address in ranked:
        if get(address, "country"):
            return get(address, "country")
    return fallback


def _collect(errors: dict[str, list[str]], fn: Any, *args: Any) -> Any:
    """Run a cleaner; gather its field errors instead of stopping at the first one."""
    try:
        return fn(*args)
    except InvalidData as exc:
        for key, messages in (exc.errors or {}).items():
            errors.setdefault(key, []).extend(messages)
        return None


# =========================================================================== who and where


def _company(company_id: int | None) -> int:
    """The given company, else the caller's current one."""
    company_id = company_id if company_id is not None else current_scope().company_id
    if company_id is None:
        raise ContactsError("Choose a current company before creating records.")
    return company_id


def _actor(user_id: int | None) -> int | None:
    """The given user, else the one acting in this request, job or CLI scope."""
    return user_id if user_id is not None else current_scope().user_id


# =========================================================================== tags and lookups


def get_or_create_tags(
    session: Session,
    names: Iterable[str],
    company_id: int | None = None,
) -> list[Tag]:
    """The company's tags with these names, creating the missing ones.

    Names compare case-insensitively in Python (SQLite's ``lower()`` only knows ASCII, so
    "Über" and "über" would otherwise become two tags). A company has few tags: they are
    read once per unit of work and kept in a ``session_cache``. A name missing from the
    cache is looked up again (another request may just have made it). An import batch reads
    the tags once at its start and takes them from that map (``_tags_from``).
    """
    company_id = _company(company_id)
    wanted = _tag_names(names)
    if not wanted:
        return []
    known = _company_tags(session, company_id, refresh=False)
    if any(folded not in known for folded in wanted):
        known = _company_tags(session, company_id, refresh=True)
    return _tags_from(session, known, wanted, company_id)


def _tag_names(names: Iterable[str]) -> dict[str, str]:
    """Case-folded name -> name as given (spaces collapsed, cut to the column), each once."""
    wanted: dict[str, str] = {}
    for name in names:
        name = " ".join(str(name).split())
        if name:
            wanted.setdefault(name.casefold(), name[:60])
    return wanted


def _tags_from(
    session: Session, known: dict[str, Tag], wanted: dict[str, str], company_id: int
) -> list[Tag]:
    """The ``wanted`` tags from ``known`` (the company's, by folded name), new ones added."""
    for folded, name in wanted.items():
        if folded not in known:
            known[folded] = Tag(name=name, company_id=company_id)
            session.add(known[folded])
    return [known[folded] for folded in wanted]


def _company_tags(session: Session, company_id: int, *, refresh: bool) -> dict[str, Tag]:
    cache: dict[int, dict[str, Tag]] = session_cache(session, "contacts.tags")
    tags = cache.get(company_id)
    usable = tags is not None and all(
        (state := inspect(tag)).pending or (state.persistent and not state.deleted)
        for tag in tags.values()
    )
    if refresh or not usable:
        # Tags added but not flushed yet (earlier rows of an import batch) are kept.
        pending = {k: t for k, t in (tags or {}).items() if inspect(t).pending}
        rows = session.scalars(select(Tag).where(Tag.company_id == company_id)).all()
        tags = cache[company_id] = {**pending, **{tag.name.casefold(): tag for tag in rows}}
    return tags  # type: ignore[return-value]


def _check_user(session: Session, user_id: int | None, field_name: str, errors: dict) -> None:
    if user_id is not None and session.get(User, user_id) is None:
        errors.setdefault(field_name, []).append(f"No user #{user_id}.")


def _check_account(
    session: Session, account_id: int | None, company_id: int, field_name: str, errors: dict
) -> Account | None:
    if account_id is None:
        return None
    account = session.get(Account, account_id)
    if account is None or account.company_id != company_id:
        errors.setdefault(field_name, []).append(f"No account #{account_id} in this company.")
        return None
    return account


# =========================================================================== addresses


def _apply_address(
    address: Address, data: Mapping[str, Any], errors: dict, prefix: str, sep: str = "."
) -> bool | None:
    """Copy address fields; return the requested ``is_default`` (``None`` when not given).

    The default flag is not written here: defaults are settled for all of the owner's
    addresses at once (``_write_defaults``), in an order the unique index accepts.
    """
    kind = data.get("kind", address.kind or "billing")
    if kind not in ADDRESS_KINDS:
        errors.setdefault(f"{prefix}{sep}kind", []).append(
            f"Must be one of {', '.join(ADDRESS_KINDS)}."
        )
    address.kind = kind
    for key in ("street1", "street2", "city", "postal_code", "region"):
        if key in data:
            value = data[key]
            setattr(address, key, (value.strip() or None) if isinstance(value, str) else value)
    if "country" in data:
        address.country = _collect(errors, clean_country, data["country"], f"{prefix}{sep}country")
    return bool(data["is_default"]) if data.get("is_default") is not None else None


def _check_addresses(items: Sequence[Mapping[str, Any]] | None, errors: dict) -> None:
    """Report bad address fields along with the record's own (nothing is changed)."""
    for index, item in enumerate(items or ()):
        _apply_address(Address(), item, errors, f"addresses.{index}")


def _was_default(address: Address) -> bool:
    """The flag as the database has it now (pending rows have none)."""
    if not inspect(address).persistent:
        return False
    history = inspect(address).attrs.is_default.history
    return bool(history.deleted[0]) if history.deleted else bool(address.is_default)


def _write_defaults(
    session: Session, addresses: Sequence[Address], requested: Mapping[Address, bool | None]
) -> None:
    """Exactly one default address per kind present; write the flags without a collision.

    The winner of a kind is the address asked to be default (the last one asked), else the
    current default unless asked not to be, else the first address of the kind. Partial
    unique indexes are checked row by row, so when a default moves from one row to another
    the old row is cleared and flushed before the new one is set.
    """
    was = {a: _was_default(a) for a in addresses}
    desired = _default_flags(addresses, requested, was)
    if any(desired[a] and not was[a] for a in addresses) and any(
        was[a] and not desired[a] for a in addresses
    ):
        for address in addresses:
            address.is_default = desired[address] and was[address]
        session.flush()
    for address in addresses:
        address.is_default = desired[address]
    session.flush()


def _default_flags(
    addresses: Sequence[Address],
    requested: Mapping[Address, bool | None],
    was: Mapping[Address, bool],
) -> dict[Address, bool]:
    """Which addresses should be the default of their kind (see ``_write_defaults``)."""
    desired: dict[Address, bool] = {}
    by_kind: dict[str, list[Address]] = defaultdict(list)
    for address in addresses:
        by_kind[address.kind].append(address)
    for group in by_kind.values():
        asked = [a for a in group if requested.get(a)]
        keep = [a for a in group if was.get(a) and requested.get(a) is not False]
        winner = asked[-1] if asked else (keep[0] if keep else group[0])
        desired.update((a, a is winner) for a in group)
    return desired


def _first_addresses(owner: Account | Contact, items: Sequence[Mapping[str, Any]]) -> list[Address]:
    """The addresses of a record being created, default flags settled, nothing flushed.

    A new record has no stored address whose default flag could collide, so the flags are
    set in memory and the rows go in with the record's flush (an import's batch).
    """
    errors: dict[str, list[str]] = {}
    requested: dict[Address, bool | None] = {}
    for index, item in enumerate(items):
        prefix = f"addresses.{index}"
        if item.get("id") is not None:
            errors.setdefault(f"{prefix}.id", []).append(f"No address #{item['id']} here.")
            continue
        address = Address(company_id=owner.company_id, is_default=False)
        requested[address] = _apply_address(address, item, errors, prefix)
    if errors:
        raise InvalidData(errors)
    addresses = list(requested)
    for address, is_default in _default_flags(addresses, requested, {}).items():
        address.is_default = is_default
    return addresses


def replace_addresses(
    session: Session, owner: Account | Contact, items: Sequence[Mapping[str, Any]]
) -> None:
    """Make ``owner``'s addresses match ``items``: items with an ``id`` update, others are new.

    Addresses not listed are deleted. Raises ``InvalidData`` keyed ``addresses.<n>.<field>``.
    """
    errors: dict[str, list[str]] = {}
    current = {a.id: a for a in owner.addresses}
    result: list[Address] = []
    requested: dict[Address, bool | None] = {}
    for index, item in enumerate(items):
        prefix = f"addresses.{index}"
        address_id = item.get("id")
        if address_id is not None:
            address = current.pop(address_id, None)
            if address is None:
                errors.setdefault(f"{prefix}.id", []).append(f"No address #{address_id} here.")
                continue
        else:
            address = Address(company_id=owner.company_id, is_default=False)
        requested[address] = _apply_address(address, item, errors, prefix)
        result.append(address)
    if errors:
        raise InvalidData(errors)
    for gone in current.values():  # dropped first, so a dropped default frees its slot
        owner.addresses.remove(gone)
    session.flush()
    for address in result:
        if address not in owner.addresses:
            owner.addresses.append(address)
    _write_defaults(session, result, requested)


def add_address(session: Session, owner: Account | Contact, data: Mapping[str, Any]) -> Address:
    """Add one address; when it asks to be the default, it takes over from the previous one."""
    errors: dict[str, list[str]] = {}
    address = Address(company_id=owner.company_id, is_default=False)
    wish = _apply_address(address, data, errors, "address")
    if errors:
        raise InvalidData(errors)
    owner.addresses.append(address)
    _write_defaults(session, list(owner.addresses), {address: wish})
    return address


def update_address(session: Session, address: Address, data: Mapping[str, Any]) -> Address:
    errors: dict[str, list[str]] = {}
    wish = _apply_address(address, data, errors, "address")
    if errors:
        raise InvalidData(errors)
    owner = address.account or address.contact
    _write_defaults(session, list(owner.addresses) if owner else [address], {address: wish})
    return address


def delete_address(session: Session, address: Address) -> None:
    """Delete an address; another of its kind becomes the default if it was the default."""
    owner = address.account or address.contact
    if owner is None:
        session.delete(address)
        session.flush()
        return
    owner.addresses.remove(address)
    session.flush()
    _write_defaults(session, list(owner.addresses), {})


# =========================================================================== create / update


def _clean_common(
    session: Session,
    record: Account | Contact,
    data: Mapping[str, Any],
    region: str | None,
    errors: dict,
) -> None:
    if "email" in data:
        record.email = _collect(errors, clean_email, data["email"], "email")
    for phone_field in ("phone", "mobile"):
        if phone_field in data and hasattr(record, phone_field):
            setattr(
                record,
                phone_field,
                _collect(errors, clean_phone, data[phone_field], region, phone_field),
            )
    if "owner_id" in data:
        _check_user(session, data["owner_id"], "owner_id", errors)
        record.owner_id = data["owner_id"]
    if "notes" in data:
        record.notes = (data["notes"] or "").strip() or None
    if "archived" in data:
        record.archived = bool(data["archived"])


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _assign_contact(session: Session, contact: Contact, data: Mapping[str, Any]) -> None:
    """Validate ``data`` and set the contact's own columns (not its tags and addresses)."""
    errors: dict[str, list[str]] = {}
    for key in ("first_name", "last_name"):
        if key in data:
            setattr(contact, key, _text(data[key]))
    if "title" in data:
        contact.title = _text(data["title"]) or None
    if not (contact.first_name or contact.last_name) and not contact.is_forgotten:
        errors.setdefault("last_name", []).append("A first or a last name is required.")
    named = None
    if "account_id" in data:
        contact.account_id = data["account_id"]
    elif data.get("account_name"):
        named = _account_named(session, data["account_name"], contact.company_id, errors)
        contact.account_id = named.id if named is not None else None
    elif "account_name" in data:
        contact.account_id = None
    account = (
        named  # found in this company by name: no second look-up
        if named is not None
        else _check_account(session, contact.account_id, contact.company_id, "account_id", errors)
    )
    if "language" in data:
        contact.language = _collect(errors, clean_language, data["language"], "language")
    addresses = data.get("addresses")
    _check_addresses(addresses, errors)
    fallback = _phone_region(account.addresses) if account is not None else None
    region = _phone_region(
        addresses if addresses is not None else _stored_addresses(contact), fallback
    )
    _clean_common(session, contact, data, region, errors)
    if errors:
        raise InvalidData(errors)


def _assign_account(session: Session, account: Account, data: Mapping[str, Any]) -> None:
    """Validate ``data`` and set the account's own columns (not its tags and addresses)."""
    errors: dict[str, list[str]] = {}
    if "name" in data:
        account.name = _text(data["name"])
    if not account.name:
        errors.setdefault("name", []).append("A name is required.")
    for key in ("legal_name", "tax_id", "website", "industry"):
        if key in data:
            setattr(account, key, _text(data[key]) or None)
    if "size" in data:
        if data["size"] not in (None, *ACCOUNT_SIZES):
            errors.setdefault("size", []).append(f"Must be one of {', '.join(ACCOUNT_SIZES)}.")
        account.size = data["size"]
    for flag in ("is_customer", "is_vendor"):
        if flag in data:
            setattr(account, flag, bool(data[flag]))
    if "parent_id" in data:
        parent = _check_account(session, data["parent_id"], account.company_id, "parent_id", errors)
        if (
            parent is not None
            and account.id is not None
            and _is_descendant_or_self(session, parent.id, account.id)
        ):
            errors.setdefault("parent_id", []).append(
                "An account cannot be its own parent or ancestor."
            )
        account.parent_id = data["parent_id"]
    addresses = data.get("addresses")
    billing = _billing_fields(data) if addresses is None else None
    _check_addresses(addresses, errors)
    if billing is not None:
        probe = Address()
        _apply_address(probe, billing, errors, "billing", sep="_")
        region = probe.country or _phone_region(_stored_addresses(account))
    else:
        region = _phone_region(addresses if addresses is not None else _stored_addresses(account))
    _clean_common(session, account, data, region, errors)
    if errors:
        raise InvalidData(errors)


def _stored_addresses(record: Account | Contact) -> Sequence[Address]:
    """The record's addresses; none for a record being created (no lazy load to set up)."""
    return record.addresses if record.id is not None else ()


def _account_named(session: Session, name: str, company_id: int, errors: dict) -> Account | None:
    """The company's account called ``name`` (compared like duplicate names).

    An exact (case-insensitive) name wins over a mere key match; archived accounts are
    found too, but a live one is preferred. Answers are remembered for the session (an
    import names the same accounts again and again) and checked again before use.
    """
    key = name_key(name, drop_legal_form=True)
    # The memo holds the objects themselves: the identity map only keeps weak references, so
    # remembering ids alone would reload the account (and its addresses) on every row.
    memo: dict[tuple[int, str], Account] = session_cache(session, "contacts.account_names")
    remembered = memo.get((company_id, name.strip().casefold()))
    if _still_named(remembered, name):
        return remembered
    same_key = _union_of(Account.__table__, [Account.__table__.c.name_key == key])
    found = session.scalars(
        select(Account)
        .where(Account.id.in_(same_key), Account.company_id == company_id)
        .order_by(Account.archived, Account.id)
        .limit(10)
    ).all()
    chosen = _pick_account(name, found)
    if isinstance(chosen, str):
        errors.setdefault("account_name", []).append(chosen)
        return None
    memo[(company_id, name.strip().casefold())] = chosen
    return chosen


def _still_named(account: Account | None, name: str) -> bool:
    """A remembered answer of ``_account_named`` is still good: stored, not deleted, same key."""
    if account is None:
        return False
    state = instance_state(account)  # inspect() without its dispatch: once per imported row
    return (
        state.persistent
        and not state.deleted
        and account.name_key == name_key(name, drop_legal_form=True)
    )


def _pick_account(name: str, found: Sequence[Account]) -> Account | str:
    """The one account ``name`` means among those sharing its key, or why there is none.

    An exact (case-insensitive) name wins over a mere key match; a live account wins over
    archived ones. ``found`` is ordered archived last, then by id.
    """
    exact = [a for a in found if a.name.casefold() == name.strip().casefold()]
    candidates = exact or list(found)
    live = [a for a in candidates if not a.archived] or candidates
    if len(live) == 1:
        return live[0]
    if not live:
        return f"No account named '{name}'."
    return f"Several accounts are named '{name}'; give account_id."


def _billing_fields(data: Mapping[str, Any]) -> dict[str, Any] | None:
    """The ``billing_*`` shortcut as an address, or ``None`` when the data has none of it."""
    given = {
        key[len("billing_") :]: value for key, value in data.items() if key.startswith("billing_")
    }
    if not given:
        return None
    return {"kind": "billing", "is_default": True, **given}


def _assign_billing(session: Session, account: Account, billing: Mapping[str, Any]) -> None:
    """Write the ``billing_*`` shortcut into the default billing address (made if missing)."""
    current = account.default_address("billing")
    if current is None:
        add_address(session, account, billing)
    else:
        update_address(session, current, billing)


def _assign_relations(session: Session, record: Account | Contact, data: Mapping[str, Any]) -> None:
    if isinstance(record, Account) and data.get("addresses") is None:
        billing = _billing_fields(data)
        if billing is not None:
            _assign_billing(session, record, billing)
    if "tags" in data:
        record.tags = get_or_create_tags(session, data["tags"] or [], record.company_id)
    if data.get("addresses") is not None:
        replace_addresses(session, record, data["addresses"])


def create_contact(
    session: Session,
    data: Mapping[str, Any],
    *,
    company_id: int | None = None,
    confirm_duplicate: bool = False,
) -> Contact:
    """A new contact from ``data`` (as loaded by ``ContactInputSchema``).

    The company is ``company_id``, else the current one (``core.tenancy``). Raises
    ``InvalidData`` for bad fields and ``DuplicateError`` when it looks like an existing
    contact and ``confirm_duplicate`` is false. Nothing is added to the session before both
    checks passed.
    """
    contact = Contact(company_id=_company(company_id))
    with session.no_autoflush:
        _assign_contact(session, contact, data)
        confirm = confirm_duplicate or bool(data.get("confirm_duplicate"))
        if not confirm and (candidates := duplicates_of(session, contact)):
            raise DuplicateError("contact", candidates)
    session.add(contact)
    _assign_relations(session, contact, data)
    session.flush()
    return contact


def create_account(
    session: Session,
    data: Mapping[str, Any],
    *,
    company_id: int | None = None,
    confirm_duplicate: bool = False,
) -> Account:
    """A new account from ``data`` (as loaded by ``AccountInputSchema``); see ``create_contact``."""
    account = Account(company_id=_company(company_id))
    with session.no_autoflush:
        _assign_account(session, account, data)
        confirm = confirm_duplicate or bool(data.get("confirm_duplicate"))
        if not confirm and (candidates := duplicates_of(session, account)):
            raise DuplicateError("account", candidates)
    session.add(account)
    _assign_relations(session, account, data)
    session.flush()
    return account


def update_contact(session: Session, contact: Contact, data: Mapping[str, Any]) -> Contact:
    """Apply a partial update; keys absent from ``data`` are left alone."""
    with session.no_autoflush:
        _assign_contact(session, contact, data)
    _assign_relations(session, contact, data)
    session.flush()
    return contact


def update_account(session: Session, account: Account, data: Mapping[str, Any]) -> Account:
    """Apply a partial update; keys absent from ``data`` are left alone."""
    with session.no_autoflush:
        _assign_account(session, account, data)
    _assign_relations(session, account, data)
    session.flush()
    return account


def set_archived(session: Session, record: Account | Contact, archived: bool = True) -> None:
    """Archive (hide from lists and pickers, keep every reference) or bring back a record."""
    record.archived = archived
    session.flush()


def _is_descendant_or_self(session: Session, account_id: int, ancestor_id: int) -> bool:
    """Whether ``account_id`` is ``ancestor_id`` or below it in the parent tree."""
    seen: set[int] = set()
    current: int | None = account_id
    while current is not None and current not in seen:
        if current == ancestor_id:
            return True
        seen.add(current)
        current = session.scalar(select(Account.parent_id).where(Account.id == current))
    return False


# =========================================================================== import


def import_contacts(
    session: Session,
    rows: Sequence[tuple[int, Mapping[str, Any]]],
    *,
    company_id: int | None = None,
) -> list[Contact | ContactsError]:
    """Create many contacts at once (a batch of a CSV import), with ``create_contact``'s rules.

    ``rows`` are ``(line, data)``; the answer has, per row, the new contact or the error that
    refused it (``InvalidData``, ``DuplicateError``), and refused rows leave nothing behind.
    The checks are those of ``create_contact``, but the look-ups are made once per batch:
    the accounts the rows name (with the addresses whose country reads national phone
    numbers), the likely duplicates in the database, the tags. A row is also checked
    against the batch's earlier rows; later batches find it in the database. The accepted
    rows are written with ``core.bulk.insert_new`` (one insert per table, audited); the
    records handed back carry their ids but are not in the session. The caller runs the
    batch in a savepoint (``core.resources.csv_io``), so a refused insert undoes all of it.
    """
    company = _company(company_id)
    _preload_accounts(session, company, rows)
    return _import_batch(session, "contact", rows, company)


def import_accounts(
    session: Session,
    rows: Sequence[tuple[int, Mapping[str, Any]]],
    *,
    company_id: int | None = None,
) -> list[Account | ContactsError]:
    """Create many accounts at once; see ``import_contacts``."""
    return _import_batch(session, "account", rows, _company(company_id))


def _import_batch(
    session: Session, kind: Kind, rows: Sequence[tuple[int, Mapping[str, Any]]], company_id: int
) -> list[Any]:
    model = MODELS[kind]
    assign = _assign_contact if kind == "contact" else _assign_account
    outcomes: list[Any] = [None] * len(rows)
    built: list[tuple[int, int, Any, list[Address]]] = []
    accepted: list[Account | Contact] = []
    with session.no_autoflush:
        for index, (line, data) in enumerate(rows):
            record = model(company_id=company_id)
            try:
                assign(session, record, data)
                items = data.get("addresses")
                if items is None and kind == "account":
                    billing = _billing_fields(data)
                    items = [billing] if billing is not None else None
                addresses = _first_addresses(record, items or [])
            except InvalidData as exc:
                outcomes[index] = exc
                continue
            built.append((index, line, record, addresses))
        tags = _company_tags(session, company_id, refresh=True)  # read once for the batch
        duplicates = DuplicateIndex(kind)
        duplicates.load(session, company_id, (record for _i, _l, record, _a in built))
        for index, line, record, addresses in built:
            data = rows[index][1]
            if not data.get("confirm_duplicate") and (found := duplicates.candidates(record)):
                outcomes[index] = DuplicateError(kind, found)
                continue
            duplicates.add(_pending_entry(kind, record, line))
            record.addresses.extend(addresses)
            if "tags" in data:
                record.tags = _tags_from(session, tags, _tag_names(data["tags"] or []), company_id)
            outcomes[index] = record
            accepted.append(record)
    insert_new(session, accepted)
    return outcomes


def _pending_entry(kind: Kind, record: Account | Contact, line: int) -> dict[str, Any]:
    """A row accepted in this batch, as later rows are compared with it (see ``DuplicateIndex``)."""
    names = (
        {"name": record.name}
        if kind == "account"
        else {"first_name": record.first_name, "last_name": record.last_name}
    )
    return {
        **names, "email": record.email, "phone": record.phone,
        "mobile": getattr(record, "mobile", None), "name_key": record.name_key,
        "account_id": getattr(record, "account_id", None), "archived": record.archived, "_row": line,
    }  # fmt: skip


def _preload_accounts(
    session: Session, company_id: int, rows: Sequence[tuple[int, Mapping[str, Any]]]
) -> None:
    """Load the accounts a batch of contacts names, by id or by name, in two queries.

    They land in the identity map (by id) and in ``_account_named``'s memo (by name), with
    their addresses, so that assigning each row finds them without a query of its own.
    """
    memo: dict[tuple[int, str], Account] = session_cache(session, "contacts.account_names")
    ids = {data["account_id"] for _l, data in rows if data.get("account_id") is not None}
    names = {
        name
        for _l, data in rows
        if data.get("account_id") is None
        and (name := (data.get("account_name") or "").strip())
        and not _still_named(memo.get((company_id, name.casefold())), name)
    }
    loaded: list[Account] = []
    if ids:
        loaded += session.scalars(
            select(Account)
            .where(in_values(session, Account.id, ids))
            .options(selectinload(Account.addresses))
        ).all()
    if names:
        keys = {name_key(name, drop_legal_form=True) for name in names}
        same_keys = _ids_where(
            session,
            Account.__table__,
            [in_values(session, Account.__table__.c.name_key, keys, probe_index=True)],
        )
        found = session.scalars(
            select(Account)
            .where(
                in_values(session, Account.id, same_keys, probe_index=True),
                Account.company_id == company_id,
            )
            .order_by(Account.archived, Account.id)
            .options(selectinload(Account.addresses))
        ).all()
        loaded += found
        by_key: dict[str, list[Account]] = defaultdict(list)
        for account in found:
            by_key[account.name_key].append(account)
        for name in names:
            chosen = _pick_account(name, by_key.get(name_key(name, drop_legal_form=True), []))
            if isinstance(chosen, Account):
                memo[(company_id, name.casefold())] = chosen
    # Held for the batch: the identity map only keeps weak references.
    session_cache(session, "contacts.preloaded")["accounts"] = loaded


# =========================================================================== duplicates


def _phones_of(record: Account | Contact) -> list[str]:
    return _match_phones((record.phone, getattr(record, "mobile", None)))


def _usable_key(kind: str, key: str | None) -> bool:
    """Name keys precise enough to flag a duplicate: two words for a person, two letters for a firm."""
    if not key:
        return False
    return " " in key if kind == "contact" else len(key) >= 2


def _candidate(kind: str, record: Account | Contact, reasons: Iterable[str]) -> Candidate:
    return Candidate(kind, record.id, record.name, record.email, record.phone, record.archived,
                     tuple(dict.fromkeys(reasons)))  # fmt: skip


def _reasons(
    kind: str,
    record: Account | Contact,
    email: str | None,
    phones: Sequence[str],
    key: str | None,
    account_id: int | None,
) -> list[str]:
    reasons = []
    if email and record.email == email:
        reasons.append("email")
    if phones and set(phones) & set(_phones_of(record)):
        reasons.append("phone")
    # Two "Anna Schmidt" at different firms are different people.
    same_firm = kind == "account" or _same_firm(account_id, record.account_id)
    if _usable_key(kind, key) and record.name_key == key and same_firm:
        reasons.append("name")
    return reasons


def find_duplicates(
    session: Session,
    kind: Kind,
    *,
    company_id: int,
    email: str | None = None,
    phones: Sequence[str] = (),
    key: str | None = None,
    account_id: int | None = None,
    exclude_id: int | None = None,
    limit: int = 10,
) -> list[Candidate]:
    """Existing records of ``kind`` in the company sharing the e-mail, a phone or the name key.

    Values must already be normalised. Archived records are included (and flagged), forgotten
    contacts are not. A person's name only counts at the same account (or with no account).
    This runs on every create and every imported row: see ``_duplicate_query``.
    """
    phones = [p for p in phones if p and len(_DIGITS.findall(p)) >= MIN_PHONE_DIGITS_FOR_MATCH]
    key = key if _usable_key(kind, key) else None
    if not (email or phones or key):
        return []
    stmt = _duplicate_query(kind, bool(email), bool(phones), bool(key), account_id is not None)
    params: dict[str, Any] = {"exclude": exclude_id or 0, "limit": limit * 10}
    for name, value in (
        ("email", email),
        ("phones", phones),
        ("key", key),
        ("account", account_id),
    ):
        if value:
            params[name] = value
    result = []
    for row in sorted(session.execute(stmt, params), key=lambda r: r.id):
        if row.company_id != company_id:
            continue
        reasons = _reasons(kind, row, email, phones, key, account_id)
        if reasons:
            name = row.name if kind == "account" else f"{row.first_name} {row.last_name}".strip()
            result.append(
                Candidate(kind, row.id, name, row.email, row.phone, row.archived, tuple(reasons))
            )
        if len(result) == limit:
            break
    return result


@functools.cache
def _duplicate_query(kind: str, email: bool, phones: bool, key: bool, account: bool) -> Any:
    """The duplicate look-up for one combination of known values, built once per process.

    It runs for every create and every imported row, so it is a Core statement with bound
    parameters (compiled once, then cached) rather than ORM expressions rebuilt per call.
    Each known value is one branch of a UNION that can only use that column's index, and
    the company is checked on the few rows found, in Python. With ``company_id = ?`` in
    the SQL the planners drive the query from the ``company_id`` index and read the whole
    company per look-up (SQLite always; PostgreSQL on tables without statistics yet, which
    is every table during a first bulk import). Being Core, company scoping adds nothing:
    ``find_duplicates`` keeps the rows of the company it is given, the caller's.
    """
    table = MODELS[kind].__table__
    c = table.c
    branches = []
    if email:
        branches.append(c.email == bindparam("email"))
    if phones:
        branches.append(c.phone.in_(bindparam("phones", expanding=True)))
        if kind == "contact":
            branches.append(c.mobile.in_(bindparam("phones", expanding=True)))
    if key:
        same_name = c.name_key == bindparam("key")
        if kind == "contact" and account:
            same_name = and_(
                same_name, or_(c.account_id == bindparam("account"), c.account_id.is_(None))
            )
        branches.append(same_name)
    names = [c.first_name, c.last_name, c.mobile, c.account_id] if kind == "contact" else [c.name]
    stmt = select(c.id, c.company_id, c.email, c.phone, c.name_key, c.archived, *names).where(
        c.id.in_(_union_of(table, branches)), c.id != bindparam("exclude")
    )
    if kind == "contact":
        stmt = stmt.where(c.forgotten_at.is_(None))
    # No ORDER BY: "ORDER BY id LIMIT n" invites a walk along the primary key; rows are
    # sorted in Python instead.
    return stmt.limit(bindparam("limit"))


def _union_of(table: Any, conditions: Sequence[Any]) -> Any:
    """``SELECT id ... WHERE a UNION SELECT id ... WHERE b``: one index look-up per condition.

    Built on the table (Core), so that company scoping adds no ``company_id`` term to the
    branches; callers filter the company on the outer query (see ``_duplicate_query``).
    """
    branches = [select(table.c.id).where(condition) for condition in conditions]
    return union(*branches) if len(branches) > 1 else branches[0]


def _ids_where(session: Session, table: Any, conditions: Sequence[Any]) -> list[int]:
    """The ids of the rows matching any of ``conditions`` (``_union_of``), as a query of its own.

    A batch look-up loads its records by these ids afterwards rather than with
    ``id IN (union)``: PostgreSQL guesses the union's size from the conditions and, guessing
    thousands of rows, reads the whole table to join them (measured on 100,000 contacts: a
    batch's duplicate look-up 56 ms as one query, 11 ms as two).
    """
    return list(session.scalars(_union_of(table, conditions)))


def duplicates_of(session: Session, record: Account | Contact, limit: int = 10) -> list[Candidate]:
    """Likely duplicates of a (new or existing) record among the others of its company."""
    kind: Kind = "contact" if isinstance(record, Contact) else "account"
    with session.no_autoflush:
        return find_duplicates(
            session, kind, company_id=record.company_id, email=record.email,
            phones=_phones_of(record), key=record.name_key,
            account_id=getattr(record, "account_id", None), exclude_id=record.id, limit=limit,
        )  # fmt: skip


def _match_phones(values: Iterable[str | None]) -> list[str]:
    """The phone numbers long enough to flag a duplicate."""
    return [
        p
        for p in dict.fromkeys(values)
        if p and len(_DIGITS.findall(p)) >= MIN_PHONE_DIGITS_FOR_MATCH
    ]


class DuplicateIndex:
    """Likely duplicates among a known set of records: the rows of an import being checked.

    It is filled once per batch with the database records sharing any of the batch's
    e-mails, phones or name keys (``load``: one query), then each row is checked against it
    (``candidates``) and, once accepted, added to it (``add``) so that later rows of the same
    file are checked against it too. Entries are records (ORM objects) or mappings with
    the normalised values and ``_row``, the row's number in the file.
    """

    def __init__(self, kind: Kind) -> None:
        self.kind = kind
        self.by_email: dict[str, list[Any]] = defaultdict(list)
        self.by_phone: dict[str, list[Any]] = defaultdict(list)
        self.by_key: dict[str, list[Any]] = defaultdict(list)

    def load(self, session: Session, company_id: int, rows: Iterable[Any]) -> None:
        """Add the company's records sharing a value with ``rows`` (records or mappings)."""
        emails, phones, keys, at_firm = set(), set(), set(), set()
        for row in rows:
            if email := _get(row, "email"):
                emails.add(email)
            phones.update(_match_phones((_get(row, "phone"), _get(row, "mobile"))))
            if _usable_key(self.kind, key := _get(row, "name_key")):
                firm = _get(row, "account_id") if self.kind == "contact" else None
                if firm is None:
                    keys.add(key)
                else:  # a person's name only counts at the same firm (or with none)
                    at_firm.add((key, firm))
        model = MODELS[self.kind]
        c = model.__table__.c
        conditions = []
        if emails:
            conditions.append(in_values(session, c.email, emails, probe_index=True))
        if phones:
            conditions.append(in_values(session, c.phone, phones, probe_index=True))
            if model is Contact:
                conditions.append(in_values(session, c.mobile, phones, probe_index=True))
        if keys:
            conditions.append(in_values(session, c.name_key, keys, probe_index=True))
        if pairs := {(key, firm) for key, firm in at_firm if key not in keys}:
            # Common names ("Anna Schmidt") recur across firms, and only the same name at
            # the same firm (or without one) is a candidate. "Name among the batch's names
            # and firm among its firms" matched every namesake at any of the batch's firms,
            # hundreds of records a batch to load; so the namesakes are read as light rows
            # and only the true pairs loaded. (A row-value IN on both columns is not planned
            # on the name index by SQLite.)
            # No company_id in this WHERE: see ``_duplicate_query``; the outer query has it.
            firms = {firm for _key, firm in pairs}
            namesakes = session.execute(
                select(c.id, c.name_key, c.account_id).where(
                    # The names probed, the firms as = ANY (100,000 contacts: 7 ms; 11 ms
                    # with both = ANY, 33 ms with both probed: an OR with unnest scans).
                    in_values(session, c.name_key, {key for key, _firm in pairs}, probe_index=True),
                    or_(in_values(session, c.account_id, firms), c.account_id.is_(None)),
                )
            )
            if ids := [
                row.id
                for row in namesakes
                if row.account_id is None or (row.name_key, row.account_id) in pairs
            ]:
                conditions.append(in_values(session, c.id, ids, probe_index=True))
        ids = _ids_where(session, model.__table__, conditions) if conditions else []
        if not ids:
            return
        stmt = select(model).where(
            in_values(session, model.id, ids, probe_index=True), model.company_id == company_id
        )
        if model is Contact:
            stmt = stmt.where(Contact.forgotten_at.is_(None))
        for record in session.scalars(stmt):
            self.add(record)

    def add(self, entry: Any) -> None:
        if email := _get(entry, "email"):
            self.by_email[email].append(entry)
        for phone in _match_phones((_get(entry, "phone"), _get(entry, "mobile"))):
            self.by_phone[phone].append(entry)
        if _usable_key(self.kind, key := _get(entry, "name_key")):
            self.by_key[key].append(entry)

    def candidates(self, row: Any) -> list[Candidate]:
        """The entries ``row`` (a record or a mapping) looks like, with the reasons."""
        key = _get(row, "name_key")
        seen: dict[int, list[Any]] = {}
        for reason, index, values in (
            ("email", self.by_email, [_get(row, "email")]),
            ("phone", self.by_phone, _match_phones((_get(row, "phone"), _get(row, "mobile")))),
            ("name", self.by_key, [key] if _usable_key(self.kind, key) else []),
        ):
            for value in values:
                for other in index.get(value, ()) if value else ():
                    if other is row:
                        continue
                    if (
                        reason == "name"
                        and self.kind == "contact"
                        and not _same_firm(_get(row, "account_id"), _get(other, "account_id"))
                    ):
                        continue
                    seen.setdefault(id(other), [other]).append(reason)
        return [_as_candidate(self.kind, entry[0], entry[1:]) for entry in seen.values()]


def duplicate_report(
    session: Session,
    kind: Kind,
    rows: Sequence[Mapping[str, Any]],
    *,
    company_id: int,
    first_row: int = 1,
) -> dict[int, list[Candidate]]:
    """Likely duplicates of rows about to be imported: ``{row number: candidates}``.

    ``rows`` hold normalised values (``email``, ``phone``, ``mobile``, ``name_key`` and for
    contacts ``account_id``). A row is checked against the database and against the earlier
    rows, in one query for all of them (see ``DuplicateIndex``).
    """
    index = DuplicateIndex(kind)
    index.load(session, company_id, rows)
    report: dict[int, list[Candidate]] = {}
    for offset, row in enumerate(rows):
        entry = {**row, "_row": first_row + offset}
        if found := index.candidates(entry):
            report[first_row + offset] = found
        index.add(entry)
    return report


def _same_firm(a: int | None, b: int | None) -> bool:
    return a is None or b is None or a == b


_UNSET = object()


def _get(obj: Any, key: str) -> Any:
    # The common cases first: isinstance(x, Mapping) is slow, and this runs per row and key.
    if isinstance(obj, dict):
        return obj.get(key)
    if isinstance(obj, Account | Contact):
        # A loaded or new record holds its columns in __dict__; only an expired one needs
        # the attribute machinery (which costs ten times the look-up).
        value = obj.__dict__.get(key, _UNSET)
        return getattr(obj, key, None) if value is _UNSET else value
    return obj.get(key) if isinstance(obj, Mapping) else getattr(obj, key, None)


def _as_candidate(kind: str, obj: Any, reasons: Sequence[str]) -> Candidate:
    if not isinstance(obj, Mapping):
        return _candidate(kind, obj, reasons)
    name = obj.get("name") or " ".join(
        p for p in (obj.get("first_name"), obj.get("last_name")) if p
    )
    return Candidate(kind, None, name, obj.get("email"), obj.get("phone"), bool(obj.get("archived")),
                     tuple(dict.fromkeys(reasons)), row=obj["_row"])  # fmt: skip


def duplicate_groups(
    session: Session, kind: Kind, *, company_id: int | None = None, limit: int = 50
) -> list[tuple[Any, list[Candidate]]]:
    """Existing records that look like duplicates of each other, for a clean-up pass.

    Each group is a record and its candidates; a record appears in one group at most.
    Grouping runs in the database (``GROUP BY ... HAVING count > 1``) on the indexed keys.
    """
    model = MODELS[kind]
    columns = [model.email, model.phone, model.name_key] + (
        [Contact.mobile] if model is Contact else []
    )
    groups: list[tuple[Any, list[Candidate]]] = []
    grouped: set[int] = set()
    for col in columns:
        stmt = (
            select(model.company_id, col)
            .where(col.is_not(None), col != "")
            .group_by(model.company_id, col)
        )
        stmt = stmt.having(func.count() > 1).order_by(model.company_id, col)
        if company_id is not None:
            stmt = stmt.where(model.company_id == company_id)
        for company, value in session.execute(stmt).all():
            first = session.scalars(
                select(model)
                .where(model.company_id == company, col == value)
                .order_by(model.id)
                .limit(1)
            ).one()
            if first.id in grouped:
                continue
            candidates = [c for c in duplicates_of(session, first) if c.id not in grouped]
            if candidates:
                groups.append((first, candidates))
                grouped.update([first.id, *(c.id for c in candidates if c.id is not None)])
            if len(groups) >= limit:
                return groups
    return groups


# =========================================================================== references and delete


def references_to(
    session: Session, kind: Kind, record_id: int, *, for_merge: bool = False
) -> list[Reference]:
    """Rows of other tables that point at this record, read from the database's foreign keys.

    The database (not the loaded models) is asked, so addons whose code is not imported are
    seen too. Rows owned by the record and deleted with it (its addresses and tag links, an
    extension table declared ``ON DELETE CASCADE``) are not references for a delete. For a
    merge every row still pointing at the source counts, except the source's own tag links.
    """
    session.flush()
    target = MODELS[kind].__tablename__
    connection = session.connection()
    found = []
    for (_schema, table_name), fks in inspect(connection).get_multi_foreign_keys().items():
        for fk in fks:
            if fk["referred_table"] != target or fk["referred_columns"] != ["id"]:
                continue
            cascades = (fk.get("options") or {}).get("ondelete", "").upper() == "CASCADE"
            if cascades and (not for_merge or table_name.startswith("contacts_")):
                continue
            col = fk["constrained_columns"][0]
            ref = sql_table(table_name, sql_column(col))
            count = connection.scalar(
                select(func.count()).select_from(ref).where(ref.c[col] == record_id)
            )
            if count:
                found.append(Reference(table_name, col, count))
    return found


def delete_record(session: Session, record: Account | Contact) -> None:
    """Hard-delete an account or contact, refused with ``ReferencedError`` while referenced."""
    kind: Kind = "contact" if isinstance(record, Contact) else "account"
    references = references_to(session, kind, record.id)
    if references:
        raise ReferencedError(kind, record.id, references)
    session.delete(record)
    session.flush()


# =========================================================================== audit


def _audit(
    session: Session, record: Any, action: str, notes: Mapping[str, Any], user_id: int | None
) -> None:
    """Add an entry for an operation the per-field trail cannot express (merge, forget).

    Field changes themselves are recorded by ``core.audit`` on flush; this entry says what
    the operation was (each note as a new value), through ``core.audit.record_action``.
    """
    audit.record_action(session, record, action, notes, user_id=user_id)


# =========================================================================== merge


@dataclass
class MergeResult:
    kind: str
    source_id: int
    target_id: int
    filled: dict[str, Any] = field(default_factory=dict)
    moved: dict[str, int] = field(default_factory=dict)
    repointed: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _check_mergeable(kind: str, source: Account | Contact, target: Account | Contact) -> None:
    if source.id == target.id:
        raise MergeError(f"Cannot merge {kind} #{source.id} into itself.")
    if source.company_id != target.company_id:
        raise MergeError(
            f"{kind.capitalize()} #{source.id} and #{target.id} belong to different companies."
        )
    if isinstance(target, Contact) and target.is_forgotten:
        raise MergeError(f"Contact #{target.id} was forgotten; merge it into another one instead.")


def _fill_blanks(
    target: Any, source: Any, fields: Sequence[str]
) -> tuple[dict[str, Any], list[str]]:
    """Copy the source's values into the target's empty fields; list values that differ."""
    filled, kept = {}, []
    for name in fields:
        mine, theirs = getattr(target, name), getattr(source, name)
        if theirs in (None, ""):
            continue
        if mine in (None, ""):
            setattr(target, name, theirs)
            filled[name] = theirs
        elif mine != theirs:
            kept.append(f"{name} {theirs}")
    return filled, kept


def _merge_notes(target: Any, source: Any, kept: list[str]) -> None:
    """Keep the source's notes and the values the target already had different ones for."""
    parts = [target.notes] if target.notes else []
    lines = [f"Merged from {source.__class__.__name__.lower()} #{source.id} ({source.name})"]
    if kept:
        lines.append("Its other values: " + "; ".join(kept))
    if source.notes:
        lines.append(source.notes)
    parts.append("\n".join(lines))
    target.notes = "\n\n".join(parts)


def _move_addresses(source: Any, target: Any) -> int:
    """Give the source's addresses to the target; the target's defaults stay the defaults."""
    kinds_with_default = {a.kind for a in target.addresses if a.is_default}
    moved = list(source.addresses)
    for address in moved:
        if address.kind in kinds_with_default:
            address.is_default = False
        if isinstance(target, Contact):
            address.contact = target
        else:
            address.account = target
    return len(moved)


def _finish_merge(
    session: Session,
    kind: Kind,
    source: Any,
    target: Any,
    result: MergeResult,
    pm: Any,
    user_id: int | None,
) -> MergeResult:
    session.flush()
    if pm is not None:
        for answer in pm.hook.contacts_merge_records(
            session=session, kind=kind, source_id=source.id, target_id=target.id
        ):
            for table_name, count in (answer or {}).items():
                result.repointed[table_name] = result.repointed.get(table_name, 0) + int(count)
        session.flush()
    remaining = references_to(session, kind, source.id, for_merge=True)
    if remaining:
        listed = ", ".join(r.describe() for r in remaining)
        raise MergeError(
            f"{kind.capitalize()} #{source.id} is still referenced by {listed} after the merge hooks "
            "ran; the addon owning those rows must implement contacts_merge_records. Nothing was changed."
        )
    merged = {"id": source.id, "name": source.name}
    _audit(
        session,
        target,
        "merge",
        {"merged": merged, "moved": result.moved, "repointed": result.repointed},
        user_id,
    )
    session.expire(source)  # collections emptied by the moves must not be written back
    session.delete(source)
    session.flush()
    return result


def merge_contacts(
    session: Session,
    source: Contact,
    target: Contact,
    *,
    pm: Any = None,
    user_id: int | None = None,
) -> MergeResult:
    """Merge ``source`` into ``target`` and delete ``source``. The caller commits or rolls back.

    The target keeps its values; its empty fields take the source's, and the source's notes
    and differing values are appended to the target's notes, so nothing is lost. Addresses
    and tags move over; other addons re-point their rows through ``contacts_merge_records``
    (``pm`` is the plugin manager; without it any foreign row refuses the merge).
    """
    _check_mergeable("contact", source, target)
    user_id = _actor(user_id)
    result = MergeResult("contact", source.id, target.id)
    if not source.is_forgotten:
        result.filled, kept = _fill_blanks(target, source, CONTACT_MERGE_FIELDS)
        _merge_notes(target, source, kept)
    target.tags = list(dict.fromkeys([*target.tags, *source.tags]))
    result.moved["addresses"] = _move_addresses(source, target)
    return _finish_merge(session, "contact", source, target, result, pm, user_id)


def merge_accounts(
    session: Session,
    source: Account,
    target: Account,
    *,
    pm: Any = None,
    user_id: int | None = None,
) -> MergeResult:
    """Merge account ``source`` into ``target``: contacts, sub-accounts, addresses and tags move.

    Field rules are those of ``merge_contacts``; the customer and vendor flags are combined.
    """
    _check_mergeable("account", source, target)
    user_id = _actor(user_id)
    result = MergeResult("account", source.id, target.id)
    session.flush()
    if _is_descendant_or_self(session, target.id, source.id):
        # The target sits below the source: put it in the source's place first, so that
        # moving the source's children under the target cannot make a cycle.
        target.parent = source.parent
    result.filled, kept = _fill_blanks(target, source, ACCOUNT_MERGE_FIELDS)
    if "parent_id" in result.filled:
        session.flush()
        if _is_descendant_or_self(session, target.parent_id, target.id):
            target.parent_id = None
            del result.filled["parent_id"]
    _merge_notes(target, source, kept)
    target.is_customer = target.is_customer or source.is_customer
    target.is_vendor = target.is_vendor or source.is_vendor
    target.tags = list(dict.fromkeys([*target.tags, *source.tags]))
    result.moved["addresses"] = _move_addresses(source, target)
    contacts = list(source.contacts)
    for contact in contacts:
        contact.account = target
    children = [child for child in source.children if child is not target]
    for child in children:
        child.parent = target
    result.moved.update(contacts=len(contacts), children=len(children))
    return _finish_merge(session, "account", source, target, result, pm, user_id)


# =========================================================================== forget


def forget_contact(
    session: Session, contact: Contact, *, user_id: int | None = None, pm: Any = None
) -> Contact:
    """Erase a person's personal data on request (GDPR art. 17) and keep the row.

    The personal fields and the contact's addresses are blanked, the values are redacted
    from the audit trail too, and other addons are asked to erase what they keep about the
    person (``contacts_forget_person``). References to the row stay valid; the row records
    when and by whom it was forgotten. Forgetting twice does nothing the second time.
    """
    if contact.is_forgotten:
        return contact
    user_id = _actor(user_id)
    address_ids = [a.id for a in contact.addresses if a.id is not None]
    for name in PERSONAL_FIELDS:
        setattr(contact, name, "" if name in ("first_name", "last_name") else None)
    contact.addresses.clear()
    contact.forgotten_at = utcnow()
    contact.forgotten_by_id = user_id
    session.flush()
    if pm is not None:
        pm.hook.contacts_forget_person(session=session, contact_id=contact.id)
        session.flush()
    audit.redact(session, Contact.__tablename__, [contact.id], (*PERSONAL_FIELDS, "name_key"))
    audit.redact(session, Address.__tablename__, address_ids)
    erased = {"fields": list(PERSONAL_FIELDS), "addresses": len(address_ids)}
    _audit(session, contact, "forget", {"erased": erased}, user_id)
    session.flush()
    return contact


# =========================================================================== find or create

#: The duplicate reasons that identify a record, strongest first: the first one with a
#: match decides (an e-mail match beats a same-named record).
STRONG_REASONS = ("email", "phone", "name")


def find_or_create_account(
    session: Session, data: Mapping[str, Any], *, company_id: int | None = None
) -> tuple[Account, bool]:
    """The account ``data`` describes: the existing one, else a new one. ``(account, created)``.

    For dependents that receive customer data from elsewhere (a converted lead, an incoming
    order) and must link the customer they already have rather than copy it. ``data`` is
    what ``create_account`` takes and is validated the same way (``InvalidData``); it is
    looked up with the duplicate detection: an account with the same e-mail, else the same
    phone number, else the same name (ignoring case, accents and legal forms) is the one,
    provided that exactly one record matches on that reason, a live one before archived
    ones. Otherwise (no match, or several equally good ones the caller would have to choose
    between) a new account is created. A found account is returned as it is: ``data`` does
    not update it.
    """
    return _find_or_create(session, "account", data, company_id)  # type: ignore[return-value]


def find_or_create_contact(
    session: Session, data: Mapping[str, Any], *, company_id: int | None = None
) -> tuple[Contact, bool]:
    """The contact ``data`` describes: the existing one, else a new one. ``(contact, created)``.

    As ``find_or_create_account``, with the rules of people: the same e-mail, else the same
    phone or mobile number, else the same name at the same account (``data``'s
    ``account_id`` or ``account_name``; two "Anna Schmidt" at different firms, or without
    one, are not taken for the same person). Forgotten contacts are never found.
    """
    return _find_or_create(session, "contact", data, company_id)  # type: ignore[return-value]


def _find_or_create(
    session: Session, kind: Kind, data: Mapping[str, Any], company_id: int | None
) -> tuple[Account | Contact, bool]:
    model = MODELS[kind]
    assign = _assign_contact if kind == "contact" else _assign_account
    create = create_contact if kind == "contact" else create_account
    probe = model(company_id=_company(company_id))
    with session.no_autoflush:
        assign(session, probe, data)  # type: ignore[arg-type]
        # Two conversions of the same new customer at once must not both create it.
        hold_lock(session, f"contacts.find_or_create.{kind}.{probe.company_id}")
        found = _the_match(session, probe)
    if found is not None:
        return found, False
    return create(session, data, company_id=probe.company_id, confirm_duplicate=True), True


def _the_match(session: Session, probe: Account | Contact) -> Any:
    """The one existing record ``probe`` (validated, never added) identifies, or ``None``."""
    model = type(probe)
    candidates = duplicates_of(session, probe, limit=50)
    for reason in STRONG_REASONS:
        matched = [session.get(model, c.id) for c in candidates if reason in c.reasons]
        matched = [r for r in matched if r is not None]
        if reason == "name" and isinstance(probe, Contact):
            # find_duplicates lets a name match across "no account"; identifying needs the firm
            matched = [r for r in matched if probe.account_id and r.account_id == probe.account_id]
        if not matched:
            continue
        live = [r for r in matched if not r.archived] or matched
        return live[0] if len(live) == 1 else None
    return None
