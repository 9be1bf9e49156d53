"""The list search on PostgreSQL's trigram indexes: statement shape, answers, company scoping.

``core.resources.query`` writes a related search path (``account.name``) as "the key among
the keys of matching related rows" instead of a correlated ``EXISTS``, so that PostgreSQL
can answer every branch of a word's ``OR`` from an index (migration 0004 of contacts). These
tests pin that the answers did not change (against the ``has()`` / ``any()`` reference, on
both backends), that another company's rows still match nothing, and, on PostgreSQL, that the
indexes exist and the planner uses them.
"""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest
from sqlalchemy import event, inspect, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url

from addons.contacts.api import contacts
from addons.contacts.models import (
    TRIGRAM_SEARCH_COLUMNS,
    Account,
    Address,
    Contact,
    Tag,
    trigram_index_name,
)
from core import registry as registry_module
from core.bootstrap import initialise
from core.config import normalise_database_url
from core.db import Database, make_engine
from core.lifecycle import Lifecycle, LifecycleError
from core.migrations import MigrationTarget, differences
from core.resources.query import (
    TRIGRAM_MIN_CHARS,
    ListParams,
    _like,
    escape_like,
    list_statement,
    search_clauses,
)
from core.tenancy import company_scope, unscoped
from tests.addons.contacts.test_api import CONTACTS, login
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, PG_URL

needs_postgres = pytest.mark.skipif(
    not PG_URL, reason="trigram indexes exist on PostgreSQL only (set MOSAIC_TEST_DATABASE_URL)"
)


# --------------------------------------------------------------------------- data


@pytest.fixture
def world(session, company_id, other_company_id):
    """Contacts of company 1, one pointing at another company's account (written unscoped)."""
    with unscoped():
        plainfield = Account(name="Plainfield Systems", company_id=company_id)
        cafe = Account(name="Café 100% Ltd", company_id=company_id)
        zanzibar = Account(name="Zanzibar Traders", company_id=other_company_id)
        session.add_all([plainfield, cafe, zanzibar])
        session.flush()
        session.add(
            Address(account=plainfield, kind="billing", city="Zittau", company_id=company_id)
        )
        vip = Tag(name="Zirconium", company_id=company_id)
        plainfield.tags.append(vip)
        rows = [
            Contact(first_name="Carla", last_name="Own", account=plainfield),
            Contact(first_name="Erik", last_name="Cafe", account=cafe, email="erik@cafe.example"),
            Contact(first_name="Nora", last_name="Alone", mobile="+49 170 0104729"),
            Contact(first_name="Dora", last_name="Leak", account_id=zanzibar.id),
            Contact(first_name="Otto", last_name="Archived", account=plainfield, archived=True),
            Contact(first_name="Under_Score", last_name="Person"),
        ]
        for row in rows:
            row.company_id = company_id
        session.add_all(rows)
        session.flush()
    return SimpleNamespace(company=company_id, other=other_company_id, zanzibar=zanzibar)


WORDS = ["plain", "pl", "zanzibar", "zi", "100%", "_", "café", "cafe", "o", "erik@", "0104729",
         "nothing-like-this", "ltd", "%"]  # fmt: skip


def _reference(resource, word):
    """What a word matched before the rewrite: ``has()`` / ``any()`` for related paths."""
    pattern = f"%{escape_like(word)}%"
    options = []
    for path in resource.search:
        if "." in path:
            rel_name, attr = path.split(".")
            prop = resource.mapper.relationships[rel_name]
            cond = _like(getattr(prop.mapper.class_, attr), pattern)
            rel = getattr(resource.model, rel_name)
            options.append(rel.any(cond) if prop.uselist else rel.has(cond))
        else:
            options.append(_like(getattr(resource.model, path), pattern))
    return or_(*options)


def _ids(session, stmt):
    return set(session.scalars(stmt).all())


def _stand_in(model, *paths):
    """A resource reduced to what the search reads, for relation shapes contacts lacks."""
    return SimpleNamespace(
        model=model, mapper=inspect(model), search=list(paths), search_terms=None
    )


# --------------------------------------------------------------------------- answers


@pytest.mark.parametrize("word", WORDS)
def test_contact_search_answers_are_unchanged(session, world, word):
    with company_scope([world.company]):
        found = _ids(session, select(Contact.id).where(*search_clauses(contacts, word)))
        expected = _ids(session, select(Contact.id).where(_reference(contacts, word)))
    assert found == expected


@pytest.mark.parametrize("word", ["zittau", "zi", "itt", "zirconium", "nowhere"])
@pytest.mark.parametrize("path", ["addresses.city", "tags.name", "contacts.last_name"])
def test_collection_paths_answer_like_any(session, world, path, word):
    """One-to-many (``IN``) and many-to-many (kept as ``any()``) give the reference answers."""
    resource = _stand_in(Account, "name", path)
    with company_scope([world.company]):
        found = _ids(session, select(Account.id).where(*search_clauses(resource, word)))
        expected = _ids(session, select(Account.id).where(_reference(resource, word)))
    assert found == expected
    if word == "zittau" and path == "addresses.city":
        assert found  # the comparison is not vacuous


def test_search_through_the_api_finds_by_account_name(client, world):
    response = client.get(f"{CONTACTS}?q=plainfield", headers=login(client))
    assert response.status_code == 200, response.get_json()
    assert {i["name"] for i in response.get_json()["items"]} == {"Carla Own"}


# --------------------------------------------------------------------------- company scoping


@pytest.mark.parametrize("word", ["zanzibar", "nzi", "zan", "za"])
def test_another_companys_account_name_matches_no_contact(client, session, world, word):
    """Dora's account belongs to another company: its name must not make her match.

    "za"/"zan" straddle ``TRIGRAM_MIN_CHARS`` (both forms of the related subquery).
    """
    assert len("za") < TRIGRAM_MIN_CHARS <= len("zan")
    response = client.get(f"{CONTACTS}?q={word}", headers=login(client))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["items"] == []
    with company_scope([world.company]):
        assert _ids(session, list_statement(contacts, ListParams(q=word))) == set()
    # The positive control: a caller who may see both companies finds her through it.
    with company_scope([world.company, world.other], world.company):
        found = session.scalars(list_statement(contacts, ListParams(q=word))).all()
    assert [c.name for c in found] == ["Dora Leak"]


# --------------------------------------------------------------------------- statement shape


def _sql(clause, dialect) -> str:
    return str(select(Contact.id).where(clause).compile(dialect=dialect))


def test_related_branch_is_an_uncorrelated_key_lookup():
    long_word, short_word = search_clauses(contacts, "plain")[0], search_clauses(contacts, "pl")[0]
    pg_long = _sql(long_word, postgresql.dialect())
    assert "contacts_contact.account_id = ANY(ARRAY(SELECT contacts_account.id" in pg_long
    assert "EXISTS" not in pg_long
    # Too short for a trigram: the table is scanned anyway and a hashed IN probes fastest.
    assert "contacts_contact.account_id IN (SELECT contacts_account.id" in _sql(
        short_word, postgresql.dialect()
    )
    lite = _sql(long_word, sqlite.dialect())
    assert "contacts_contact.account_id IN (SELECT contacts_account.id" in lite
    assert "EXISTS" not in lite and "ANY" not in lite


def test_link_table_paths_keep_exists():
    clause = search_clauses(_stand_in(Account, "tags.name"), "vip")[0]
    assert "EXISTS" in str(select(Account.id).where(clause).compile(dialect=sqlite.dialect()))


# --------------------------------------------------------------------------- PostgreSQL


@needs_postgres
def test_migration_created_the_trigram_indexes(session):
    conn = session.connection()
    assert conn.exec_driver_sql("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'").first()
    rows = dict(
        conn.exec_driver_sql(
            "SELECT indexname, indexdef FROM pg_indexes WHERE indexname LIKE '%%_trgm'"
        ).all()
    )
    expected = {
        trigram_index_name(model, column): (model.__tablename__, column)
        for model, columns in TRIGRAM_SEARCH_COLUMNS.items()
        for column in columns
    }
    assert set(rows) == set(expected)
    for name, (table, column) in expected.items():
        assert f"ON public.{table} USING gin (lower(({column})::text) gin_trgm_ops)" in rows[name]


@needs_postgres
def test_a_missing_trigram_index_is_drift(session, registry, monkeypatch):
    """The models declare the indexes: dropping one is reported by the comparison."""
    conn = session.connection()
    target = MigrationTarget.for_addon(registry.get("contacts"))
    # ``load_addon`` records no table when the models were imported first (this module
    # imports them): forget that record so the contacts tables are found by their prefix.
    monkeypatch.delitem(registry_module._loaded, "contacts", raising=False)
    conn.exec_driver_sql("DROP INDEX ix_contacts_contact_email_trgm")
    diff = differences(conn, target)
    assert [(d[0], d[1].name) for d in diff] == [("add_index", "ix_contacts_contact_email_trgm")]


FILLER = """
INSERT INTO contacts_contact (company_id, first_name, last_name, name_key, email, mobile,
                              created_at, updated_at, version, archived)
SELECT %(company)s, 'Filler', 'Person ' || g, 'filler person ' || g, 'p' || g || '@filler.example',
       '+4930' || (1000000 + g), now(), now(), 1, false
FROM generate_series(1, 30000) AS g
"""


ACCOUNT_FILLER = """
INSERT INTO contacts_account (company_id, name, name_key, created_at, updated_at, version, archived)
SELECT %(company)s, 'Filler Account ' || g, 'filler account ' || g, now(), now(), 1, false
FROM generate_series(1, 2000) AS g
"""


def _explain_search(client, session, company_id: int, q: str) -> str:
    """The plan of the page statement a REST search sends, on 30,000 analysed contacts.

    With a handful of rows any plan is cheap and the planner rightly reads the table; the
    filler rows and ``enable_seqscan = off`` make it show the plan it picks at 100,000 rows
    (checked by hand there). A branch no index can answer would still force a scan.
    """
    conn = session.connection()
    conn.exec_driver_sql(FILLER, {"company": company_id})
    conn.exec_driver_sql(ACCOUNT_FILLER, {"company": company_id})
    # New rows wait in each GIN index's pending list, which the planner prices as a scan.
    conn.exec_driver_sql(
        "SELECT gin_clean_pending_list(indexname::regclass) FROM pg_indexes "
        "WHERE indexname LIKE 'ix_contacts_%%_trgm'"
    )
    conn.exec_driver_sql("ANALYZE contacts_contact")
    conn.exec_driver_sql("ANALYZE contacts_account")
    conn.exec_driver_sql("SET LOCAL enable_seqscan = off")  # still a small table
    sent: list[tuple[str, object]] = []

    def capture(_conn, _cursor, statement, parameters, _context, _many):
        if "FROM contacts_contact" in statement and "lower(" in statement:
            sent.append((statement, parameters))

    event.listen(conn.engine, "before_cursor_execute", capture)
    try:
        response = client.get(f"{CONTACTS}?q={q}", headers=login(client))
    finally:
        event.remove(conn.engine, "before_cursor_execute", capture)
    assert response.status_code == 200, response.get_json()
    statement, parameters = sent[0]
    return "\n".join(conn.exec_driver_sql("EXPLAIN " + statement, parameters).scalars())


@needs_postgres
def test_contact_search_plan_uses_the_trigram_indexes(client, session, world):
    plan = _explain_search(client, session, world.company, "plainfield")
    assert "BitmapOr" in plan, plan
    for index in ("ix_contacts_contact_last_name_trgm", "ix_contacts_contact_email_trgm",
                  "ix_contacts_account_name_trgm", "ix_contacts_contact_account_id"):  # fmt: skip
        assert index in plan, plan
    assert "SubPlan" not in plan, plan  # no per-row test of the related branch


@needs_postgres
def test_phone_search_plan_uses_the_trigram_indexes(client, session, world):
    plan = _explain_search(client, session, world.company, "0170%200104729")
    assert "ix_contacts_contact_mobile_trgm" in plan, plan
    assert "Seq Scan on contacts_contact" not in plan, plan


@needs_postgres
def test_install_without_pg_trgm_rights_fails_and_changes_nothing(database_factory, registry):
    """A role that may not create the extension gets instructions and no half-done install."""
    url = make_url(database_factory.new_url())
    role = f"mosaic_noext_{uuid.uuid4().hex[:8]}"
    server = make_engine(normalise_database_url(PG_URL), isolation_level="AUTOCOMMIT")
    inside = make_engine(url.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.exec_driver_sql(f'CREATE ROLE "{role}" LOGIN')
        conn.exec_driver_sql(f'REVOKE CREATE ON DATABASE "{url.database}" FROM PUBLIC')
    with inside.connect() as conn:
        conn.exec_driver_sql(f'GRANT ALL ON SCHEMA public TO "{role}"')  # tables: yes
    inside.dispose()
    database = Database(url.set(username=role, password=None).render_as_string())
    try:
        initialise(database, admin_email=ADMIN_EMAIL, admin_password=ADMIN_PASSWORD)
        with pytest.raises(LifecycleError, match=r"pg_trgm.*permission denied.*CREATE EXTENSION"):
            Lifecycle(database, registry).install(["contacts"])
        with database.engine.connect() as conn:
            tables = conn.exec_driver_sql(
                "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'contacts_%%'"
            ).scalar()
            installed = conn.exec_driver_sql("SELECT count(*) FROM core_addon").scalar()
        assert (tables, installed) == (0, 0)
    finally:
        database.dispose()
        with server.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE "{url.database}" WITH (FORCE)')
            conn.exec_driver_sql(f'DROP ROLE "{role}"')
        database_factory.created.remove(url.database)
        server.dispose()
