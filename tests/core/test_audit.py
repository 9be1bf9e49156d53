"""The audit trail: who changed what, when, with old and new values, in the same transaction."""

from __future__ import annotations

from decimal import Decimal

import pytest
from flask import render_template_string
from sqlalchemy import select

from core import identity
from core.audit import history, history_of, is_secret, to_json
from core.models import AuditLog, User
from core.tenancy import as_user, unscoped
from tests.core.identity_world import build_world, models, settle


@pytest.fixture
def world(db_session):
    return build_world(db_session)


def _as(db_session, world, name, **kw):
    return as_user(db_session, db_session.get(User, world.users[name]), **kw)


def _logs(session, table, record_id):
    return session.scalars(
        select(AuditLog)
        .where(AuditLog.table_name == table, AuditLog.record_id == record_id)
        .order_by(AuditLog.id)
    ).all()


def test_create_update_delete_are_recorded_with_who_and_values(db_session, world):
    Gadget, _ = models()
    with _as(db_session, world, "alice"):
        gadget = Gadget(name="Widget", price=Decimal("9.50"))
        db_session.add(gadget)
        db_session.flush()
        gadget_id = gadget.id
        gadget.name = "Widget II"
        gadget.price = Decimal("12.00")
        db_session.flush()
        gadget.notes = None  # no real change: nothing recorded
        db_session.flush()
        db_session.delete(gadget)
        db_session.flush()
    logs = _logs(db_session, "testkit_gadget", gadget_id)
    assert [log.action for log in logs] == ["create", "update", "delete"]
    assert {log.user_id for log in logs} == {world.users["alice"]}
    assert {log.company_id for log in logs} == {world.company_a}
    created, updated, deleted = (log.changes for log in logs)
    assert created["name"] == {"old": None, "new": "Widget"}
    assert created["price"] == {"old": None, "new": "9.50"}
    assert created["company_id"] == {"old": None, "new": world.company_a}
    assert updated == {
        "name": {"old": "Widget", "new": "Widget II"},
        "price": {"old": "9.50", "new": "12.00"},
    }
    assert deleted["name"] == {"old": "Widget II", "new": None}
    for changes in (created, updated, deleted):
        assert not {"updated_at", "version", "updated_by_id"} & set(changes)


def test_cascaded_children_are_recorded_too(db_session, world):
    Gadget, _Part = models()
    with _as(db_session, world, "alice"):
        gadget = db_session.get(Gadget, world.gadgets["a"])
        db_session.delete(gadget)
        db_session.flush()
    actions = [log.action for log in _logs(db_session, "testkit_part", world.parts["a"])]
    assert actions == ["create", "delete"]


def test_recording_shares_the_transaction_of_the_change(db, db_session, world):
    Gadget, _ = models()
    before = db_session.scalar(select(AuditLog.id).order_by(AuditLog.id.desc()).limit(1)) or 0
    with _as(db_session, world, "alice"):
        nested = db_session.begin_nested()
        gadget = Gadget(name="rolled back")
        db_session.add(gadget)
        db_session.flush()
        assert db_session.scalars(select(AuditLog).where(AuditLog.id > before)).all()
        nested.rollback()
    assert db_session.scalars(select(AuditLog).where(AuditLog.id > before)).all() == []
    # and a failed flush leaves nothing pending for the next one
    with _as(db_session, world, "alice"):
        nested = db_session.begin_nested()
        db_session.add(Gadget(name=None))  # NOT NULL violation
        with pytest.raises(Exception):  # noqa: B017 - the backend's IntegrityError
            db_session.flush()
        nested.rollback()
        db_session.add(Gadget(name="fine"))
        db_session.flush()
    actions = db_session.scalars(select(AuditLog.changes).where(AuditLog.id > before)).all()
    assert [c["name"]["new"] for c in actions] == ["fine"]


def test_secrets_are_never_recorded(db_session, world, monkeypatch):
    Gadget, _ = models()
    assert is_secret(Gadget, "password_hash") and is_secret(Gadget, "api_token")
    assert is_secret(Gadget, "client_secret") and not is_secret(Gadget, "name")
    monkeypatch.setattr(Gadget, "__audit_exclude__", {"notes"}, raising=False)
    with _as(db_session, world, "alice"):
        gadget = Gadget(name="Vault", notes="the combination is 1234")
        db_session.add(gadget)
        db_session.flush()
        gadget.notes = "now 4321"
        gadget.name = "Vault II"
        db_session.flush()
    logs = _logs(db_session, "testkit_gadget", gadget.id)
    assert all("notes" not in log.changes for log in logs)
    assert "1234" not in str([log.changes for log in logs])
    # user passwords never reach the trail either
    identity.set_password(db_session, db_session.get(User, world.users["bob"]), "Brand-New-Pass-7")
    db_session.flush()
    everything = str(db_session.scalars(select(AuditLog.changes)).all())
    assert "Brand-New-Pass-7" not in everything and "$argon2" not in everything


def test_values_are_json_safe():
    import datetime as dt

    assert to_json(Decimal("1.10")) == "1.10"
    assert to_json(dt.date(2024, 1, 2)) == "2024-01-02"
    assert to_json(b"\x00\x01") == "<2 bytes>"
    assert to_json({"a": [Decimal("1")]}) == {"a": ["1"]}


def test_history_is_ordered_named_and_scoped(db_session, world):
    Gadget, _ = models()
    with _as(db_session, world, "alice"):
        gadget = db_session.get(Gadget, world.gadgets["a"])
        gadget.name = "Alpha renamed"
        db_session.flush()
    settle(db_session)
    with _as(db_session, world, "alice"):
        entries = history(db_session, "testkit_gadget", world.gadgets["a"])
        assert [e.action for e in entries][-1] == "update"
        last = entries[-1]
        assert last.user_name == "Alice"
        assert last.as_dict()["changes"] == {
            "name": {"old": "Alpha gadget", "new": "Alpha renamed"}
        }
        assert history_of(db_session, db_session.get(Gadget, world.gadgets["a"]))[-1].id == last.id
    with _as(db_session, world, "bob"):
        # another company's record: no history, even by id (deleted records included)
        assert history(db_session, "testkit_gadget", world.gadgets["a"]) == []
    with unscoped():
        assert history(db_session, "testkit_gadget", world.gadgets["a"])


def test_history_partial_renders_and_escapes(app, db_session, world):
    Gadget, _ = models()
    with _as(db_session, world, "alice"):
        gadget = db_session.get(Gadget, world.gadgets["a"])
        gadget.name = "<script>alert('x')</script>"
        db_session.flush()
        entries = history_of(db_session, gadget)
    with app.test_request_context():
        html = render_template_string(
            '{% from "core/_history.html" import history_panel %}{{ history_panel(entries) }}',
            entries=entries,
        )
        included = render_template_string(
            '{% include "core/_history.html" %}', history_entries=entries
        )
        empty = render_template_string(
            '{% from "core/_history.html" import history_panel %}{{ history_panel([]) }}'
        )
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert "Changed" in html and "Alice" in html and "Alpha gadget" in html
    assert "&lt;script&gt;" in included
    assert "No recorded changes" in empty


def test_changes_over_http_are_recorded_with_the_caller(client, db_session, world):
    """The user of the request is the author, through the real request path."""
    Gadget, _ = models()
    from flask import g

    app = client.application
    with app.test_request_context():
        # a request context whose identity is alice, as core.auth sets it
        g.mosaic_user_id = world.users["alice"]
        g.mosaic_company_ids = frozenset({world.company_a})
        g.mosaic_company_id = world.company_a
        session = app.extensions["mosaic"].db.session
        gadget = Gadget(name="from a request")
        session.add(gadget)
        session.commit()
        gadget_id = gadget.id
    log = _logs(db_session, "testkit_gadget", gadget_id)[0]
    assert log.user_id == world.users["alice"] and log.company_id == world.company_a
