"""Hooks the contacts addon publishes for the addons that build on it.

Implement them in your addon's ``hooks.py`` with ``core.plugins.hookimpl``; you do not need
to import contacts for that. Contacts calls them with keyword arguments, inside the
transaction of the operation: raising aborts the whole operation and rolls it back.
"""

from __future__ import annotations

from typing import Any

from core.plugins import hookspec


@hookspec
def contacts_merge_records(
    session: Any, kind: str, source_id: int, target_id: int
) -> dict[str, int] | None:
    """Re-point your rows from a record that is being merged away to the one that stays.

    Called by ``services.merge_contacts`` / ``merge_accounts`` after contacts moved its own
    data and before the source row is deleted. Every addon whose tables refer to
    ``contacts_contact`` or ``contacts_account`` must implement it: if any row still points
    at the source afterwards (any foreign key, read from the database), the merge is refused
    and rolled back, so nothing is ever lost silently.

    If a plain ``UPDATE ... SET contact_id = :target`` would break one of your unique
    constraints (one row per contact, say), combine the two rows yourself.

    :param session: the SQLAlchemy session of the merge; flush, never commit.
    :param kind: ``"contact"`` or ``"account"``.
    :param source_id: id of the record merged away (deleted after the hooks ran).
    :param target_id: id of the record that remains.
    :return: ``{table name: rows re-pointed}`` for the audit trail, or ``None``.
        Every implementation is called; results are added up.
    """


@hookspec
def contacts_forget_person(session: Any, contact_id: int) -> None:
    """Erase what your addon keeps about a person who asked to be forgotten.

    Called by ``services.forget_contact`` after the contact's own personal fields were
    blanked. Keep your rows (references stay valid) but blank the personal data in them:
    e-mail addresses copied into a mailing log, names in free-text fields, and so on.

    :param session: the session of the operation; flush, never commit.
    :param contact_id: the contact being forgotten (its row remains).
    :return: nothing. Every implementation is called.
    """
