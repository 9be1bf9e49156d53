"""Web pages of the contacts addon beyond the generated ones.

The list, form, import and action pages come from ``core.resources`` (see ``api.py``); the
templates in ``templates/contacts/`` extend them to show an account's contacts and
sub-accounts, a contact's account, and likely duplicates as links. This module adds the
duplicates page, from which records are merged, and the template filter that turns
"contact #12" in a message into a link.
"""

from __future__ import annotations

import re
from typing import Any

from flask import current_app, render_template, url_for
from markupsafe import Markup, escape

from addons.contacts import services
from core.access import has_permission, permission_required
from core.tenancy import current_scope

_RECORD_REF = re.compile(r"\b(contact|account) #(\d{1,10})\b")
KINDS = {"contacts": "contact", "accounts": "account"}


def link_records(text: Any) -> Markup:
    """Escape ``text`` and link every "contact #N" / "account #N" in it to that record's page."""

    def link(match: re.Match[str]) -> str:
        kind, record_id = match.group(1), int(match.group(2))
        url = url_for(f"contacts.{kind}s_view", record_id=record_id)
        return f'<a href="{escape(url)}">{escape(match.group(0))}</a>'

    return Markup(_RECORD_REF.sub(link, str(escape(text))))


def duplicates_page(plural: str, kind: str) -> Any:
    @permission_required(f"contacts.{kind}.read")
    def page() -> Any:
        """Groups of records that look alike, each with a button to merge one into the other."""
        session = current_app.extensions["mosaic"].db.session
        groups = services.duplicate_groups(session, kind, company_id=current_scope().company_id)
        return render_template(
            "contacts/duplicates.html", kind=kind, plural=plural, groups=groups,
            can_merge=has_permission(f"contacts.{kind}.merge"),
        )  # fmt: skip

    page.__name__ = f"{plural}_duplicates"
    return page


def register(bp: Any) -> None:
    bp.add_app_template_filter(link_records, "contacts_links")
    for plural, kind in KINDS.items():
        bp.add_url_rule(
            f"/{plural}/duplicates", f"{plural}_duplicates", duplicates_page(plural, kind)
        )
