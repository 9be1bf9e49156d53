"""The REST resources ``contacts`` and ``accounts``, declared once for the API, pages and CSV.

``register(api, web)`` mounts what ``core.resources`` generates from the two declarations:
``/api/v1/contacts/contacts/...`` and ``/api/v1/contacts/accounts/...`` (list with search,
filters and sort, create, read, update, delete, history, CSV import/export), the matching
pages under ``/contacts/...``, and two custom actions beside them: ``merge`` and ``forget``.

Everything that decides something is in ``services``; this module only adapts it to the web:
the plugin manager the merge needs, the ``?confirm_duplicate=1`` switch, and the 409 answer
that lists the likely duplicates with links.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pycountry
from flask import current_app, has_request_context, request, url_for
from sqlalchemy.orm import Session

from addons.contacts import services
from addons.contacts.models import ACCOUNT_SIZES, Account, Contact, Tag, name_key
from addons.contacts.schemas import (
    AccountListSchema,
    AccountSchema,
    AddressSchema,
    ContactListSchema,
    ContactSchema,
    MergeSchema,
    TagSchema,
)
from addons.contacts.search import phone_terms
from core.identity import user_choices
from core.problems import Problem
from core.resources import (
    Action,
    Child,
    Column,
    Filter,
    FormField,
    Resource,
    Section,
    register_resource,
)
from core.resources.query import distinct_values

TRUE = frozenset({"1", "true", "yes", "on"})
# --------------------------------------------------------------------------- adapters


def _plugin_manager() -> Any:
    """The app's plugin manager: a merge must reach every addon that refers to contacts."""
    return current_app.extensions["mosaic"].pm


def _confirmed() -> bool:
    """``?confirm_duplicate=1`` on the request (the body flag is read by the service)."""
    return has_request_context() and request.args.get("confirm_duplicate", "").lower() in TRUE


def _with_candidates(kind: str, create: Any) -> Any:
    """Create through ``create``; on the API a likely duplicate is a 409 listing the candidates.

    Pages and imports get the plain ``DuplicateError`` (a form error next to the "create it
    anyway" box, a row error in the import report).
    """

    def run(session: Session, data: dict[str, Any]) -> Any:
        try:
            return create(session, data, confirm_duplicate=_confirmed())
        except services.DuplicateError as exc:
            # Only the REST create answers with candidates; its CSV import, like the pages,
            # reports the refusal per row.
            if not (
                has_request_context() and request.endpoint == f"{request.blueprint}.{kind}s_create"
            ):
                raise
            endpoint = f"{request.blueprint}.{kind}s_get"
            candidates = [
                {**c.as_dict(), "url": url_for(endpoint, record_id=c.id)} for c in exc.candidates
            ]
            raise Problem(
                409, exc.message, title="Possible duplicate", candidates=candidates,
                hint="Send it again with ?confirm_duplicate=1 (or confirm_duplicate: true) to create it anyway.",
            ) from None  # fmt: skip

    return run


def _merge(kind: str) -> Any:
    model = services.MODELS[kind]
    merge = services.merge_contacts if kind == "contact" else services.merge_accounts

    def handler(session: Session, target: Any, source_id: int) -> Any:
        source = session.get(model, source_id)  # company-scoped: another company's is "no such"
        if source is None:
            raise services.InvalidData({"source_id": [f"No {kind} #{source_id}."]})
        merge(session, source, target, pm=_plugin_manager())
        return target

    return handler


def _forget(session: Session, contact: Contact) -> Contact:
    return services.forget_contact(session, contact, pm=_plugin_manager())


def _read_with(clean: Callable[[str], str | None]) -> Callable[[str], str]:
    """A service's cleaner as a filter's normaliser: its field message becomes the 400's.

    Filters then read values exactly as the forms store them (``de``, ``DEU`` -> ``DE``).
    """

    def read(text: str) -> str:
        try:
            return clean(text) or ""
        except services.InvalidData as exc:
            raise ValueError(next(iter(exc.errors.values()))[0]) from None

    return read


@functools.cache
def _country_choices() -> tuple[tuple[str, str], ...]:
    """ISO 3166-1 countries as ``("DE", "Germany (DE)")``, in the order of their names."""
    pairs = [
        (c.alpha_2, f"{getattr(c, 'common_name', c.name)} ({c.alpha_2})")
        for c in pycountry.countries
    ]
    return tuple(sorted(pairs, key=lambda pair: name_key(pair[1])))


def _language_label(tag: str) -> str:
    """``de-CH`` -> "German (Switzerland) (de-CH)"; an unknown code is shown as it is."""
    base, _, region = tag.partition("-")
    language = pycountry.languages.get(alpha_2=base)
    country = pycountry.countries.get(alpha_2=region) if region else None
    name = getattr(language, "name", tag)
    if country is not None:
        name = f"{name} ({getattr(country, 'common_name', country.name)})"
    return f"{name} ({tag})"


def _languages(session: Session) -> list[tuple[str, str]]:
    """The languages the company's contacts have: what a language filter can find."""
    tags = distinct_values(session, Contact.language)
    return sorted(((tag, _language_label(tag)) for tag in tags), key=lambda pair: pair[1])


def _merge_action(kind: str, *, description: str, confirm: str) -> Action:
    source = FormField(
        "source_id", f"Duplicate {kind}", widget="record", target=f"contacts.{kind}s",
        help=f"The {kind} merged away: its number or name.",
    )  # fmt: skip
    return Action(
        "merge", _merge(kind), schema=MergeSchema, label="Merge a duplicate into this one",
        description=description, confirm=confirm, form=[source],
    )  # fmt: skip


# --------------------------------------------------------------------------- declarations

# What the contact and the account forms share.
SHARED_FIELDS = (
    FormField("owner_id", "Owner", widget="select", choices=user_choices),
    FormField("tags", help="Names separated by ';'. New names become new tags."),
    "archived",
    FormField("notes", widget="textarea"),
)
# Code-like filters: typed in any case, offered as a list on the pages.
COUNTRY_FILTER = Filter(
    normalise=_read_with(services.clean_country), choices=_country_choices(), label="Country",
    help="An ISO 3166-1 code such as DE (any case; alpha-3 such as DEU is read as DE).",
)  # fmt: skip
LANGUAGE_FILTER = Filter(
    normalise=_read_with(services.clean_language), choices=_languages, label="Language",
    match=services.language_match,
    help="A BCP 47 tag such as de or de-CH (any case); de also finds de-CH, de-AT and so on.",
)  # fmt: skip
SIZE_FILTER = Filter(choices=ACCOUNT_SIZES, label="Employees")
OWNER_FILTER = Filter(choices=user_choices, label="Owner")  # a select of people, not an id to type
CONFIRM_SECTION = Section(
    "", [FormField("confirm_duplicate", "Create it even if it looks like a duplicate")]
)
ADDRESS_COLUMNS = (
    "kind",
    FormField("street1", "Street"),
    FormField("street2", "Street, 2nd line"),
    "postal_code",
    "city",
    "region",
    FormField("country", widget="select", choices=list(_country_choices())),
    FormField("is_default", "Default"),
)
ADDRESSES = Child("addresses", AddressSchema, columns=ADDRESS_COLUMNS, extra_rows=1)

contacts = Resource(
    name="contacts",
    model=Contact,
    schema=ContactSchema,
    list_schema=ContactListSchema,
    permission="contacts.contact",
    label="Contact",
    description="People, usually working at an account. Addresses are nested.",
    title_field="name",
    search=["first_name", "last_name", "name_key", "email", "phone", "mobile", "account.name"],
    search_terms=phone_terms(Contact.phone, Contact.mobile),
    filters={
        "owner_id": OWNER_FILTER,
        "account_id": "eq",
        "tags.name": "text",
        "addresses.country": COUNTRY_FILTER,
        "account.is_customer": "eq",
        "account.is_vendor": "eq",
        "language": LANGUAGE_FILTER,
        "created_at": "range",
    },
    sort=["last_name", "first_name", "email", "created_at", "updated_at", "id"],
    default_sort="last_name",
    columns=[
        Column("last_name"),
        Column("first_name"),
        Column("account.name", "Account"),
        "email",
        "phone",
        "mobile",
    ],
    form=[
        Section("Person", ["first_name", "last_name", "title", "language"]),
        Section(
            "Reach",
            [
                FormField("email", widget="email"),
                FormField("phone", widget="tel"),
                FormField("mobile", widget="tel"),
            ],
        ),
        Section(
            "Organisation",
            [
                FormField("account_name", "Account", help="The account's name, as on its page."),
                *SHARED_FIELDS,
            ],
        ),
        CONFIRM_SECTION,
    ],
    children=[ADDRESSES],
    actions=[
        _merge_action(
            "contact",
            description="Merge contact `source_id` into this one; the source is deleted and "
            "everything that referred to it refers to this one.",
            confirm="The other contact will be deleted; its data and links move to this one.",
        ),
        Action(
            "forget",
            _forget,
            label="Forget this person",
            danger=True,
            when=lambda contact: not contact.is_forgotten,
            description="Erase the personal data on request (GDPR); the row and its links stay.",
            confirm="Erase this person's name, e-mail, phones, notes and addresses for good?",
        ),
    ],
    create=_with_candidates("contact", services.create_contact),
    create_many=services.import_contacts,
    update=services.update_contact,
    delete=services.delete_record,
)

accounts = Resource(
    name="accounts",
    model=Account,
    schema=AccountSchema,
    list_schema=AccountListSchema,
    permission="contacts.account",
    label="Account",
    description="Organisations: customers, vendors, partners. Addresses are nested.",
    search=["name", "name_key", "legal_name", "email", "phone", "website"],
    search_terms=phone_terms(Account.phone),
    filters={
        "owner_id": OWNER_FILTER,
        "is_customer": "eq",
        "is_vendor": "eq",
        "tags.name": "text",
        "addresses.country": COUNTRY_FILTER,
        "industry": "text",
        "size": SIZE_FILTER,
        "parent_id": "eq",
        "created_at": "range",
    },
    sort=["name", "industry", "created_at", "updated_at", "id"],
    default_sort="name",
    columns=["name", "industry", "email", "phone", Column("owner.name", "Owner")],
    form=[
        Section(
            "Organisation",
            [
                "name",
                "legal_name",
                FormField("tax_id", "Tax ID"),
                FormField("website", widget="url"),
                "industry",
                FormField("size", "Employees", choices=[(size, size) for size in ACCOUNT_SIZES]),
                FormField(
                    "parent_id", "Parent account", widget="record", target="contacts.accounts"
                ),
            ],
        ),
        Section("Reach", [FormField("email", widget="email"), FormField("phone", widget="tel")]),
        Section(
            "Relationship",
            [
                "is_customer",
                "is_vendor",
                *SHARED_FIELDS,
            ],
        ),
        CONFIRM_SECTION,
    ],
    children=[ADDRESSES],
    actions=[
        _merge_action(
            "account",
            description="Merge account `source_id` into this one: its contacts, sub-accounts, "
            "addresses and tags move here and it is deleted.",
            confirm="The other account will be deleted; its contacts and links move to this one.",
        ),
    ],
    create=_with_candidates("account", services.create_account),
    create_many=services.import_accounts,
    update=services.update_account,
    delete=services.delete_record,
)


tags = Resource(
    name="tags",
    model=Tag,
    schema=TagSchema,
    permission="contacts.tag",
    description="Labels shared by accounts and contacts; deleting one removes it from them.",
    search=["name"],
    sort=["name", "id"],
    default_sort="name",
    columns=["name", "color"],
    operations=("create", "update", "delete"),
)


def register(api: Any, web: Any) -> None:
    """Mount the generated endpoints and pages of the resources (called from ``hooks``)."""
    for resource in (contacts, accounts, tags):
        register_resource(api, web, resource)
