"""The CSV import loads rows with the resource's schema cut to the file's columns.

``csv_io._file_schema`` keeps the file's columns plus the fields with a ``load_default`` or
``required``; it must load every row exactly as the whole schema does: the same data, the
same defaults, the same errors with the same messages, and still refuse what it refused.
Checked on the testkit gadgets (every field has a default) and on the contacts and accounts
resources, whose schemas lose fields without a default when the file leaves them out.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.resources.csv_io import (
    ImportResult,
    RowError,
    _check_header,
    _file_schema,
    _load_row,
)
from core.resources.validation import ValidationFailed, load_input
from tests.core.resources_support import models
from tests.core.test_csv import run_import

GADGET_HEADER = ["name", "price", "currency", "notes", "archived"]
GADGET_ROWS = [
    ["Lamp", "12.5", "USD", "a note", "true"],
    ["Chair", "", "", "", ""],
    ["  Spaced  ", "0", "EUR", "=1+1", "false"],
    ["", "abc", "XXX", "", "maybe"],  # four errors at once
    ["x" * 121, "-1", "", "", ""],
    ["Ok", "1.234", "", "", ""],
    ["Extra", "1", "EUR", "", "", "surplus cell"],
]


@pytest.fixture
def gadgets(app):
    from testkit.api import gadgets

    return gadgets


def cut_for(resource, header: list[str], keys: dict[str, int] | None = None):
    """``(columns, cut schema)`` of a file with this header, as ``import_csv`` makes them."""
    result = ImportResult()
    columns = _check_header(resource, header, result, keys or {})
    assert columns is not None, [e.describe() for e in result.errors]
    return columns, _file_schema(resource, columns)


def load_both(resource, header: list[str], cells: list[str], *, partial: bool = False):
    """One row loaded with the whole schema and with the cut one: ``(data, errors)`` each."""
    columns, schema = cut_for(resource, header)
    out = []
    for used in (None, schema):
        result = ImportResult()
        data = _load_row(resource, 2, cells, columns, result, partial=partial, schema=used)
        out.append((data, [(e.line, e.errors) for e in result.errors]))
    return out


# --------------------------------------------------------------------------- defaults


def test_columns_left_out_still_get_their_defaults(db_session, gadgets):
    result = run_import(db_session, gadgets, "name\nLamp\n")
    assert (result.created, result.errors) == (1, [])
    result = run_import(db_session, gadgets, "notes,name\nhello,Chair\n")
    assert (result.created, result.errors) == (1, [])
    gadget_cls, _ = models()
    lamp = db_session.scalar(select(gadget_cls).where(gadget_cls.name == "Lamp"))
    chair = db_session.scalar(select(gadget_cls).where(gadget_cls.name == "Chair"))
    assert (str(lamp.price), lamp.currency, lamp.archived, lamp.notes) == (
        "0.00",
        "EUR",
        False,
        None,
    )
    assert (str(chair.price), chair.currency, chair.notes) == ("0.00", "EUR", "hello")
    # the model's column defaults agree with the schema's, so look at the loaded row too
    (full_data, _), (cut_data, _) = load_both(gadgets, ["name"], ["Lamp"])
    assert cut_data == full_data
    assert (cut_data["price"], cut_data["currency"], cut_data["archived"]) == (0, "EUR", False)


def test_the_cut_schema_keeps_defaulted_and_required_fields(gadgets):
    _columns, schema = cut_for(gadgets, ["name"])
    assert schema is not gadgets.schema_instance  # "parts" (no default) is cut away
    assert set(schema.load_fields) == {"name", "price", "currency", "notes", "archived"}
    loaded = load_input(gadgets, {"name": "Lamp"}, schema=schema)
    assert loaded == load_input(gadgets, {"name": "Lamp"})
    assert (loaded["currency"], loaded["archived"], loaded["notes"]) == ("EUR", False, None)


def test_an_update_leaving_columns_out_keeps_their_values(db_session, gadgets):
    created = run_import(db_session, gadgets, "name,price,currency,notes\nLamp,10,USD,kept\n")
    assert created.created == 1
    gadget_cls, _ = models()
    lamp = db_session.scalar(select(gadget_cls).where(gadget_cls.name == "Lamp"))
    text = f"id,version,name\n{lamp.id},{lamp.version},Lamp 2\n"
    updated = run_import(db_session, gadgets, text, update=True)
    assert (updated.updated, updated.errors) == (1, [])
    db_session.expire_all()
    lamp = db_session.get(gadget_cls, lamp.id)
    assert (lamp.name, str(lamp.price), lamp.currency, lamp.notes) == (
        "Lamp 2",
        "10.00",
        "USD",
        "kept",
    )


# --------------------------------------------------------------------------- same loads


@pytest.mark.parametrize("cells", GADGET_ROWS, ids=range(len(GADGET_ROWS)))
@pytest.mark.parametrize("partial", [False, True], ids=["create", "update"])
def test_a_file_with_every_column_loads_as_the_whole_schema(gadgets, cells, partial):
    (full_data, full_errors), (cut_data, cut_errors) = load_both(
        gadgets, GADGET_HEADER, cells, partial=partial
    )
    assert cut_data == full_data
    assert cut_errors == full_errors


def test_the_comparison_sees_errors(gadgets):
    """The rows above do hold errors and data (the comparison is not of two empty lists)."""
    outcomes = [load_both(gadgets, GADGET_HEADER, cells)[0] for cells in GADGET_ROWS]
    assert [data is not None for data, _ in outcomes] == [True, True, True] + [False] * 4
    assert sorted(outcomes[3][1][0][1]) == ["archived", "currency", "name", "price"]
    assert outcomes[6][1][0][1] == {"_row": ["6 cells but 5 columns."]}


CONTACT_CASES = [
    (["first_name", "last_name", "email"], ["Ada", "Lovelace", "ada@example.com"]),
    (["first_name", "last_name", "email"], ["Ada", "", "  "]),  # blanks: not given
    (["first_name", "email"], ["x" * 101, "y" * 250 + "@x.io"]),
    (["last_name", "phone", "tags"], ["Byron", "+44 20 7946 0000", "VIP; Newsletter"]),
    (["last_name", "phone", "tags"], ["Byron", "1" * 41, ";".join(["t"] * 51)]),
    (["last_name", "account_name", "owner_id"], ["Babbage", "Engines Ltd", "7"]),
    (["last_name", "account_name", "owner_id"], ["Babbage", "E" * 201, "zero"]),
    (["last_name", "archived", "language", "title"], ["Kay", "nope", "x" * 17, "Dr"]),
]


@pytest.mark.parametrize(("header", "cells"), CONTACT_CASES, ids=range(len(CONTACT_CASES)))
@pytest.mark.parametrize("partial", [False, True], ids=["create", "update"])
def test_contact_rows_load_as_with_the_whole_schema(header, cells, partial):
    from addons.contacts.api import contacts

    _columns, schema = cut_for(contacts, header)
    assert set(schema.load_fields) < set(contacts.schema_instance.load_fields)  # really cut
    (full_data, full_errors), (cut_data, cut_errors) = load_both(
        contacts, header, cells, partial=partial
    )
    assert cut_data == full_data
    assert cut_errors == full_errors


def test_account_rows_with_every_column_load_as_with_the_whole_schema():
    from addons.contacts.api import accounts
    from core.resources.csv_io import import_fields

    header = list(import_fields(accounts))
    good = {"name": "Engines Ltd", "size": "", "is_customer": "true", "billing_city": "London"}
    bad = {"name": "", "size": "huge", "parent_id": "-3", "billing_country": "ABCD"}
    for row in (good, bad):
        cells = [row.get(name, "") for name in header]
        (full_data, full_errors), (cut_data, cut_errors) = load_both(accounts, header, cells)
        assert (cut_data, cut_errors) == (full_data, full_errors)
    assert full_data is None and len(full_errors[0][1]) == 4  # the bad row's four errors


def test_errors_are_reported_in_the_schemas_order(gadgets):
    (_, full_errors), (_, cut_errors) = load_both(gadgets, GADGET_HEADER, GADGET_ROWS[3])
    assert RowError(*cut_errors[0]).describe() == RowError(*full_errors[0]).describe()


def test_loaded_values_are_the_same_in_the_same_types(gadgets):
    (full_data, _), (cut_data, _) = load_both(gadgets, GADGET_HEADER, GADGET_ROWS[0])
    assert {k: type(v) for k, v in cut_data.items()} == {k: type(v) for k, v in full_data.items()}
    assert str(cut_data["price"]) == "12.50"


# --------------------------------------------------------------------------- still refused


def test_an_unknown_column_is_still_refused(db_session, gadgets):
    result = run_import(db_session, gadgets, "name,colour\nLamp,red\n")
    assert result.failed and result.created == 0
    assert result.errors[0].fatal
    assert "Unknown column 'colour'." in result.errors[0].errors["_row"]


def test_the_cut_schema_still_refuses_unknown_fields(gadgets):
    _columns, schema = cut_for(gadgets, ["name"])
    for payload in ({"name": "Lamp", "colour": "red"}, {"name": "Lamp", "parts": []}):
        with pytest.raises(ValidationFailed) as cut:
            load_input(gadgets, payload, schema=schema)
        extra = next(k for k in payload if k != "name")
        assert cut.value.errors == {extra: ["Unknown field."]}
    # the whole schema refuses the unknown name the same way
    with pytest.raises(ValidationFailed) as full:
        load_input(gadgets, {"name": "Lamp", "colour": "red"})
    assert full.value.errors == {"colour": ["Unknown field."]}
