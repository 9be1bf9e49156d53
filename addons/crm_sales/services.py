"""Business rules of leads, opportunities and the pipeline. No Flask here.

Every door (REST, pages, CLI, jobs, tests) goes through these functions, so the rules hold
everywhere:

* **leads** - ``new`` -> ``qualified`` -> ``converted``; ``new``/``qualified`` ->
  ``disqualified`` (with a reason) -> ``qualified`` again. A converted lead is history: only
  its notes may change, and converting it again raises ``AlreadyConverted`` (HTTP 409).
* **conversion** - ``convert_lead`` finds or creates the account and the contact through the
  contacts addon (its duplicate detection decides whether the customer already exists, so an
  existing customer is linked, never copied), creates an opportunity in the first stage and
  marks the lead converted, all in the caller's transaction.
* **opportunities** - they move between stages (``move_opportunity``), each stay is recorded
  in ``StageHistory`` with its duration; ``mark_won`` / ``mark_lost`` (a reason is required)
  close them, ``reopen_opportunity`` opens them again. A closed opportunity cannot be edited
  or moved: ``ClosedOpportunity`` (409) until it is reopened. The probability follows the
  stage unless somebody set it (``probability_manual``); won is 100 %, lost 0 %.
* **reports** - ``pipeline_report`` (forecast by close month and by owner, win rate, average
  time in stage) and ``kanban`` (the pipeline page's columns).

Functions take the session and flush; they never commit (the caller owns the transaction).
Refusals raise ``SalesError`` (a ``core.resources`` ``BusinessError``: 409, or 422 with
per-field ``errors``), which the generated endpoints turn into problem+json. Hooks published
in ``hookspecs.py`` are called when a plugin manager is given (``pm=``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import pycountry
from marshmallow import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from addons.contacts import Account, Contact
from addons.contacts import services as contacts
from addons.crm_sales.data import ensure_default_pipeline
from addons.crm_sales.models import (
    LEAD_SOURCES,
    Lead,
    Opportunity,
    SalesPipelineStage,
    StageHistory,
)
from core import audit
from core.db import utcnow
from core.models import Company, User
from core.resources.declaration import BusinessError
from core.tenancy import current_scope

CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("9999999999999999.99")  # Numeric(18, 2)
HUNDRED = Decimal("100")

LEAD_FIELDS = frozenset(
    {"title", "contact_name", "email", "phone", "company_name", "source", "owner_id",
     "account_id", "contact_id", "notes"}
)  # fmt: skip
OPPORTUNITY_FIELDS = frozenset(
    {"name", "account_id", "contact_id", "stage_id", "expected_revenue", "currency",
     "probability", "expected_close_date", "owner_id", "next_activity_date",
     "next_activity_note", "description"}
)  # fmt: skip
STAGE_FIELDS = frozenset(
    {"name", "sequence", "probability", "is_won", "is_lost", "folded", "archived"}
)
#: What "forget a person" erases from the leads that captured them.
LEAD_PERSONAL_FIELDS = ("contact_name", "email", "phone")
#: How the contacts addon refuses data (field errors or a rule).
CONTACT_ERRORS = (contacts.ContactsError, ValidationError)


# =========================================================================== errors


class SalesError(BusinessError):
    """A sales rule refused the operation; the message is meant for the user (409)."""


class InvalidTransition(SalesError):
    """The record is not in a state that allows this action."""


class AlreadyConverted(InvalidTransition):
    """The lead was converted before; a lead becomes one opportunity, once."""


class ClosedLead(InvalidTransition):
    """A converted lead cannot be edited (except its notes)."""


class ClosedOpportunity(InvalidTransition):
    """A won or lost opportunity is read-only until it is reopened."""


class SalesValidationError(SalesError):
    """Field problems: ``errors`` is ``{field: [messages]}`` (422)."""

    def __init__(
        self, errors: Mapping[str, list[str]], message: str = "The data is not valid."
    ) -> None:
        super().__init__(message, status=422, errors=errors)


class _Errors(dict):
    """Collects field errors so that a form shows all its problems at once."""

    def add(self, name: str, message: str) -> None:
        self.setdefault(name, []).append(message)

    def absorb(self, exc: Exception, rename: Mapping[str, str] | None = None) -> None:
        """Take over the field errors of the contacts addon (or of marshmallow)."""
        if isinstance(exc, ValidationError):
            messages = exc.normalized_messages()
        else:
            messages = getattr(exc, "errors", None) or {"_schema": [str(exc)]}
        for key, value in messages.items():
            target = (rename or {}).get(key, key)
            for message in value if isinstance(value, list) else [value]:
                self.add(target, str(message))

    def raise_if_any(self) -> None:
        if self:
            raise SalesValidationError(dict(self))


# =========================================================================== small helpers


def _emit(pm: Any, hook: str, **kwargs: Any) -> None:
    """Call one of our published hooks if a plugin manager that knows it was given."""
    if pm is None:
        return
    caller = getattr(pm.hook, hook, None)
    if caller is not None:
        caller(**kwargs)


def _text(value: Any, max_length: int | None = None) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    if max_length is not None:
        text = text[:max_length]
    return text or None


def _unknown_fields(data: Mapping[str, Any], allowed: frozenset[str], errors: _Errors) -> None:
    for key in sorted(set(data) - allowed):
        errors.add(key, "Unknown field.")


def _company_id(company_id: int | None) -> int:
    """The company a new record goes to: the one given, else the caller's current company."""
    if company_id is not None:
        return company_id
    scope_company = current_scope().company_id
    if scope_company is None:
        raise SalesError("No current company: say which company the record belongs to.")
    return scope_company


def company_currency(session: Session, company_id: int) -> str:
    company = session.get(Company, company_id)
    return company.currency if company is not None and company.currency else "EUR"


def clean_currency(value: Any, errors: _Errors, name: str = "currency") -> str | None:
    code = (_text(value) or "").upper()
    if len(code) != 3 or pycountry.currencies.get(alpha_3=code) is None:
        errors.add(name, f"'{value}' is not an ISO 4217 currency code (e.g. EUR, USD).")
        return None
    return code


def clean_amount(value: Any, errors: _Errors, name: str = "expected_revenue") -> Decimal | None:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        errors.add(name, "Not a number.")
        return None
    if not amount.is_finite() or amount < 0:
        errors.add(name, "Must be zero or more.")
        return None
    if amount > MAX_AMOUNT:
        errors.add(name, "Too large.")
        return None
    if amount != amount.quantize(CENT):
        errors.add(name, "At most two decimals.")
        return None
    return amount.quantize(CENT)


def clean_probability(value: Any, errors: _Errors, name: str = "probability") -> Decimal | None:
    try:
        probability = Decimal(str(value))
    except (InvalidOperation, ValueError):
        errors.add(name, "Not a number.")
        return None
    if not probability.is_finite() or not (0 <= probability <= HUNDRED):
        errors.add(name, "Must be between 0 and 100.")
        return None
    if probability != probability.quantize(CENT):
        errors.add(name, "At most two decimals.")
        return None
    return probability.quantize(CENT)


def _check_user(session: Session, user_id: Any, errors: _Errors, name: str = "owner_id") -> None:
    if user_id is not None and (not isinstance(user_id, int) or session.get(User, user_id) is None):
        errors.add(name, f"No user #{user_id}.")


def _visible(session: Session, model: type, record_id: Any, company_id: int) -> Any:
    """The record of ``model`` in ``company_id`` the caller may see, or ``None``.

    Another company's record and a missing one look the same on purpose.
    """
    if not isinstance(record_id, int) or isinstance(record_id, bool):
        return None
    record = session.scalar(select(model).where(model.id == record_id))
    if record is None or record.company_id != company_id:
        return None
    return record


def _check_account(
    session: Session, account_id: Any, company_id: int, errors: _Errors, name: str = "account_id"
) -> Account | None:
    if account_id is None:
        return None
    account = _visible(session, Account, account_id, company_id)
    if account is None:
        errors.add(name, f"No account #{account_id}.")
    return account


def _check_contact(
    session: Session, contact_id: Any, company_id: int, errors: _Errors, name: str = "contact_id"
) -> Contact | None:
    if contact_id is None:
        return None
    contact = _visible(session, Contact, contact_id, company_id)
    if contact is None:
        errors.add(name, f"No contact #{contact_id}.")
    return contact


def _check_pair(account: Account | None, contact: Contact | None, errors: _Errors) -> None:
    if account is not None and contact is not None and contact.account_id not in (None, account.id):
        errors.add("contact_id", f"{contact.name} works at another account.")


def _seconds(start: datetime, end: datetime) -> int:
    return max(0, int((end - start).total_seconds()))


# =========================================================================== stages


def ensure_pipeline(session: Session, company_id: int) -> bool:
    """Give a company that has no stage at all (created after the install) the default
    pipeline. Returns whether stages were created (a page that only reads commits then)."""
    if not current_scope().allows(company_id):
        return False  # another company's pipeline: invisible, and never created from here
    has_any = session.scalar(
        select(func.count())
        .select_from(SalesPipelineStage)
        .where(SalesPipelineStage.company_id == company_id)
    )
    return bool(not has_any and ensure_default_pipeline(session, company_id))


def stages(
    session: Session, company_id: int, *, include_archived: bool = False
) -> list[SalesPipelineStage]:
    """The company's pipeline in order; the default one is created if it has no stage at all."""
    if not current_scope().allows(company_id):
        return []
    ensure_pipeline(session, company_id)
    stmt = select(SalesPipelineStage).where(SalesPipelineStage.company_id == company_id)
    if not include_archived:
        stmt = stmt.where(SalesPipelineStage.archived.is_(False))
    stmt = stmt.order_by(SalesPipelineStage.sequence, SalesPipelineStage.id)
    return list(session.scalars(stmt))


def open_stages(session: Session, company_id: int) -> list[SalesPipelineStage]:
    return [s for s in stages(session, company_id) if not s.is_closing]


def first_stage(session: Session, company_id: int) -> SalesPipelineStage:
    found = open_stages(session, company_id)
    if not found:
        raise SalesError("The pipeline has no open stage; add one under Sales > Pipeline stages.")
    return found[0]


def won_stage(session: Session, company_id: int) -> SalesPipelineStage:
    found = [s for s in stages(session, company_id) if s.is_won]
    if not found:
        raise SalesError("The pipeline has no won stage; add one under Sales > Pipeline stages.")
    return found[0]


def lost_stage(session: Session, company_id: int) -> SalesPipelineStage:
    found = [s for s in stages(session, company_id) if s.is_lost]
    if not found:
        raise SalesError("The pipeline has no lost stage; add one under Sales > Pipeline stages.")
    return found[0]


def _apply_stage(session: Session, stage: SalesPipelineStage, data: Mapping[str, Any]) -> None:
    errors = _Errors()
    _unknown_fields(data, STAGE_FIELDS, errors)
    if "name" in data:
        stage.name = _text(data["name"], 100) or ""
    if not stage.name:
        errors.add("name", "A name is required.")
    if "sequence" in data:
        if not isinstance(data["sequence"], int) or not (0 <= data["sequence"] <= 1_000_000):
            errors.add("sequence", "A whole number from 0 to 1000000.")
        else:
            stage.sequence = data["sequence"]
    old_probability = stage.probability
    if "probability" in data:
        probability = clean_probability(data["probability"], errors)
        if probability is not None:
            stage.probability = probability
    elif stage.probability is None:
        stage.probability = Decimal("0")
    flags = {k: bool(data[k]) for k in ("is_won", "is_lost", "folded", "archived") if k in data}
    is_won = flags.get("is_won", bool(stage.is_won))
    is_lost = flags.get("is_lost", bool(stage.is_lost))
    if is_won and is_lost:
        errors.add("is_lost", "A stage cannot be both won and lost.")
    if stage.id is not None:
        in_stage = session.scalar(select(func.count()).where(Opportunity.stage_id == stage.id)) or 0
        open_in_stage = (
            session.scalar(
                select(func.count()).where(
                    Opportunity.stage_id == stage.id, Opportunity.status == "open"
                )
            )
            or 0
        )
        if in_stage and (is_won != bool(stage.is_won) or is_lost != bool(stage.is_lost)):
            errors.add("is_won" if is_won != bool(stage.is_won) else "is_lost",
                       f"{in_stage} opportunit{'y is' if in_stage == 1 else 'ies are'} in this stage; "
                       "move them before changing whether it closes them.")  # fmt: skip
        if open_in_stage and flags.get("archived") and not stage.archived:
            errors.add("archived", f"{open_in_stage} open opportunit{'y is' if open_in_stage == 1 else 'ies are'} "
                       "in this stage; move them first.")  # fmt: skip
    errors.raise_if_any()
    for key, value in flags.items():
        setattr(stage, key, value)
    if stage.id is not None and stage.probability != old_probability:
        # Opportunities whose probability comes from the stage follow it.
        for opp in session.scalars(
            select(Opportunity).where(
                Opportunity.stage_id == stage.id,
                Opportunity.status == "open",
                Opportunity.probability_manual.is_(False),
            )
        ):
            opp.probability = stage.probability


def create_stage(
    session: Session, data: Mapping[str, Any], *, company_id: int | None = None
) -> SalesPipelineStage:
    """A new stage; its company's default pipeline is created first if it has none yet."""
    company = _company_id(company_id)
    stages(session, company)
    stage = SalesPipelineStage(
        company_id=company, sequence=10, is_won=False, is_lost=False, folded=False
    )
    _apply_stage(session, stage, data)
    _check_stage_name_free(session, stage)
    session.add(stage)
    session.flush()
    return stage


def update_stage(
    session: Session, stage: SalesPipelineStage, data: Mapping[str, Any]
) -> SalesPipelineStage:
    _apply_stage(session, stage, data)
    _check_stage_name_free(session, stage)
    session.flush()
    return stage


def _check_stage_name_free(session: Session, stage: SalesPipelineStage) -> None:
    with session.no_autoflush:
        clash = session.scalar(
            select(SalesPipelineStage.id).where(
                SalesPipelineStage.company_id == stage.company_id,
                SalesPipelineStage.name == stage.name,
                SalesPipelineStage.id != (stage.id or 0),
            )
        )
    if clash is not None:
        raise SalesValidationError({"name": [f"A stage named '{stage.name}' exists already."]})


# =========================================================================== leads


def _apply_lead(session: Session, lead: Lead, data: Mapping[str, Any]) -> None:
    errors = _Errors()
    _unknown_fields(data, LEAD_FIELDS, errors)
    if "title" in data:
        lead.title = _text(data["title"], 200) or ""
    if not lead.title:
        errors.add("title", "A title is required.")
    for key, size in (("contact_name", 200), ("company_name", 200)):
        if key in data:
            setattr(lead, key, _text(data[key], size))
    if "email" in data:
        try:
            lead.email = contacts.clean_email(_text(data["email"]), "email")
        except CONTACT_ERRORS as exc:
            errors.absorb(exc)
    if "phone" in data:
        try:
            lead.phone = contacts.clean_phone(_text(data["phone"]), None, "phone")
        except CONTACT_ERRORS as exc:
            errors.absorb(exc)
    if "source" in data:
        if data["source"] not in LEAD_SOURCES:
            errors.add("source", f"Must be one of {', '.join(LEAD_SOURCES)}.")
        else:
            lead.source = data["source"]
    if "owner_id" in data:
        _check_user(session, data["owner_id"], errors)
        lead.owner_id = data["owner_id"]
    account = lead.account
    contact = lead.contact
    if "account_id" in data:
        account = _check_account(session, data["account_id"], lead.company_id, errors)
        lead.account_id = data["account_id"]
    if "contact_id" in data:
        contact = _check_contact(session, data["contact_id"], lead.company_id, errors)
        lead.contact_id = data["contact_id"]
    if "account_id" in data or "contact_id" in data:
        _check_pair(account, contact, errors)
    if "notes" in data:
        lead.notes = _text(data["notes"])
    errors.raise_if_any()


def create_lead(
    session: Session, data: Mapping[str, Any], *, company_id: int | None = None
) -> Lead:
    """A new lead (status ``new``); the owner defaults to the user creating it."""
    lead = Lead(company_id=_company_id(company_id), status="new", source="web")
    if "owner_id" not in data:
        lead.owner_id = current_scope().user_id
    with session.no_autoflush:
        _apply_lead(session, lead, data)
    session.add(lead)
    session.flush()
    return lead


def update_lead(session: Session, lead: Lead, data: Mapping[str, Any]) -> Lead:
    """Change a lead. A converted lead is history: only its notes may still change."""
    if lead.status == "converted":
        changed = sorted(k for k in data if k != "notes" and getattr(lead, k, None) != data[k])
        if changed:
            raise ClosedLead(
                f"Lead '{lead.title}' was converted; only its notes can change "
                f"(not {', '.join(changed)})."
            )
    with session.no_autoflush:
        _apply_lead(session, lead, data)
    session.flush()
    return lead


def qualify_lead(session: Session, lead: Lead) -> Lead:
    """``new`` or ``disqualified`` -> ``qualified`` (a second look may qualify a lead again)."""
    if lead.status not in ("new", "disqualified"):
        raise InvalidTransition(
            f"Lead '{lead.title}' is {lead.status}; only new or disqualified leads can be qualified."
        )
    lead.status = "qualified"
    lead.disqualify_reason = None
    session.flush()
    return lead


def disqualify_lead(session: Session, lead: Lead, reason: str | None = None) -> Lead:
    """``new`` or ``qualified`` -> ``disqualified``; the reason is required and kept."""
    if lead.status not in ("new", "qualified"):
        raise InvalidTransition(
            f"Lead '{lead.title}' is {lead.status}; only new or qualified leads can be disqualified."
        )
    reason = _text(reason)
    if not reason:
        raise SalesValidationError({"reason": ["Say why the lead is disqualified."]})
    lead.status = "disqualified"
    lead.disqualify_reason = reason
    session.flush()
    return lead


def split_name(full_name: str | None) -> tuple[str, str]:
    """``"Ada King Lovelace"`` -> ``("Ada King", "Lovelace")``; one word is a last name."""
    words = (full_name or "").split()
    if not words:
        return "", ""
    if len(words) == 1:
        return "", words[0]
    return " ".join(words[:-1]), words[-1]


def find_or_create_account(session: Session, name: str, *, company_id: int) -> tuple[Account, bool]:
    """The customer account called ``name``: the company's existing one (as the contacts
    addon's ``find_or_create_account`` recognises it, ignoring case, accents and legal
    forms), else a new customer account. ``(account, created)``."""
    return contacts.find_or_create_account(
        session, {"name": name, "is_customer": True}, company_id=company_id
    )


def find_or_create_contact(
    session: Session,
    *,
    name: str | None,
    email: str | None,
    phone: str | None,
    account: Account | None,
    company_id: int,
) -> tuple[Contact, bool]:
    """The person a lead captured: the existing contact (same e-mail, phone, or same name at
    ``account``, as the contacts addon's ``find_or_create_contact`` decides), else a new
    contact at ``account``. A lead without a name names the person by e-mail or phone."""
    first, last = split_name(name)
    if not (first or last):
        last = (email or "").split("@")[0] or phone or "Unknown"
    data: dict[str, Any] = {"first_name": first, "last_name": last, "email": email, "phone": phone}
    if account is not None:
        data["account_id"] = account.id
    return contacts.find_or_create_contact(session, data, company_id=company_id)


@dataclass
class Conversion:
    """What a conversion did: the opportunity, and whether the customer records are new."""

    lead: Lead
    opportunity: Opportunity
    account: Account | None
    contact: Contact | None
    account_created: bool = False
    contact_created: bool = False


def convert_lead(
    session: Session,
    lead: Lead,
    *,
    account_id: int | None = None,
    contact_id: int | None = None,
    opportunity_name: str | None = None,
    expected_revenue: Any = None,
    currency: str | None = None,
    expected_close_date: date | None = None,
    owner_id: int | None = None,
    pm: Any = None,
    now: datetime | None = None,
) -> Conversion:
    """Turn a lead into an opportunity, linking (or creating) the customer. One transaction.

    The account is the one given, else the one the lead is linked to, else the account the
    contacts addon recognises from ``company_name`` (created when there is none). The same
    goes for the contact (matched on e-mail, phone, or name at that account). The new
    opportunity starts in the first stage of the pipeline; the lead becomes ``converted``.
    Converting a converted lead raises ``AlreadyConverted``; a disqualified lead must be
    qualified first. The lead's row is locked first, so two concurrent conversions of one
    lead cannot both succeed (the unique ``source_lead_id`` is the last line of defence).
    """
    now = now or utcnow()
    if lead.id is not None:
        session.flush()
        # Lock the lead's row and read its status as it is now (on SQLite the database-wide
        # write lock does the same); a plain statement, so no eager join meets FOR UPDATE.
        locked = session.scalar(select(Lead.status).where(Lead.id == lead.id).with_for_update())
        if locked != lead.status:
            session.refresh(lead, ["status"])
    if lead.status == "converted":
        raise AlreadyConverted(f"Lead '{lead.title}' was already converted.")
    if lead.status == "disqualified":
        raise InvalidTransition(
            f"Lead '{lead.title}' is disqualified; qualify it before converting it."
        )
    company_id = lead.company_id
    errors = _Errors()
    account = (
        _check_account(session, account_id, company_id, errors) if account_id is not None else None
    )
    contact = (
        _check_contact(session, contact_id, company_id, errors) if contact_id is not None else None
    )
    name = _text(opportunity_name, 200) or lead.title
    amount = Decimal("0") if expected_revenue is None else clean_amount(expected_revenue, errors)
    code = (
        clean_currency(currency, errors)
        if currency is not None
        else company_currency(session, company_id)
    )
    _check_user(session, owner_id, errors)
    if expected_close_date is not None and not isinstance(expected_close_date, date):
        errors.add("expected_close_date", "Not a date.")
    errors.raise_if_any()

    account = account or lead.account
    contact = contact or lead.contact
    if account is None and contact is not None and contact.account is not None:
        account = contact.account
    account_created = contact_created = False
    try:
        if account is None and lead.company_name:
            account, account_created = find_or_create_account(
                session, lead.company_name, company_id=company_id
            )
        if contact is None and (lead.contact_name or lead.email or lead.phone):
            contact, contact_created = find_or_create_contact(
                session, name=lead.contact_name, email=lead.email, phone=lead.phone,
                account=account, company_id=company_id,
            )  # fmt: skip
    except CONTACT_ERRORS as exc:
        if not getattr(exc, "errors", None) and isinstance(exc, contacts.ContactsError):
            raise SalesError(exc.message, status=exc.status) from exc
        # the lead's captured data does not make a valid customer record: say which field
        errors.absorb(
            exc,
            rename={
                "name": "company_name",
                "first_name": "contact_name",
                "last_name": "contact_name",
            },
        )
        errors.raise_if_any()
    if account is None and contact is None:
        raise SalesValidationError(
            {
                "company_name": [
                    "The lead names no customer: give a company or contact name, an e-mail, or pick an account."
                ]
            }
        )
    if account is None and contact is not None and contact.account is not None:
        account = contact.account
    if account_id is not None and contact_id is not None:
        _check_pair(account, contact, errors)  # only a pair the user chose is checked:
        errors.raise_if_any()  # a matched person may have moved to another firm

    stage = first_stage(session, company_id)
    opportunity = Opportunity(
        company_id=company_id,
        name=name,
        account=account,
        contact=contact,
        expected_revenue=amount,
        currency=code,
        probability=stage.probability,
        probability_manual=False,
        expected_close_date=expected_close_date,
        owner_id=owner_id if owner_id is not None else (lead.owner_id or current_scope().user_id),
        status="open",
        source_lead=lead,
    )
    _enter_stage(opportunity, stage, now)
    session.add(opportunity)
    lead.account, lead.contact = account, contact
    # the columns too (both records are flushed): the audit trail sees columns
    lead.account_id = account.id if account is not None else None
    lead.contact_id = contact.id if contact is not None else None
    lead.status = "converted"
    lead.converted_at = now
    session.flush()
    session.expire(lead, ["opportunity"])  # the view-only back reference: load it afresh
    _emit(pm, "crm_sales_lead_converted", session=session, lead=lead, opportunity=opportunity)
    session.flush()
    return Conversion(lead, opportunity, account, contact, account_created, contact_created)


# =========================================================================== opportunities


def _enter_stage(opp: Opportunity, stage: SalesPipelineStage, now: datetime) -> None:
    """Close the current stay (recording its duration) and open one in ``stage``."""
    for stay in opp.history:
        if stay.left_at is None:
            stay.left_at = max(now, stay.entered_at)
            stay.duration_seconds = _seconds(stay.entered_at, now)
    opp.history.append(StageHistory(company_id=opp.company_id, stage=stage, entered_at=now))
    opp.stage = stage
    opp.stage_id = stage.id  # the column too: the audit trail sees columns, not relationships
    opp.stage_entered_at = now
    _sync_probability(opp)


def _sync_probability(opp: Opportunity) -> None:
    if opp.status == "won":
        opp.probability = HUNDRED
    elif opp.status == "lost":
        opp.probability = Decimal("0")
    elif not opp.probability_manual:
        opp.probability = opp.stage.probability


def _stage_in(
    session: Session, stage_id: Any, company_id: int, errors: _Errors, name: str = "stage_id"
) -> SalesPipelineStage | None:
    stage = _visible(session, SalesPipelineStage, stage_id, company_id)
    if stage is None:
        errors.add(name, f"No stage #{stage_id}.")
    elif stage.archived:
        errors.add(name, f"Stage '{stage.name}' is archived.")
        return None
    return stage


def _apply_opportunity(
    session: Session, opp: Opportunity, data: Mapping[str, Any], errors: _Errors
) -> None:
    _unknown_fields(data, OPPORTUNITY_FIELDS, errors)
    if "name" in data:
        opp.name = _text(data["name"], 200) or ""
    if not opp.name:
        errors.add("name", "A name is required.")
    account, contact = opp.account, opp.contact
    if "account_id" in data:
        account = _check_account(session, data["account_id"], opp.company_id, errors)
        opp.account_id = data["account_id"]
    if "contact_id" in data:
        contact = _check_contact(session, data["contact_id"], opp.company_id, errors)
        opp.contact_id = data["contact_id"]
    if "account_id" in data or "contact_id" in data:
        _check_pair(account, contact, errors)
    if "expected_revenue" in data:
        amount = clean_amount(
            data["expected_revenue"] if data["expected_revenue"] is not None else 0, errors
        )
        if amount is not None:
            opp.expected_revenue = amount
    if "currency" in data:
        code = clean_currency(data["currency"], errors)
        if code is not None:
            opp.currency = code
    if "probability" in data:
        if data["probability"] is None:
            opp.probability_manual = False
        else:
            probability = clean_probability(data["probability"], errors)
            # A form sends back the probability it showed: the stage's value, unchanged,
            # is not somebody setting it by hand.
            unchanged = (
                opp.id is not None and not opp.probability_manual and probability == opp.probability
            )
            if probability is not None and not unchanged:
                opp.probability = probability
                opp.probability_manual = True
    for key in ("expected_close_date", "next_activity_date"):
        if key in data:
            if data[key] is not None and (
                not isinstance(data[key], date) or isinstance(data[key], datetime)
            ):
                errors.add(key, "Not a date.")
            else:
                setattr(opp, key, data[key])
    if "owner_id" in data:
        _check_user(session, data["owner_id"], errors)
        opp.owner_id = data["owner_id"]
    if "next_activity_note" in data:
        opp.next_activity_note = _text(data["next_activity_note"], 255)
    if "description" in data:
        opp.description = _text(data["description"])


def create_opportunity(
    session: Session,
    data: Mapping[str, Any],
    *,
    company_id: int | None = None,
    pm: Any = None,
    now: datetime | None = None,
) -> Opportunity:
    """A new open opportunity, in ``stage_id`` or the first stage; owner defaults to the caller.

    It cannot be created in a won or lost stage: create it, then mark it won or lost.
    """
    now = now or utcnow()
    company = _company_id(company_id)
    errors = _Errors()
    opp = Opportunity(
        company_id=company, status="open", probability_manual=False,
        expected_revenue=Decimal("0"), currency=company_currency(session, company),
        owner_id=current_scope().user_id,
    )  # fmt: skip
    with session.no_autoflush:
        _apply_opportunity(session, opp, data, errors)
        stage = None
        if data.get("stage_id") is not None:
            stage = _stage_in(session, data["stage_id"], company, errors)
            if stage is not None and stage.is_closing:
                errors.add(
                    "stage_id", "Create the opportunity in an open stage, then mark it won or lost."
                )
        errors.raise_if_any()
        stage = stage or first_stage(session, company)
        _enter_stage(opp, stage, now)
    session.add(opp)
    session.flush()
    return opp


def update_opportunity(
    session: Session,
    opp: Opportunity,
    data: Mapping[str, Any],
    *,
    pm: Any = None,
    now: datetime | None = None,
) -> Opportunity:
    """Change an open opportunity. A stage change is a move (recorded in the history); moving
    it into the won or lost stage needs the won / lost action. Closed ones refuse any change."""
    if opp.is_closed:
        changed = sorted(k for k in data if _differs(opp, k, data[k]))
        if changed:
            raise ClosedOpportunity(
                f"Opportunity '{opp.name}' is {opp.status}; reopen it to change it "
                f"({', '.join(changed)})."
            )
        return opp
    errors = _Errors()
    with session.no_autoflush:
        _apply_opportunity(session, opp, data, errors)
        stage = None
        if data.get("stage_id") is not None and data["stage_id"] != opp.stage_id:
            stage = _stage_in(session, data["stage_id"], opp.company_id, errors)
            if stage is not None and stage.is_closing:
                errors.add(
                    "stage_id",
                    f"Use the '{'won' if stage.is_won else 'lost'}' action to close the opportunity.",
                )
        elif "stage_id" in data and data["stage_id"] is None:
            errors.add("stage_id", "A stage is required.")
        errors.raise_if_any()
    if stage is not None:
        _move(session, opp, stage, pm=pm, now=now or utcnow())
    else:
        _sync_probability(opp)
    session.flush()
    return opp


def _differs(opp: Opportunity, key: str, value: Any) -> bool:
    if key == "probability" and value is None:
        return opp.probability_manual
    current = getattr(opp, key, None)
    if isinstance(current, Decimal) and value is not None:
        try:
            return current != Decimal(str(value))
        except (InvalidOperation, ValueError):
            return True
    return current != value


def _require_open(opp: Opportunity, doing: str) -> None:
    if opp.is_closed:
        raise ClosedOpportunity(
            f"Opportunity '{opp.name}' is {opp.status}; reopen it before {doing}."
        )


def _move(
    session: Session, opp: Opportunity, stage: SalesPipelineStage, *, pm: Any, now: datetime
) -> None:
    previous = opp.stage
    _enter_stage(opp, stage, now)
    session.flush()
    _emit(pm, "crm_sales_opportunity_stage_changed", session=session, opportunity=opp,
          from_stage=previous, to_stage=stage)  # fmt: skip


def move_opportunity(
    session: Session,
    opp: Opportunity,
    stage_id: int | None = None,
    lost_reason: str | None = None,
    *,
    pm: Any = None,
    now: datetime | None = None,
) -> Opportunity:
    """Move an open opportunity to another stage of its pipeline (the kanban's drag and drop).

    Moving into the won stage wins it; moving into the lost stage loses it and needs
    ``lost_reason``. Moving to the stage it is in changes nothing.
    """
    _require_open(opp, "moving it")
    errors = _Errors()
    if stage_id is None:
        errors.add("stage_id", "Say which stage to move it to.")
        errors.raise_if_any()
    stage = _stage_in(session, stage_id, opp.company_id, errors)
    errors.raise_if_any()
    assert stage is not None
    if stage.id == opp.stage_id:
        return opp
    if stage.is_won:
        return mark_won(session, opp, pm=pm, now=now, stage=stage)
    if stage.is_lost:
        return mark_lost(session, opp, lost_reason, pm=pm, now=now, stage=stage)
    _move(session, opp, stage, pm=pm, now=now or utcnow())
    session.flush()
    return opp


def mark_won(
    session: Session,
    opp: Opportunity,
    *,
    pm: Any = None,
    now: datetime | None = None,
    stage: SalesPipelineStage | None = None,
) -> Opportunity:
    """Win an open opportunity: it goes to the won stage, 100 %, closed now."""
    _require_open(opp, "marking it won")
    now = now or utcnow()
    stage = stage or won_stage(session, opp.company_id)
    opp.status = "won"
    opp.closed_at = now
    opp.lost_reason = None
    opp.probability_manual = False
    _move(session, opp, stage, pm=pm, now=now)
    _emit(pm, "crm_sales_opportunity_won", session=session, opportunity=opp)
    session.flush()
    return opp


def mark_lost(
    session: Session,
    opp: Opportunity,
    reason: str | None = None,
    *,
    pm: Any = None,
    now: datetime | None = None,
    stage: SalesPipelineStage | None = None,
) -> Opportunity:
    """Lose an open opportunity, saying why: it goes to the lost stage, 0 %, closed now."""
    _require_open(opp, "marking it lost")
    reason = _text(reason)
    if not reason:
        raise SalesValidationError({"reason": ["Say why the opportunity was lost."]})
    now = now or utcnow()
    stage = stage or lost_stage(session, opp.company_id)
    opp.status = "lost"
    opp.closed_at = now
    opp.lost_reason = reason
    opp.probability_manual = False
    _move(session, opp, stage, pm=pm, now=now)
    _emit(pm, "crm_sales_opportunity_lost", session=session, opportunity=opp)
    session.flush()
    return opp


def reopen_opportunity(
    session: Session,
    opp: Opportunity,
    stage_id: int | None = None,
    *,
    pm: Any = None,
    now: datetime | None = None,
) -> Opportunity:
    """Open a won or lost opportunity again, in ``stage_id`` or the open stage it was in
    last (else the first stage). The lost reason and closing date are cleared; the history
    keeps everything."""
    if not opp.is_closed:
        raise InvalidTransition(f"Opportunity '{opp.name}' is open already.")
    now = now or utcnow()
    errors = _Errors()
    stage = None
    if stage_id is not None:
        stage = _stage_in(session, stage_id, opp.company_id, errors)
        if stage is not None and stage.is_closing:
            errors.add("stage_id", "Reopen it into an open stage.")
        errors.raise_if_any()
    if stage is None:
        stage = _last_open_stage(opp) or first_stage(session, opp.company_id)
    previous_status = opp.status
    opp.status = "open"
    opp.closed_at = None
    opp.lost_reason = None
    _move(session, opp, stage, pm=pm, now=now)
    _emit(
        pm,
        "crm_sales_opportunity_reopened",
        session=session,
        opportunity=opp,
        previous_status=previous_status,
    )
    session.flush()
    return opp


def _last_open_stage(opp: Opportunity) -> SalesPipelineStage | None:
    for stay in sorted(opp.history, key=lambda s: (s.entered_at, s.id or 0), reverse=True):
        if not stay.stage.is_closing and not stay.stage.archived:
            return stay.stage
    return None


# =========================================================================== contacts integration


def repoint_customer(session: Session, kind: str, source_id: int, target_id: int) -> dict[str, int]:
    """``contacts_merge_records``: leads and opportunities of the merged-away account or contact
    now point at the one that stays. Objects are changed (not bulk statements) so the audit
    trail records it. Closed opportunities are re-pointed too: this is not a user edit."""
    column = {"account": "account_id", "contact": "contact_id"}.get(kind)
    if column is None:
        return {}
    counts: dict[str, int] = {}
    for model in (Lead, Opportunity):
        rows = session.scalars(select(model).where(getattr(model, column) == source_id)).all()
        for row in rows:
            setattr(row, column, target_id)
            # drop a stale loaded relationship so it reloads from the new id
            session.expire(row, [column.removesuffix("_id")])
        if rows:
            counts[model.__tablename__] = len(rows)
    session.flush()
    return counts


def forget_person(session: Session, contact_id: int) -> int:
    """``contacts_forget_person``: blank the name, e-mail and phone that leads captured about
    the person, and redact them from the leads' audit trail. Returns how many leads."""
    leads = session.scalars(select(Lead).where(Lead.contact_id == contact_id)).all()
    for lead in leads:
        for name in LEAD_PERSONAL_FIELDS:
            setattr(lead, name, None)
    session.flush()
    audit.redact(
        session, Lead.__tablename__, [lead.id for lead in leads], LEAD_PERSONAL_FIELDS,
        placeholder=contacts.ERASED,
    )  # fmt: skip
    return len(leads)


# =========================================================================== reports


@dataclass
class Money:
    """An amount per currency, with the weighted (probability) part and a count."""

    currency: str
    count: int = 0
    expected: Decimal = Decimal("0")
    weighted: Decimal = Decimal("0")

    def add(self, opp_revenue: Decimal, probability: Decimal) -> None:
        self.count += 1
        self.expected += opp_revenue
        self.weighted += opp_revenue * probability / HUNDRED

    def as_dict(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "count": self.count,
            "expected": str(self.expected.quantize(CENT)),
            "weighted": str(self.weighted.quantize(CENT)),
        }


def _totals(rows: Iterable[tuple[str, Decimal, Decimal]]) -> list[Money]:
    by_currency: dict[str, Money] = {}
    for currency, revenue, probability in rows:
        by_currency.setdefault(currency, Money(currency)).add(
            revenue or Decimal("0"), probability or Decimal("0")
        )
    return [by_currency[c] for c in sorted(by_currency)]


@dataclass
class KanbanColumn:
    stage: SalesPipelineStage
    cards: list[Opportunity] = field(default_factory=list)
    count: int = 0
    totals: list[Money] = field(default_factory=list)
    hidden: int = 0  # cards beyond the limit


def kanban(
    session: Session,
    company_id: int,
    *,
    owner_id: int | None = None,
    closed_since: datetime | None = None,
    limit: int = 50,
) -> list[KanbanColumn]:
    """The pipeline page: one column per stage with its cards, count and totals.

    Open stages show their open opportunities; the won and lost columns show those closed
    since ``closed_since`` (all when ``None``). Totals cover every opportunity of the column,
    even beyond the ``limit`` of cards shown.
    """
    columns = {s.id: KanbanColumn(s) for s in stages(session, company_id)}
    stmt = (
        select(Opportunity)
        .where(Opportunity.company_id == company_id, Opportunity.stage_id.in_(list(columns)))
        .options(selectinload(Opportunity.account), selectinload(Opportunity.owner))
        .order_by(
            Opportunity.expected_close_date.is_(None),
            Opportunity.expected_close_date,
            Opportunity.id,
        )
    )
    if owner_id is not None:
        stmt = stmt.where(Opportunity.owner_id == owner_id)
    if closed_since is not None:
        stmt = stmt.where((Opportunity.status == "open") | (Opportunity.closed_at >= closed_since))
    amounts: dict[int, list[tuple[str, Decimal, Decimal]]] = defaultdict(list)
    for opp in session.scalars(stmt):
        column = columns[opp.stage_id]
        column.count += 1
        amounts[opp.stage_id].append((opp.currency, opp.expected_revenue, opp.probability))
        if len(column.cards) < limit:
            column.cards.append(opp)
        else:
            column.hidden += 1
    for stage_id, column in columns.items():
        column.totals = _totals(amounts[stage_id])
    return list(columns.values())


def pipeline_report(
    session: Session,
    company_id: int,
    *,
    owner_id: int | None = None,
    closed_from: datetime | None = None,
    closed_to: datetime | None = None,
) -> dict[str, Any]:
    """The forecast and the pipeline's health, JSON-ready (amounts as strings).

    * ``stages``: per stage, the count and totals of what is in it (open stages: open
      opportunities; won/lost stages: the closed ones);
    * ``forecast_by_month``: open opportunities by expected close month (``null``: no date),
      expected and weighted revenue per currency;
    * ``forecast_by_owner``: the same per owner;
    * ``win_rate``: won / (won + lost) in percent, over opportunities closed in
      [``closed_from``, ``closed_to``) (all when not given);
    * ``time_in_stage``: average completed stay per stage, in seconds and days.

    Money is added up in Python with ``Decimal`` (never in SQL, where SQLite would use
    floats) and always per currency: amounts in different currencies are never summed.
    """
    pipeline = stages(session, company_id, include_archived=True)
    base = [Opportunity.company_id == company_id]
    if owner_id is not None:
        base.append(Opportunity.owner_id == owner_id)
    rows = session.execute(
        select(
            Opportunity.stage_id, Opportunity.status, Opportunity.currency, Opportunity.expected_revenue,
            Opportunity.probability, Opportunity.expected_close_date, Opportunity.owner_id,
        ).where(*base)
    ).all()  # fmt: skip

    per_stage: dict[int, list[tuple[str, Decimal, Decimal]]] = defaultdict(list)
    per_month: dict[str | None, list[tuple[str, Decimal, Decimal]]] = defaultdict(list)
    per_owner: dict[int | None, list[tuple[str, Decimal, Decimal]]] = defaultdict(list)
    for stage_id, status, currency, revenue, probability, close_date, owner in rows:
        amount = (currency, revenue, probability)
        per_stage[stage_id].append(amount)
        if status != "open":
            continue
        per_month[close_date.strftime("%Y-%m") if close_date else None].append(amount)
        per_owner[owner].append(amount)

    owner_names = {
        u.id: u.name or u.email
        for u in session.scalars(
            select(User).where(User.id.in_([o for o in per_owner if o is not None]))
        )
    }

    closed = [Opportunity.status.in_(("won", "lost")), *base]
    if closed_from is not None:
        closed.append(Opportunity.closed_at >= closed_from)
    if closed_to is not None:
        closed.append(Opportunity.closed_at < closed_to)
    outcome = dict(
        session.execute(
            select(Opportunity.status, func.count()).where(*closed).group_by(Opportunity.status)
        ).all()
    )
    won, lost = outcome.get("won", 0), outcome.get("lost", 0)
    rate = (
        (Decimal(won) * HUNDRED / Decimal(won + lost)).quantize(Decimal("0.1"))
        if won + lost
        else None
    )

    stay_filter = [StageHistory.company_id == company_id, StageHistory.left_at.is_not(None)]
    if owner_id is not None:
        stay_filter.append(StageHistory.opportunity_id.in_(select(Opportunity.id).where(*base)))
    stays = {
        stage_id: (count, total)
        for stage_id, count, total in session.execute(
            select(StageHistory.stage_id, func.count(), func.sum(StageHistory.duration_seconds))
            .where(*stay_filter)
            .group_by(StageHistory.stage_id)
        )
    }

    def month_key(item: tuple[str | None, Any]) -> tuple[bool, str]:
        return (item[0] is None, item[0] or "")

    return {
        "company_id": company_id,
        "currency": company_currency(session, company_id),
        "owner_id": owner_id,
        "stages": [
            {
                "id": s.id, "name": s.name, "sequence": s.sequence, "is_won": s.is_won,
                "is_lost": s.is_lost, "archived": s.archived,
                "count": len(per_stage.get(s.id, [])),
                "totals": [m.as_dict() for m in _totals(per_stage.get(s.id, []))],
            }
            for s in pipeline
        ],
        "forecast_by_month": [
            {"month": month, **m.as_dict()}
            for month, amounts in sorted(per_month.items(), key=month_key)
            for m in _totals(amounts)
        ],
        "forecast_by_owner": [
            {"owner_id": owner, "owner_name": owner_names.get(owner) if owner is not None else None, **m.as_dict()}
            for owner, amounts in sorted(per_owner.items(), key=lambda i: (i[0] is None, owner_names.get(i[0], "") if i[0] else ""))
            for m in _totals(amounts)
        ],
        "win_rate": {"won": won, "lost": lost, "closed": won + lost, "rate": str(rate) if rate is not None else None},
        "time_in_stage": [
            {
                "stage_id": s.id, "name": s.name, "stays": stays[s.id][0],
                "average_seconds": int(stays[s.id][1] or 0) // max(stays[s.id][0], 1),
                "average_days": str((Decimal(int(stays[s.id][1] or 0)) / max(stays[s.id][0], 1) / 86400).quantize(Decimal("0.1"))),
            }
            for s in pipeline
            if s.id in stays
        ],
    }  # fmt: skip


def month_starts(today: date, months: int) -> list[date]:
    """The first day of ``months`` consecutive months starting with ``today``'s."""
    result, year, month = [], today.year, today.month
    for _ in range(months):
        result.append(date(year, month, 1))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return result


__all__ = [
    "AlreadyConverted",
    "ClosedLead",
    "ClosedOpportunity",
    "Conversion",
    "InvalidTransition",
    "SalesError",
    "SalesValidationError",
    "company_currency",
    "convert_lead",
    "create_lead",
    "create_opportunity",
    "create_stage",
    "disqualify_lead",
    "ensure_pipeline",
    "find_or_create_account",
    "find_or_create_contact",
    "first_stage",
    "forget_person",
    "kanban",
    "lost_stage",
    "mark_lost",
    "mark_won",
    "move_opportunity",
    "open_stages",
    "pipeline_report",
    "qualify_lead",
    "reopen_opportunity",
    "repoint_customer",
    "stages",
    "update_lead",
    "update_opportunity",
    "update_stage",
    "won_stage",
]
