"""CSV import and export: the services (no Flask) and the ``mosaic import`` / ``export`` commands."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from core.resources.csv_io import export_csv, import_csv
from core.resources.query import parse_list_params
from core.tenancy import company_scope
from tests.core.resources_support import models


@pytest.fixture
def gadgets(app):
    from testkit.api import gadgets

    return gadgets


def run_import(db_session, gadgets, text: str | bytes, **kwargs):
    data = text.encode("utf-8") if isinstance(text, str) else text
    with company_scope([1], 1):
        result = import_csv(db_session, gadgets, io.BytesIO(data), **kwargs)
        if result.failed or result.dry_run:
            db_session.rollback()
        else:
            db_session.commit()
    return result


def count(db_session, **where) -> int:
    gadget_cls, _ = models()
    stmt = select(func.count()).select_from(gadget_cls)
    for key, value in where.items():
        stmt = stmt.where(getattr(gadget_cls, key) == value)
    return db_session.scalar(stmt)


def export(db_session, gadgets, **args) -> str:
    out = io.StringIO()
    params = parse_list_params(gadgets, args, allow_format=False)
    params.limit = 0
    export_csv(db_session, gadgets, params, out)
    return out.getvalue()


def test_valid_rows_are_created_with_the_apis_rules(db_session, gadgets):
    result = run_import(
        db_session, gadgets, "name,price,currency,archived\nLamp,12.5,USD,true\nChair,,,\n"
    )
    assert (result.created, result.errors, result.failed) == (2, [], False)
    gadget_cls, _ = models()
    lamp = db_session.scalar(select(gadget_cls).where(gadget_cls.name == "Lamp"))
    chair = db_session.scalar(select(gadget_cls).where(gadget_cls.name == "Chair"))
    assert (str(lamp.price), lamp.currency, lamp.archived, lamp.company_id) == (
        "12.50",
        "USD",
        True,
        1,
    )
    assert (str(chair.price), chair.currency) == ("0.00", "EUR")  # empty cells take the defaults


def test_errors_name_their_line_and_nothing_is_kept_by_default(db_session, gadgets):
    text = 'name,price,notes\nGood,1,\n,2,\nMultiline,3,"one\ntwo"\nBad,abc,\nToo long,1.234,\n'
    result = run_import(db_session, gadgets, text)
    assert result.failed and result.created == 2  # created, then rolled back by the caller
    assert [(e.line, sorted(e.errors)) for e in result.errors] == [
        (3, ["name"]),
        (6, ["price"]),
        (7, ["price"]),
    ]
    assert result.errors[1].describe() == "line 6: price: Not a valid number."
    assert count(db_session, name="Good") == 0


def test_skip_errors_keeps_the_valid_rows(db_session, gadgets):
    result = run_import(
        db_session, gadgets, "name,price\nGood,1\n,2\nAlso good,3\n", skip_errors=True
    )
    assert not result.failed and result.created == 2 and result.skipped == 1
    assert result.summary() == "2 created, 1 row(s) with errors skipped"
    assert count(db_session, name="Good") == 1 and count(db_session, name="Also good") == 1


def test_dry_run_checks_and_saves_nothing(db_session, gadgets):
    result = run_import(db_session, gadgets, "name\nDry\n", dry_run=True)
    assert result.created == 1 and "dry run" in result.summary()
    assert count(db_session, name="Dry") == 0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("", "The file is empty"),
        ("colour\nred\n", "Unknown column 'colour'"),
        ("price\n1\n", "Missing required column(s): name"),
        ("name,name\na,b\n", "appears twice"),
        (b"name\n\xff\xfe\n", "not UTF-8"),
        ("name\nnul\x00byte\n", "NUL bytes"),
        ('name\n"unterminated\n', "Not valid CSV"),
    ],
)
def test_a_broken_file_is_refused_as_a_whole(db_session, gadgets, data, message):
    result = run_import(db_session, gadgets, data, skip_errors=True)
    assert result.failed and result.created == 0
    assert message in result.errors[0].describe()


def test_a_row_with_too_many_cells_is_an_error(db_session, gadgets):
    result = run_import(db_session, gadgets, "name\nA,extra\n")
    assert result.errors[0].line == 2 and "2 cells but 1 columns" in result.errors[0].describe()


def test_an_export_imports_again_unchanged(db_session, gadgets):
    text = 'name,price,currency,notes\n=SUM(A1),1,EUR,"plain, with comma"\n"Quote ""q""",2.50,CHF,-minus\nÜmlaut ✓,3,GBP,\n'
    assert run_import(db_session, gadgets, text).created == 3
    first = export(db_session, gadgets, sort="name")
    assert "'=SUM(A1)" in first and "'-minus" in first  # no formula runs in a spreadsheet
    header = first.splitlines()[0].split(",")
    assert header[:4] == ["id", "version", "company_id", "created_at"] and "parts" not in header
    gadget_cls, _ = models()
    for gadget in db_session.scalars(select(gadget_cls)):
        db_session.delete(gadget)
    db_session.commit()
    again = run_import(db_session, gadgets, first)
    assert again.created == 3 and set(again.ignored_columns) >= {"id", "version", "created_at"}
    names = sorted(db_session.scalars(select(gadget_cls.name)))
    assert names == ['Quote "q"', "=SUM(A1)", "Ümlaut ✓"] or names == sorted(
        ['Quote "q"', "=SUM(A1)", "Ümlaut ✓"]
    )
    notes = db_session.scalar(select(gadget_cls.notes).where(gadget_cls.currency == "CHF"))
    assert notes == "-minus"


def test_export_applies_filters_search_and_sort(db_session, gadgets):
    run_import(
        db_session,
        gadgets,
        "name,price,archived\nAlpha,1,false\nBeta,5,false\nGamma,9,false\nOld,7,true\n",
    )
    rows = export(db_session, gadgets, price__gte="2", sort="-price").splitlines()
    name = rows[0].split(",").index("name")
    assert [r.split(",")[name] for r in rows[1:]] == ["Gamma", "Beta"]
    assert len(export(db_session, gadgets, archived="true").splitlines()) == 2
    assert len(export(db_session, gadgets, q="alp").splitlines()) == 2


# --------------------------------------------------------------------------- the CLI


def test_mosaic_import_and_export(cli, tmp_path):
    source = tmp_path / "in.csv"
    source.write_text("name,price\nLamp,10\nDesk,120.5\nStool,5\n", encoding="utf-8")
    result = cli("import", "testkit.gadgets", str(source))
    assert "Gadgets: 3 created in My Company." in result.output
    target = tmp_path / "out.csv"
    cli("export", "testkit.gadgets", "--output", str(target), "price__gte=6", "sort=-price")
    lines = target.read_text(encoding="utf-8").splitlines()
    name = lines[0].split(",").index("name")
    assert [line.split(",")[name] for line in lines[1:]] == ["Desk", "Lamp"]
    stdout = cli("export", "testkit.gadgets", "q=stool")
    assert "Stool" in stdout.output and "Exported 1 gadgets." in stdout.output


def test_mosaic_import_reports_errors_and_keeps_nothing(cli, tmp_path):
    source = tmp_path / "bad.csv"
    source.write_text("name,price\nOk,1\n,2\nBad,x\n", encoding="utf-8")
    result = cli("import", "testkit.gadgets", str(source), ok=False)
    assert result.exit_code == 1
    assert "line 3: name: Missing data for required field." in result.output
    assert "line 4: price: Not a valid number." in result.output
    assert "nothing was imported" in result.output
    dry = cli("import", "testkit.gadgets", str(source), "--dry-run", "--skip-errors")
    assert "1 created, 2 row(s) with errors skipped (dry run: nothing saved)" in dry.output
    kept = cli("import", "testkit.gadgets", str(source), "--skip-errors")
    assert "1 created" in kept.output
    gadget_cls, _ = models()
    with cli.db.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(gadget_cls.__table__)) == 1


def test_mosaic_import_needs_a_known_resource_and_a_company(cli, tmp_path):
    source = tmp_path / "in.csv"
    source.write_text("name\nA\n", encoding="utf-8")
    unknown = cli("import", "testkit.widgets", str(source), ok=False)
    assert (
        unknown.exit_code == 2
        and "no resource 'testkit.widgets'" in unknown.output
        and "testkit.gadgets" in unknown.output
    )
    assert cli("import", "gadgets", str(source), ok=False).exit_code == 2
    cli("companies", "create", "Second Co")
    several = cli("import", "testkit.gadgets", str(source), ok=False)
    assert several.exit_code == 2 and "--company" in several.output
    chosen = cli("import", "testkit.gadgets", str(source), "--company", "Second Co")
    assert "in Second Co" in chosen.output
    bad_filter = cli("export", "testkit.gadgets", "colour=red", ok=False)
    assert bad_filter.exit_code == 2 and "Unknown filter 'colour'" in bad_filter.output
