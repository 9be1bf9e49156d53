"""Demo data (``mosaic addons install crm_sales --with-demo``): deterministic, no network.

A small sales team (two demo salespeople besides the first user) with leads in every status
and opportunities spread over every stage, several owners and the months around today, with
a stage history, so that the pipeline page, the forecast and the report have something to
show. Everything goes through ``services`` (conversion included), so the demo also exercises
the rules. The records are fixed; only the dates are placed relative to the current month so
the forecast looks ahead.

The demo salespeople are ``core_user`` rows; they are recorded in ``core_data_record`` and
deleted again when the addon is uninstalled (``remove_demo_users``). They have no password and
cannot log in.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

from sqlalchemy import select
from sqlalchemy.orm import Session

from addons.crm_sales import services
from addons.crm_sales.models import Opportunity, SalesPipelineStage
from core.db import utcnow
from core.models import Company, DataRecord, Group, User

ADDON = "crm_sales"

DEMO_USERS = (
    ("sara", "Sara Lind", "sara.lind@sales-demo.invalid"),
    ("tom", "Tom Becker", "tom.becker@sales-demo.invalid"),
)

# title, contact, e-mail, company, source, status (new / qualified / disqualified), reason
LEADS = (
    ("Website enquiry: 20 seats", "Ada Fischer", "ada.fischer@brightwave.example", "Brightwave GmbH", "web", "new", None),
    ("Referral from a partner", "Jonas Berg", "jonas.berg@nordicfoods.example", "Nordic Foods AB", "referral", "qualified", None),
    ("Met at the logistics fair", "Priya Nair", "priya.nair@kestrel.example", "Kestrel Logistics", "event", "new", None),
    ("Spring campaign reply", "Marc Dubois", "marc.dubois@velaenergy.example", "Vela Energy", "campaign", "disqualified", "No budget before next year."),
    ("Imported: trade register", None, None, "Sierra Print", "import", "new", None),
    ("Asked for a callback", "Lena Vogt", None, None, "phone", "new", None),
)  # fmt: skip

# name, company, contact, e-mail, revenue, close month offset, owner index, path, outcome
# path: (stage key, days spent) oldest first; the last stage is where it is now.
OPPORTUNITIES = (
    ("Brightwave: CRM rollout", "Brightwave GmbH", "Ada Fischer", "ada.fischer@brightwave.example", "24000", 2, 0,
     (("new", 6), ("qualified", 9), ("proposal", 4)), None),
    ("Alder & Finch: support plan", "Alder & Finch Ltd", "Oliver Finch", "oliver@alderfinch.example", "8500", 1, 1,
     (("new", 3), ("qualified", 5)), None),
    ("Nordic Foods: warehouse scanners", "Nordic Foods AB", "Jonas Berg", "jonas.berg@nordicfoods.example", "41000", 3, 2,
     (("new", 10), ("qualified", 14), ("proposal", 12), ("negotiation", 6)), None),
    ("Kestrel: fleet tracking pilot", "Kestrel Logistics", "Priya Nair", "priya.nair@kestrel.example", "12000", 0, 0,
     (("new", 2),), None),
    ("Blue Harbor: guest Wi-Fi", "Blue Harbor Hotels", "Elena Rossi", "elena.rossi@blueharbor.example", "6200", 1, 1,
     (("new", 4), ("qualified", 3), ("proposal", 8)), None),
    ("Meridian Health: records archive", "Meridian Health", "David Okafor", "d.okafor@meridian.example", "58000", 4, 2,
     (("new", 12), ("qualified", 20), ("proposal", 15), ("negotiation", 9)), None),
    ("Copperfield: tool tracking", "Copperfield Tools", "Hannah Weiss", "hannah.weiss@copperfield.example", "15500", 5, 0,
     (("new", 1),), None),
    ("Lumen Schools: 300 tablets", "Lumen Schools", "Grace Miller", "grace.miller@lumen.example", "90000", 2, 1,
     (("new", 7), ("qualified", 11)), None),
    ("Sierra Print: press maintenance", "Sierra Print", "Luis Ortega", "luis.ortega@sierraprint.example", "9800", -1, 2,
     (("new", 5), ("qualified", 6), ("proposal", 10), ("won", 20)), "won"),
    ("Vela Energy: smart meters", "Vela Energy", "Marc Dubois", "marc.dubois@velaenergy.example", "33000", -2, 0,
     (("new", 8), ("qualified", 12), ("proposal", 9), ("negotiation", 4), ("won", 35)), "won"),
    ("Blue Harbor: booking engine", "Blue Harbor Hotels", "Elena Rossi", "elena.rossi@blueharbor.example", "27000", -1, 1,
     (("new", 9), ("qualified", 7), ("lost", 15)), "lost:Chose a competitor with a local partner."),
    ("Alder & Finch: intranet", "Alder & Finch Ltd", "Oliver Finch", "oliver@alderfinch.example", "14000", 0, 2,
     (("new", 6), ("qualified", 4), ("proposal", 7), ("won", 3)), "won"),
    ("Kestrel: route planning", "Kestrel Logistics", "Priya Nair", "priya.nair@kestrel.example", "19000", -1, 0,
     (("new", 3), ("lost", 25)), "lost:Project cancelled."),
)  # fmt: skip

# the lead converted by the demo (through services.convert_lead), and the close month offset
CONVERTED_LEAD = (
    "Inbound: security audit",
    "Tariq Haddad",
    "tariq@copperfield.example",
    "Copperfield Tools",
    "web",
    "7400",
    1,
)


def _add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    return date(day.year + month_index // 12, month_index % 12 + 1, min(day.day, 28))


def _demo_users(session: Session, company: Company) -> list[User]:
    group = session.scalar(select(Group).where(Group.addon == ADDON, Group.key == "user"))
    users = []
    for key, name, email in DEMO_USERS:
        user = session.scalar(select(User).where(User.email == email))
        if user is None:
            user = User(email=email, name=name, password_hash=None, company_id=company.id)
            user.companies.append(company)
            if group is not None:
                user.groups.append(group)
            session.add(user)
            session.flush()
            session.add(DataRecord(addon=ADDON, key=f"demo.user.{key}", table_name=User.__tablename__,
                                   record_id=user.id, note="demo salesperson"))  # fmt: skip
        users.append(user)
    return users


def remove_demo_users(session: Session) -> None:
    """Delete the demo salespeople this addon created (their records keep no owner)."""
    records = session.scalars(
        select(DataRecord).where(
            DataRecord.addon == ADDON, DataRecord.table_name == User.__tablename__
        )
    ).all()
    for record in records:
        user = session.get(User, record.record_id)
        if user is not None:
            session.delete(user)
    session.flush()


def load(session: Session, *, now: datetime | None = None) -> None:
    """Create the demo in the first company. Flushes only."""
    now = now or utcnow()
    company = session.scalar(select(Company).order_by(Company.id).limit(1))
    if company is None:
        return
    if session.scalar(select(Opportunity.id).where(Opportunity.company_id == company.id).limit(1)):
        return  # demo (or real data) already there
    first_user = session.scalar(
        select(User).where(User.email.not_like("%@sales-demo.invalid")).order_by(User.id).limit(1)
    )
    owners = [u for u in [first_user, *_demo_users(session, company)] if u is not None]
    by_key = _stages_by_key(session, company.id)
    month0 = now.date().replace(day=15)

    for index, (title, person, email, firm, source, status, reason) in enumerate(LEADS):
        lead = services.create_lead(
            session,
            {"title": title, "contact_name": person, "email": email, "company_name": firm,
             "source": source, "owner_id": owners[index % len(owners)].id},
            company_id=company.id,
        )  # fmt: skip
        if status == "qualified":
            services.qualify_lead(session, lead)
        elif status == "disqualified":
            services.disqualify_lead(session, lead, reason)

    title, person, email, firm, source, revenue, months = CONVERTED_LEAD
    lead = services.create_lead(
        session,
        {"title": title, "contact_name": person, "email": email, "company_name": firm, "source": source,
         "owner_id": owners[-1].id},
        company_id=company.id,
    )  # fmt: skip
    services.qualify_lead(session, lead)
    services.convert_lead(
        session, lead, expected_revenue=Decimal(revenue), expected_close_date=_add_months(month0, months),
        now=now - timedelta(days=2),
    )  # fmt: skip

    for name, firm, person, email, revenue, months, owner, path, outcome in OPPORTUNITIES:
        account, _ = services.find_or_create_account(session, firm, company_id=company.id)
        contact, _ = services.find_or_create_contact(
            session, name=person, email=email, phone=None, account=account, company_id=company.id
        )
        total_days = sum(days for _, days in path)
        moment = now - timedelta(days=total_days)
        opp = services.create_opportunity(
            session,
            {"name": name, "account_id": account.id, "contact_id": contact.id,
             "expected_revenue": Decimal(revenue), "owner_id": owners[owner % len(owners)].id,
             "expected_close_date": _add_months(month0, months), "stage_id": by_key[path[0][0]].id},
            company_id=company.id, now=moment,
        )  # fmt: skip
        for (_, days), (next_key, _) in pairwise(path):
            moment += timedelta(days=days)
            if next_key == "won":
                services.mark_won(session, opp, now=moment)
            elif next_key == "lost":
                services.mark_lost(session, opp, (outcome or "lost:").split(":", 1)[1], now=moment)
            else:
                services.move_opportunity(session, opp, by_key[next_key].id, now=moment)
    session.flush()


def _stages_by_key(session: Session, company_id: int) -> dict[str, SalesPipelineStage]:
    from addons.crm_sales.data import DEFAULT_PIPELINE, record_key

    services.stages(session, company_id)
    found = {}
    for spec in DEFAULT_PIPELINE:
        record = session.scalar(
            select(DataRecord).where(
                DataRecord.addon == ADDON, DataRecord.key == record_key(spec, company_id)
            )
        )
        stage = session.get(SalesPipelineStage, record.record_id) if record is not None else None
        if stage is None:
            stage = session.scalar(
                select(SalesPipelineStage).where(
                    SalesPipelineStage.company_id == company_id,
                    SalesPipelineStage.name == spec.name,
                )
            )
        if stage is not None:
            found[spec.key] = stage
    return found


__all__ = ["LEADS", "OPPORTUNITIES", "load", "remove_demo_users"]
