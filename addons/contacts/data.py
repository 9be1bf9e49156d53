"""Reference data loaded on install and on every upgrade: a few standard tags per company.

The pattern every addon copies: each record has a stable key, remembered in
``core_data_record`` (addon, key -> table, id). A key seen for the first time creates the
row; a key already known is left alone, so a tag a user renamed or deleted stays as the user
left it ("no update" data). Uninstalling the addon removes the ``core_data_record`` rows
together with the tables.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from addons.contacts.models import Tag
from core.models import Company, DataRecord

ADDON = "contacts"
STANDARD_TAGS = {  # key -> (name, colour)
    "tag_customer_vip": ("VIP", "#b45309"),
    "tag_prospect": ("Prospect", "#2563eb"),
    "tag_do_not_contact": ("Do not contact", "#b91c1c"),
}


def load_data(session: Session) -> None:
    """Create the standard tags in every company that does not have them yet. Flushes only."""
    known = set(session.scalars(select(DataRecord.key).where(DataRecord.addon == ADDON)))
    for company_id in session.scalars(select(Company.id).order_by(Company.id)).all():
        existing = {
            t.name.casefold(): t
            for t in session.scalars(select(Tag).where(Tag.company_id == company_id))
        }
        for key, (name, colour) in STANDARD_TAGS.items():
            record_key = f"{key}.company_{company_id}"
            if record_key in known:
                continue
            tag = existing.get(name.casefold())  # adopt a tag the user already made
            if tag is None:
                tag = Tag(name=name, color=colour, company_id=company_id)
                session.add(tag)
                session.flush()
            session.add(
                DataRecord(
                    addon=ADDON, key=record_key, table_name=Tag.__tablename__, record_id=tag.id
                )
            )
    session.flush()
