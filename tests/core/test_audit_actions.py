"""``core.audit.record_action``: business actions (merge, forget, convert) in the audit trail,
in the same transaction and under the same rules as the listeners' entries."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from core import audit
from core.models import AuditLog, User
from core.tenancy import as_user, unscoped
from tests.core.identity_world import build_world, models


@pytest.fixture
def world(db_session):
    return build_world(db_session)


def _as(db_session, world, name):
    return as_user(db_session, db_session.get(User, world.users[name]))


def _entry(session, entry_id: int) -> AuditLog:
    return session.scalars(select(AuditLog).where(AuditLog.id == entry_id)).one()


def test_an_action_on_a_loaded_record_names_who_where_and_what(db_session, world):
    Gadget, _ = models()
    with _as(db_session, world, "alice"):
        gadget = db_session.get(Gadget, world.gadgets["a"])
        entry_id = audit.record_action(
            db_session, gadget, "polish",
            {"times": 3, "result": {"shine": Decimal("0.95"), "on": dt.date(2030, 1, 2)},
             "price": {"old": Decimal("10.00"), "new": Decimal("12.50")}},
        )  # fmt: skip
        entries = audit.history_of(db_session, gadget)
    entry = _entry(db_session, entry_id)
    assert (entry.table_name, entry.record_id, entry.action) == (
        "testkit_gadget",
        world.gadgets["a"],
        "polish",
    )
    assert (entry.user_id, entry.company_id) == (world.users["alice"], world.company_a)
    assert entry.changes == {
        "times": {"old": None, "new": 3},
        "result": {"old": None, "new": {"shine": "0.95", "on": "2030-01-02"}},
        "price": {"old": "10.00", "new": "12.50"},  # an {"old", "new"} pair stays a pair
    }
    # the record's history shows it like any other entry, after its creation
    assert [e.action for e in entries] == ["create", "polish"]
    assert entries[-1].as_dict()["user"] == {"id": world.users["alice"], "name": "Alice"}


def test_secrets_are_left_out_at_any_depth(db_session, world, monkeypatch):
    Gadget, _ = models()
    monkeypatch.setattr(Gadget, "__audit_exclude__", {"notes"}, raising=False)
    with _as(db_session, world, "alice"):
        gadget = db_session.get(Gadget, world.gadgets["a"])
        entry_id = audit.record_action(
            db_session, gadget, "connect",
            {"api_token": "tok-123", "notes": "the combination is 1234",
             "server": {"host": "mail.example", "password": "hunter2",
                        "tries": [{"client_secret": "s3cr3t", "at": 1}]}},
        )  # fmt: skip
    changes = _entry(db_session, entry_id).changes
    assert changes == {
        "server": {"old": None, "new": {"host": "mail.example", "tries": [{"at": 1}]}}
    }
    for secret in ("tok-123", "1234", "hunter2", "s3cr3t"):
        assert secret not in repr(changes)


def test_a_record_by_model_or_table_name_takes_the_rows_company(db_session, world):
    Gadget, _ = models()
    with unscoped():
        by_model = audit.record_action(db_session, (Gadget, world.gadgets["b"]), "inspect")
        by_table = audit.record_action(
            db_session,
            ("testkit_gadget", world.gadgets["b"]),
            "inspect",
            user_id=world.users["bob"],
        )
    first, second = _entry(db_session, by_model), _entry(db_session, by_table)
    assert (first.company_id, first.user_id, first.changes) == (world.company_b, None, {})
    assert (second.company_id, second.user_id) == (world.company_b, world.users["bob"])
    assert second.id > first.id


def test_a_deleted_record_is_recorded_with_the_company_given(db_session, world):
    Gadget, _ = models()
    with _as(db_session, world, "alice"):
        gadget = db_session.get(Gadget, world.gadgets["a"])
        gadget_id = gadget.id
        db_session.delete(gadget)
        db_session.flush()
        entry_id = audit.record_action(
            db_session, (Gadget, gadget_id), "merge", {"into": 42}, company_id=world.company_a
        )
        # the company keeps the entry visible to those who saw the record, and only to them
        assert [e.action for e in audit.history(db_session, "testkit_gadget", gadget_id)][-1] == (
            "merge"
        )
    with _as(db_session, world, "bob"):
        assert audit.history(db_session, "testkit_gadget", gadget_id) == []
    assert _entry(db_session, entry_id).company_id == world.company_a
    lost = audit.record_action(db_session, (Gadget, gadget_id), "merge")  # no row, no company
    assert _entry(db_session, lost).company_id is None


def test_pending_changes_are_flushed_first_so_the_trail_keeps_their_order(db_session, world):
    Gadget, _ = models()
    with _as(db_session, world, "alice"):
        gadget = Gadget(name="Fresh", price=Decimal("1.00"))
        db_session.add(gadget)  # not flushed: no id yet
        entry_id = audit.record_action(db_session, gadget, "convert", {"from": "lead #7"})
        assert gadget.id is not None
        logs = db_session.scalars(
            select(AuditLog)
            .where(AuditLog.table_name == "testkit_gadget", AuditLog.record_id == gadget.id)
            .order_by(AuditLog.id)
        ).all()
    assert [(log.action, log.id == entry_id) for log in logs] == [
        ("create", False),
        ("convert", True),
    ]


def test_the_entry_commits_and_rolls_back_with_the_transaction(db_session, world):
    Gadget, _ = models()
    with _as(db_session, world, "alice"):
        gadget = db_session.get(Gadget, world.gadgets["a"])
        nested = db_session.begin_nested()
        entry_id = audit.record_action(db_session, gadget, "polish")
        assert db_session.get(AuditLog, entry_id) is not None
        nested.rollback()
        assert db_session.scalars(select(AuditLog).where(AuditLog.id == entry_id)).all() == []


@pytest.mark.parametrize(
    ("action", "message"),
    [
        ("update", "listeners"),
        ("create", "listeners"),
        ("delete", "listeners"),
        ("", "needs a name"),
        ("x" * (audit.ACTION_MAX_LENGTH + 1), "at most"),
    ],
)
def test_listener_actions_and_bad_names_are_refused(db_session, world, action, message):
    Gadget, _ = models()
    gadget = db_session.get(Gadget, world.gadgets["a"])
    with pytest.raises(ValueError, match=message):
        audit.record_action(db_session, gadget, action)


@pytest.mark.parametrize(
    "record",
    [("no_such_table", 1), ("testkit_gadget", "1"), ("testkit_gadget",), object(), "gadget"],
)
def test_what_is_not_a_record_is_refused(db_session, world, record):
    with pytest.raises(ValueError):
        audit.record_action(db_session, record, "polish")


def test_a_record_outside_the_session_is_refused(db_session, world):
    Gadget, _ = models()
    with pytest.raises(ValueError, match="Add the record"):
        audit.record_action(db_session, Gadget(name="Loose"), "polish")


# --------------------------------------------------------------------------- redaction


def test_redact_overwrites_the_values_of_some_fields_and_keeps_the_shape(db_session, world):
    Gadget, _ = models()
    with _as(db_session, world, "alice"):
        gadget = db_session.get(Gadget, world.gadgets["a"])
        gadget.notes = "call Ann on 0301234567"
        db_session.flush()
        audit.record_action(db_session, gadget, "convert", {"notes": "from Ann's lead"})
        changed = audit.redact(db_session, "testkit_gadget", [gadget.id], ["notes"])
        entries = audit.history_of(db_session, gadget)
    assert changed == 2  # the update and the action; the creation had no notes
    by_action = {e.action: e.as_dict()["changes"] for e in entries}
    assert by_action["update"]["notes"] == {"old": None, "new": audit.ERASED}
    assert by_action["convert"]["notes"] == {"old": None, "new": audit.ERASED}
    assert by_action["create"]["name"] == {"old": None, "new": "Alpha gadget"}  # untouched
    assert "Ann" not in repr(by_action)


def test_redact_without_fields_erases_every_value_of_those_records_only(db_session, world):
    with unscoped():
        changed = audit.redact(db_session, "testkit_gadget", [world.gadgets["a"]])
        mine = db_session.scalars(
            select(AuditLog).where(AuditLog.record_id == world.gadgets["a"],
                                   AuditLog.table_name == "testkit_gadget")
        ).all()  # fmt: skip
        theirs = audit.history(db_session, "testkit_gadget", world.gadgets["b"])
    assert changed == len(mine) == 1
    assert set(mine[0].changes["name"].values()) == {None, "[erased]"}
    assert theirs[0].as_dict()["changes"]["name"]["new"] == "Beta gadget"
    assert audit.redact(db_session, "testkit_gadget", []) == 0
