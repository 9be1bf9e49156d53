"""CSV import with ``update``: an edited export changes the records it lists.

Through the service (no Flask), the REST endpoint (``?update=true``, its permission), the
import page (the checkbox) and ``mosaic import --update``.
"""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from core import identity
from core.models import AuditLog
from core.resources.csv_io import import_csv
from core.tenancy import company_scope
from tests.core.resources_support import API, csrf_from, login, models, web_login
from tests.core.test_csv import count, export, run_import

PASSWORD = "Quiet-Harbor-2024"


@pytest.fixture
def gadgets(app):
    from testkit.api import gadgets

    return gadgets


def edit(text: str, changes: dict[str, dict[str, str]], drop: tuple[str, ...] = ()) -> str:
    """The export ``text`` with cells changed (``{name of the row: {column: value}}``)."""
    rows = list(csv.DictReader(io.StringIO(text)))
    columns = [c for c in rows[0] if c not in drop]
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        row.update(changes.get(row["name"], {}))
        writer.writerow(row)
    return out.getvalue()


def gadget(db_session, name: str):
    gadget_cls, _ = models()
    return db_session.scalar(select(gadget_cls).where(gadget_cls.name == name))


@pytest.fixture
def exported(db_session, gadgets) -> str:
    created = run_import(
        db_session, gadgets, "name,price,currency,notes\nLamp,10,EUR,old note\nChair,20,EUR,\n"
    )
    assert created.created == 2
    return export(db_session, gadgets, sort="name")


def test_an_edited_export_updates_its_records(db_session, gadgets, exported):
    text = edit(exported, {"Lamp": {"price": "12.50", "notes": ""}, "Chair": {"name": "Stool"}})
    result = run_import(db_session, gadgets, text + ",,,,,,,,\n", update=True)
    assert (result.created, result.updated, result.errors) == (0, 2, [])
    assert "2 updated" in result.summary()
    lamp, stool = gadget(db_session, "Lamp"), gadget(db_session, "Stool")
    assert (str(lamp.price), lamp.notes, lamp.version) == ("12.50", None, 2)  # empty cell clears
    assert stool is not None and gadget(db_session, "Chair") is None
    assert sorted(result.updated_ids) == sorted([lamp.id, stool.id])
    changes = db_session.scalars(
        select(AuditLog.changes).where(
            AuditLog.table_name == "testkit_gadget",
            AuditLog.record_id == lamp.id,
            AuditLog.action == "update",
        )
    ).all()
    assert changes and changes[-1]["price"] == {"old": "10.00", "new": "12.50"}


def test_rows_without_an_id_are_created_beside_the_updates(db_session, gadgets, exported):
    text = edit(exported, {"Lamp": {"price": "11"}}) + ",,,,,,,Desk,30,USD\r\n"
    header = text.splitlines()[0].split(",")
    assert header.index("name") == 7  # the added row lines up with the export's columns
    result = run_import(db_session, gadgets, text, update=True)
    assert (result.created, result.updated, result.errors) == (1, 2, [])
    assert gadget(db_session, "Desk").currency == "USD"


def test_a_record_changed_since_the_export_is_not_overwritten(db_session, gadgets, exported):
    lamp = gadget(db_session, "Lamp")
    lamp.notes = "someone else's edit"
    db_session.commit()
    result = run_import(db_session, gadgets, edit(exported, {"Lamp": {"price": "99"}}), update=True)
    # the export is sorted by name: Chair is line 2, Lamp line 3
    assert result.failed and [(e.line, list(e.errors)) for e in result.errors] == [(3, ["version"])]
    assert "at version 2" in result.errors[0].describe()
    db_session.refresh(lamp)
    assert (str(lamp.price), lamp.notes) == ("10.00", "someone else's edit")
    assert gadget(db_session, "Chair").version == 1  # all or nothing: the good row is undone


def test_update_rows_need_a_known_id_and_their_version(db_session, gadgets, exported):
    no_version = edit(exported, {"Lamp": {"price": "1"}}, drop=("version",))
    result = run_import(db_session, gadgets, no_version, update=True, skip_errors=True)
    assert {e.line: list(e.errors) for e in result.errors} == {2: ["version"], 3: ["version"]}
    assert "version" in result.errors[0].describe() and result.updated == 0

    bad = edit(exported, {"Lamp": {"id": "999999"}, "Chair": {"id": "x1"}})
    result = run_import(db_session, gadgets, bad, update=True, skip_errors=True)
    assert [(e.line, e.errors["id"]) for e in result.errors] == [
        (2, ["Not a record number."]),
        (3, ["No such record."]),
    ]


def test_another_companys_record_cannot_be_updated(db_session, gadgets, exported):
    gadget_cls, _ = models()
    other = identity.create_company(db_session, "Elsewhere Ltd")
    db_session.flush()
    with company_scope([other.id], other.id):
        result = import_csv(
            db_session, gadgets, io.BytesIO(edit(exported, {"Lamp": {"price": "1"}}).encode()),
            update=True, skip_errors=True,
        )  # fmt: skip
    assert [e.errors for e in result.errors] == [{"id": ["No such record."]}] * 2
    assert str(gadget(db_session, "Lamp").price) == "10.00"
    assert count(db_session) == 2 and gadget_cls is not None


def test_an_update_import_needs_an_id_column(db_session, gadgets):
    result = run_import(db_session, gadgets, "name,price\nLamp,1\n", update=True)
    assert result.failed and result.errors[0].fatal
    assert "needs an 'id' column" in result.errors[0].describe()


def test_without_update_the_id_column_is_ignored_as_before(db_session, gadgets, exported):
    result = run_import(db_session, gadgets, exported)
    assert (result.created, result.updated) == (2, 0) and "id" in result.ignored_columns
    assert count(db_session) == 4


# --------------------------------------------------------------------------- the doors


def clerk(db_session, email: str = "clerk@example.com") -> str:
    """A user who may create gadgets but not change them."""
    company = identity.find_company(db_session, 1)
    identity.create_user(
        db_session, email, PASSWORD, companies=[company], company=company,
        groups=[identity.find_group(db_session, "testkit.clerk")],
    )  # fmt: skip
    db_session.commit()
    return email


def test_rest_update_import_needs_the_update_permission(client, db_session, exported):
    text = edit(exported, {"Lamp": {"price": "15"}})
    as_clerk = login(client, clerk(db_session), PASSWORD)
    refused = client.post(
        API + "import?update=true", data=text, content_type="text/csv", headers=as_clerk
    )
    assert refused.status_code == 403 and "gadget.update" in refused.get_json()["detail"]
    admin = login(client)
    done = client.post(
        API + "import?update=true", data=text, content_type="text/csv", headers=admin
    )
    assert done.status_code == 200, done.get_json()
    assert (done.get_json()["updated"], done.get_json()["created"]) == (2, 0)
    stale = client.post(
        API + "import?update=true", data=text, content_type="text/csv", headers=admin
    )
    assert stale.status_code == 422 and stale.get_json()["rows"][0]["errors"]["version"]


def test_the_import_page_offers_update_to_those_who_may(app, client, db_session, exported):
    page = "/testkit/gadgets/import"
    as_clerk = app.test_client()
    web_login(as_clerk, clerk(db_session, "clerk2@example.com"), PASSWORD)
    form = as_clerk.get(page).get_data(as_text=True)
    assert 'name="update"' not in form
    text = edit(exported, {"Chair": {"price": "21"}})
    forced = as_clerk.post(
        page, data={"csrf_token": csrf_from(form), "update": "1",
                    "file": (io.BytesIO(text.encode()), "gadgets.csv")},
        content_type="multipart/form-data",
    )  # fmt: skip
    assert forced.status_code == 403 and str(gadget(db_session, "Chair").price) == "20.00"
    web_login(client)
    form = client.get(page).get_data(as_text=True)
    assert 'name="update"' in form
    response = client.post(
        page, data={"csrf_token": csrf_from(form), "update": "1",
                    "file": (io.BytesIO(text.encode()), "gadgets.csv")},
        content_type="multipart/form-data", follow_redirects=True,
    )  # fmt: skip
    assert response.status_code == 200
    assert "0 created, 2 updated" in response.get_data(as_text=True)
    assert str(gadget(db_session, "Chair").price) == "21.00"


def test_mosaic_import_update(cli, tmp_path):
    source, exported = tmp_path / "in.csv", tmp_path / "out.csv"
    source.write_text("name,price\nLamp,10\nDesk,120\n", encoding="utf-8")
    cli("import", "testkit.gadgets", str(source))
    cli("export", "testkit.gadgets", "--output", str(exported), "sort=name")
    edited = tmp_path / "edited.csv"
    edited.write_text(edit(exported.read_text(encoding="utf-8"), {"Lamp": {"currency": "CHF"}}))
    result = cli("import", "testkit.gadgets", str(edited), "--update")
    assert "Gadgets: 0 created, 2 updated" in result.output
    again = cli("import", "testkit.gadgets", str(edited), "--update", ok=False)
    assert again.exit_code == 1 and "line 3: version: The record changed" in again.output
    cli("export", "testkit.gadgets", "--output", str(exported), "currency=CHF")
    assert "Lamp" in exported.read_text(encoding="utf-8")
