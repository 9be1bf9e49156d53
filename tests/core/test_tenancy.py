"""Company scoping: two companies, users in one or both, every verb, through the ORM and HTTP.

The probe endpoints below are deliberately naive: they never mention companies. Whatever
they return or change must still stay inside the caller's companies, because scoping is
enforced once, in the ORM.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from flask import Blueprint, abort, jsonify, request
from sqlalchemy import delete, func, insert, select, union_all, update
from sqlalchemy.orm import aliased, joinedload, selectinload

from core import identity
from core.access import permission_required
from core.audit import history_of
from core.models import User
from core.tenancy import (
    CompanyAccessError,
    CompanyRequiredError,
    InvisibleReferenceError,
    as_user,
    company_scope,
    current_scope,
    unscoped,
)
from tests.core.identity_world import build_world, headers_for, models, settle


@pytest.fixture
def world(db_session):
    return build_world(db_session)


def _as(db_session, world, name, company=None):
    return as_user(db_session, db_session.get(User, world.users[name]), company)


def _names(session, stmt=None):
    Gadget, _ = models()
    return sorted(session.scalars(stmt if stmt is not None else select(Gadget.name)).all())


# --------------------------------------------------------------------------- ORM: reading


def test_list_sees_only_allowed_companies(db_session, world):
    with _as(db_session, world, "alice"):
        assert _names(db_session) == ["Alpha gadget"]
    db_session.expunge_all()
    with _as(db_session, world, "bob"):
        assert _names(db_session) == ["Beta gadget"]
    db_session.expunge_all()
    with _as(db_session, world, "carol"):
        assert _names(db_session) == ["Alpha gadget"]  # her current company
    db_session.expunge_all()
    with _as(db_session, world, "carol", world.company_b):
        assert _names(db_session) == ["Beta gadget"]
    db_session.expunge_all()
    with as_user(
        db_session,
        db_session.get(User, world.users["carol"]),
        company_ids=[world.company_b, world.company_a],
    ) as scope:
        assert _names(db_session) == ["Alpha gadget", "Beta gadget"]
        assert scope.company_id == world.company_b
    db_session.expunge_all()
    with pytest.raises(CompanyAccessError), _as(db_session, world, "alice", world.company_b):
        pass


def test_get_search_count_and_aggregates_are_scoped(db_session, world):
    Gadget, _Part = models()
    with _as(db_session, world, "alice"):
        assert db_session.get(Gadget, world.gadgets["b"]) is None
        assert db_session.get(Gadget, world.gadgets["a"]) is not None
        assert _names(db_session, select(Gadget.name).where(Gadget.name.ilike("%gadget%"))) == [
            "Alpha gadget"
        ]
        assert db_session.scalar(select(func.count()).select_from(Gadget)) == 1
        assert db_session.scalar(select(func.count(Gadget.id))) == 1
        assert db_session.scalar(select(func.sum(Gadget.price))) == Decimal("10.00")
        assert db_session.scalar(select(Gadget).where(Gadget.id == world.gadgets["b"])) is None


def test_relations_joins_aliases_and_subqueries_are_scoped(db_session, world):
    Gadget, Part = models()
    # a part of company A hung (by the system) on company B's gadget, and vice versa
    with unscoped():
        stray = Part(label="stray part", gadget_id=world.gadgets["a"], company_id=world.company_b)
        db_session.add(stray)
        settle(db_session)
    with _as(db_session, world, "alice"):
        gadget = db_session.get(Gadget, world.gadgets["a"])
        assert [p.label for p in gadget.parts] == ["alpha part"]
        db_session.expunge_all()
        loaded = db_session.scalars(select(Gadget).options(selectinload(Gadget.parts))).all()
        assert [[p.label for p in g.parts] for g in loaded] == [["alpha part"]]
        db_session.expunge_all()
        joined = db_session.scalars(select(Gadget).options(joinedload(Gadget.parts))).unique().all()
        assert [[p.label for p in g.parts] for g in joined] == [["alpha part"]]
        db_session.expunge_all()
        rows = db_session.execute(select(Part.label, Gadget.name).join(Part.gadget)).all()
        assert rows == [("alpha part", "Alpha gadget")]
        other = aliased(Gadget)
        assert db_session.scalars(select(other.name)).all() == ["Alpha gadget"]
        sub = select(Part.gadget_id).scalar_subquery()
        assert _names(db_session, select(Gadget.name).where(Gadget.id.in_(sub))) == ["Alpha gadget"]
        # the part of company A is scoped through its own company too
        assert sorted(db_session.scalars(select(Part.label))) == ["alpha part"]


def test_compound_selects_are_scoped(db_session, world):
    Gadget, Part = models()
    with _as(db_session, world, "alice"):
        stmt = union_all(select(Gadget.name), select(Part.label))
        assert sorted(db_session.scalars(stmt)) == ["Alpha gadget", "alpha part"]


def test_streamed_export_is_scoped(db_session, world):
    Gadget, _ = models()
    with _as(db_session, world, "alice"):
        result = db_session.scalars(select(Gadget).execution_options(yield_per=1))
        assert [g.name for g in result] == ["Alpha gadget"]


def test_choosing_a_company_narrows_the_scope(db_session, world):
    with _as(db_session, world, "carol", world.company_b) as scope:
        assert scope.company_id == world.company_b
        assert scope.company_ids == {world.company_b}


def test_user_without_companies_sees_and_creates_nothing(db_session, world):
    Gadget, _ = models()
    lonely = identity.create_user(db_session, "lonely@example.com", None)
    settle(db_session)
    with as_user(db_session, db_session.get(User, lonely.id)):
        assert _names(db_session) == []
        db_session.add(Gadget(name="orphan"))
        with pytest.raises(CompanyRequiredError):
            db_session.flush()
    db_session.rollback()


def test_system_scope_and_unscoped_see_everything(db_session, world):
    assert current_scope().company_ids is None
    assert _names(db_session) == ["Alpha gadget", "Beta gadget"]
    with _as(db_session, world, "alice"), unscoped():
        assert _names(db_session) == ["Alpha gadget", "Beta gadget"]


# --------------------------------------------------------------------------- ORM: writing


def test_new_records_are_stamped_with_the_current_company_and_author(db_session, world):
    Gadget, Part = models()
    with _as(db_session, world, "carol", world.company_b):
        gadget = Gadget(name="stamped")
        gadget.parts.append(Part(label="its part"))
        db_session.add(gadget)
        db_session.flush()
        assert gadget.company_id == world.company_b
        assert gadget.parts[0].company_id == world.company_b
        assert gadget.created_by_id == gadget.updated_by_id == world.users["carol"]
    db_session.rollback()


def test_explicit_company_outside_the_scope_is_refused(db_session, world):
    Gadget, _ = models()
    with _as(db_session, world, "alice"):
        db_session.add(Gadget(name="smuggled", company_id=world.company_b))
        with pytest.raises(CompanyAccessError):
            db_session.flush()
    db_session.rollback()


def test_moving_a_record_to_another_company_is_refused(db_session, world):
    Gadget, _ = models()
    with _as(db_session, world, "alice"):
        gadget = db_session.get(Gadget, world.gadgets["a"])
        gadget.company_id = world.company_b
        with pytest.raises(CompanyAccessError):
            db_session.flush()
    db_session.rollback()


def test_updated_by_follows_the_editor(db_session, world):
    Gadget, _ = models()
    with _as(db_session, world, "carol"):
        gadget = db_session.get(Gadget, world.gadgets["a"])
        gadget.name = "renamed by carol"
        db_session.flush()
        assert gadget.updated_by_id == world.users["carol"]
    db_session.rollback()


def test_references_to_invisible_rows_are_refused(db_session, world):
    _Gadget, Part = models()
    with _as(db_session, world, "alice"):
        db_session.add(Part(label="hooked on B", gadget_id=world.gadgets["b"]))
        with pytest.raises(InvisibleReferenceError) as caught:
            db_session.flush()
        assert caught.value.field == "gadget_id"
    db_session.rollback()
    with _as(db_session, world, "alice"):
        part = db_session.get(Part, world.parts["a"])
        part.gadget_id = world.gadgets["b"]
        with pytest.raises(InvisibleReferenceError):
            db_session.flush()
    db_session.rollback()
    # a row that does not exist at all gets the same answer
    with _as(db_session, world, "alice"):
        db_session.add(Part(label="hooked on nothing", gadget_id=987654))
        with pytest.raises(InvisibleReferenceError):
            db_session.flush()
    db_session.rollback()


def test_bulk_update_and_delete_touch_only_allowed_rows(db_session, world):
    Gadget, Part = models()
    with _as(db_session, world, "alice"):
        result = db_session.execute(update(Gadget).values(notes="bulk"))
        assert result.rowcount == 1
        aimed = db_session.execute(
            update(Gadget).where(Gadget.id == world.gadgets["b"]).values(name="x")
        )
        assert aimed.rowcount == 0
        gone = db_session.execute(delete(Part).where(Part.id == world.parts["b"]))
        assert gone.rowcount == 0
        with pytest.raises(CompanyAccessError):
            db_session.execute(update(Gadget).values(company_id=world.company_b))
        with pytest.raises(CompanyAccessError):
            db_session.execute(insert(Gadget), [{"name": "bulk", "company_id": world.company_b}])
        db_session.execute(insert(Gadget), [{"name": "bulk stamped"}])
    with unscoped():
        assert (
            db_session.scalar(select(Gadget.notes).where(Gadget.id == world.gadgets["b"])) is None
        )
        assert db_session.get(Part, world.parts["b"]) is not None
        stamped = db_session.scalar(select(Gadget).where(Gadget.name == "bulk stamped"))
        assert stamped.company_id == world.company_a
    db_session.rollback()


def test_explicit_scope_rejects_a_current_company_outside_it(world):
    with pytest.raises(CompanyAccessError), company_scope([world.company_a], world.company_b):
        pass


# --------------------------------------------------------------------------- HTTP


def _probe_blueprint() -> Blueprint:
    """Naive CRUD endpoints that never filter by company (the ORM must do it for them)."""
    from flask import current_app

    bp = Blueprint("probe", __name__, url_prefix="/api/v1/probe")

    def session():
        return current_app.extensions["mosaic"].db.session

    def gadget_or_404(gadget_id):
        Gadget, _ = models()
        gadget = session().get(Gadget, gadget_id)
        if gadget is None:
            abort(404)
        return gadget

    def out(g):
        return {"id": g.id, "name": g.name, "company_id": g.company_id}

    @bp.get("/gadgets")
    @permission_required("testkit.gadget.read")
    def list_():
        Gadget, _ = models()
        stmt = select(Gadget).order_by(Gadget.id)
        if request.args.get("q"):
            stmt = stmt.where(Gadget.name.ilike(f"%{request.args['q']}%"))
        return jsonify([out(g) for g in session().scalars(stmt)])

    @bp.get("/gadgets/<int:gadget_id>")
    @permission_required("testkit.gadget.read")
    def read(gadget_id):
        return jsonify(out(gadget_or_404(gadget_id)))

    @bp.get("/gadgets/<int:gadget_id>/parts")
    @permission_required("testkit.gadget.read")
    def parts(gadget_id):
        return jsonify([p.label for p in gadget_or_404(gadget_id).parts])

    @bp.get("/gadgets/<int:gadget_id>/history")
    @permission_required("testkit.gadget.read")
    def history(gadget_id):
        return jsonify([e.as_dict() for e in history_of(session(), gadget_or_404(gadget_id))])

    @bp.post("/gadgets")
    @permission_required("testkit.gadget.create")
    def create():
        Gadget, _ = models()
        body = request.get_json()
        gadget = Gadget(name=body["name"], company_id=body.get("company_id"))
        session().add(gadget)
        session().commit()
        return jsonify(out(gadget)), 201

    @bp.patch("/gadgets/<int:gadget_id>")
    @permission_required("testkit.gadget.update")
    def patch(gadget_id):
        gadget = gadget_or_404(gadget_id)
        for key, value in request.get_json().items():
            setattr(gadget, key, value)
        session().commit()
        return jsonify(out(gadget))

    @bp.delete("/gadgets/<int:gadget_id>")
    @permission_required("testkit.gadget.delete")
    def remove(gadget_id):
        session().delete(gadget_or_404(gadget_id))
        session().commit()
        return "", 204

    @bp.post("/parts")
    @permission_required("testkit.gadget.update")
    def add_part():
        _, Part = models()
        body = request.get_json()
        part = Part(label=body["label"], gadget_id=body["gadget_id"])
        session().add(part)
        session().commit()
        return jsonify({"id": part.id}), 201

    @bp.post("/gadgets/rename-all")
    @permission_required("testkit.gadget.update")
    def rename_all():
        Gadget, _ = models()
        result = session().execute(update(Gadget).values(name=request.get_json()["name"]))
        session().commit()
        return jsonify({"changed": result.rowcount})

    return bp


@pytest.fixture(scope="module")
def probe_app(settings, db, registry):
    from core.app import create_app

    app = create_app(settings, db=db, registry=registry)
    app.register_blueprint(_probe_blueprint())
    return app


@pytest.fixture
def probe(probe_app, db_session):
    from core.auth.ratelimit import reset

    reset(probe_app)
    return probe_app.test_client()


def _ids(response):
    return sorted(item["id"] for item in response.get_json())


def test_http_list_and_search(probe, world):
    alice = headers_for(probe, "alice")
    bob = headers_for(probe, "bob")
    assert _ids(probe.get("/api/v1/probe/gadgets", headers=alice)) == [world.gadgets["a"]]
    assert _ids(probe.get("/api/v1/probe/gadgets", headers=bob)) == [world.gadgets["b"]]
    assert probe.get("/api/v1/probe/gadgets?q=Beta", headers=alice).get_json() == []


def test_http_read_of_another_company_is_404(probe, world):
    alice = headers_for(probe, "alice")
    assert (
        probe.get(f"/api/v1/probe/gadgets/{world.gadgets['b']}", headers=alice).status_code == 404
    )
    assert (
        probe.get(f"/api/v1/probe/gadgets/{world.gadgets['a']}", headers=alice).status_code == 200
    )
    assert (
        probe.get(f"/api/v1/probe/gadgets/{world.gadgets['b']}/parts", headers=alice).status_code
        == 404
    )
    assert (
        probe.get(f"/api/v1/probe/gadgets/{world.gadgets['b']}/history", headers=alice).status_code
        == 404
    )


def test_http_update_and_delete_of_another_company_are_404(probe, world, db_session):
    Gadget, _ = models()
    bob = headers_for(probe, "bob")
    target = f"/api/v1/probe/gadgets/{world.gadgets['a']}"
    assert probe.patch(target, headers=bob, json={"name": "pwned"}).status_code == 404
    carol = headers_for(probe, "carol")  # manager in both companies, may delete
    in_b = carol | {"X-Mosaic-Company": str(world.company_b)}
    assert probe.patch(target, headers=in_b, json={"name": "pwned"}).status_code == 404
    assert probe.delete(target, headers=in_b).status_code == 404
    in_both = carol | {"X-Mosaic-Company": f"{world.company_b},{world.company_a}"}
    assert probe.delete(target, headers=in_both).status_code == 204
    with unscoped():
        db_session.expire_all()
        assert db_session.get(Gadget, world.gadgets["a"]) is None  # carol may see A too: deleted


def test_http_delete_is_scoped_for_a_single_company_manager(probe, world, db_session):
    Gadget, _ = models()
    # make bob a manager of company B only
    identity.grant_group(
        db_session,
        db_session.get(User, world.users["bob"]),
        identity.find_group(db_session, "testkit.manager"),
    )
    settle(db_session)
    bob = headers_for(probe, "bob")
    assert (
        probe.delete(f"/api/v1/probe/gadgets/{world.gadgets['a']}", headers=bob).status_code == 404
    )
    assert probe.post(
        "/api/v1/probe/gadgets/rename-all", headers=bob, json={"name": "x"}
    ).get_json() == {"changed": 1}
    db_session.expire_all()
    assert db_session.get(Gadget, world.gadgets["a"]).name == "Alpha gadget"


def test_http_create_is_stamped_and_cannot_target_another_company(probe, world):
    alice = headers_for(probe, "alice")
    created = probe.post("/api/v1/probe/gadgets", headers=alice, json={"name": "new"})
    assert created.status_code == 201 and created.get_json()["company_id"] == world.company_a
    smuggled = probe.post(
        "/api/v1/probe/gadgets", headers=alice, json={"name": "x", "company_id": world.company_b}
    )
    assert smuggled.status_code == 403 and smuggled.mimetype == "application/problem+json"
    moved = probe.patch(
        f"/api/v1/probe/gadgets/{world.gadgets['a']}",
        headers=alice,
        json={"company_id": world.company_b},
    )
    assert moved.status_code == 403


def test_http_relation_to_another_company_is_422_without_revealing_it(probe, world):
    alice = headers_for(probe, "alice")
    foreign = probe.post(
        "/api/v1/probe/parts", headers=alice, json={"label": "x", "gadget_id": world.gadgets["b"]}
    )
    missing = probe.post(
        "/api/v1/probe/parts", headers=alice, json={"label": "x", "gadget_id": 987654}
    )
    assert foreign.status_code == missing.status_code == 422
    assert (
        foreign.get_json()["errors"]
        == missing.get_json()["errors"]
        == {"gadget_id": ["No such record."]}
    )
    ok = probe.post(
        "/api/v1/probe/parts", headers=alice, json={"label": "x", "gadget_id": world.gadgets["a"]}
    )
    assert ok.status_code == 201


def test_company_header_selects_among_allowed_companies(probe, world):
    carol = headers_for(probe, "carol")
    assert _ids(probe.get("/api/v1/probe/gadgets", headers=carol)) == [world.gadgets["a"]]
    in_b = carol | {"X-Mosaic-Company": str(world.company_b)}
    assert _ids(probe.get("/api/v1/probe/gadgets", headers=in_b)) == [world.gadgets["b"]]
    in_both = carol | {"X-Mosaic-Company": f"{world.company_a}, {world.company_b}"}
    assert _ids(probe.get("/api/v1/probe/gadgets", headers=in_both)) == sorted(
        world.gadgets.values()
    )
    me = probe.get("/api/v1/auth/me", headers=in_both).get_json()
    assert me["company_id"] == world.company_a and me["company_ids"] == sorted(
        [world.company_a, world.company_b]
    )
    created = probe.post("/api/v1/probe/gadgets", headers=carol | {"X-Mosaic-Company": str(world.company_b)},
                         json={"name": "in B"})  # fmt: skip
    assert created.get_json()["company_id"] == world.company_b
    alice = headers_for(probe, "alice")
    refused = probe.get(
        "/api/v1/probe/gadgets", headers=alice | {"X-Mosaic-Company": str(world.company_b)}
    )
    assert refused.status_code == 403 and refused.mimetype == "application/problem+json"
    both = f"{world.company_a},{world.company_b}"
    assert (
        probe.get("/api/v1/probe/gadgets", headers=alice | {"X-Mosaic-Company": both}).status_code
        == 403
    )
    for bad in ("abc", "-1", "1; DROP TABLE x", "99999999999999999999999", "", ",", "1,,2"):
        response = probe.get("/api/v1/probe/gadgets", headers=alice | {"X-Mosaic-Company": bad})
        assert response.status_code in (400, 403), bad
        assert response.mimetype == "application/problem+json"


def test_underprivileged_user_gets_403_on_every_verb(probe, world):
    dave = headers_for(probe, "dave")  # company A, no group
    alice = headers_for(probe, "alice")  # testkit user: no delete
    target = f"/api/v1/probe/gadgets/{world.gadgets['a']}"
    assert probe.get("/api/v1/probe/gadgets", headers=dave).status_code == 403
    assert probe.get(target, headers=dave).status_code == 403
    assert probe.post("/api/v1/probe/gadgets", headers=dave, json={"name": "x"}).status_code == 403
    assert probe.patch(target, headers=dave, json={"name": "x"}).status_code == 403
    assert probe.delete(target, headers=dave).status_code == 403
    assert probe.delete(target, headers=alice).status_code == 403


def test_anonymous_gets_401_on_every_verb(probe, world):
    target = f"/api/v1/probe/gadgets/{world.gadgets['a']}"
    for method, url in [("GET", "/api/v1/probe/gadgets"), ("GET", target), ("POST", "/api/v1/probe/gadgets"),
                        ("PATCH", target), ("DELETE", target)]:  # fmt: skip
        assert probe.open(url, method=method, json={}).status_code == 401


# --------------------------------------------------------------------------- generated resource

GADGETS = "/api/v1/testkit/gadgets/"


def test_generated_resource_never_crosses_companies(client, world, db_session):
    """The same attacks through the real generated REST resource and pages."""
    Gadget, _ = models()
    carol_a = headers_for(client, "carol", world.company_a)  # manager: every permission
    other = world.gadgets["b"]
    listed = client.get(GADGETS, headers=carol_a).get_json()
    assert [i["id"] for i in listed["items"]] == [world.gadgets["a"]] and listed["total"] == 1
    assert client.get(f"{GADGETS}?q=Beta", headers=carol_a).get_json()["total"] == 0
    assert client.get(f"{GADGETS}{other}", headers=carol_a).status_code == 404
    assert client.get(f"{GADGETS}{other}/history", headers=carol_a).status_code == 404
    patch = client.patch(f"{GADGETS}{other}", headers=carol_a, json={"name": "pwned", "version": 1})
    assert patch.status_code == 404
    assert client.post(f"{GADGETS}{other}/polish", headers=carol_a, json={}).status_code == 404
    assert client.post(f"{GADGETS}{other}/archive", headers=carol_a, json={}).status_code == 404
    assert client.delete(f"{GADGETS}{other}", headers=carol_a).status_code == 404
    export = client.get("/testkit/gadgets/export.csv", headers=carol_a)
    assert export.status_code == 200
    assert "Alpha gadget" in export.get_data(as_text=True)
    assert "Beta gadget" not in export.get_data(as_text=True)
    created = client.post(GADGETS, headers=carol_a, json={"name": "made in A", "price": "1.00"})
    assert created.status_code == 201
    imported = client.post(
        f"{GADGETS}import", headers=carol_a | {"Content-Type": "text/csv"},
        data="name,price\nimported,2.00\n",
    )  # fmt: skip
    assert imported.status_code in (200, 201), imported.get_json()
    with unscoped():
        db_session.expire_all()
        beta = db_session.get(Gadget, other)
        assert beta.name == "Beta gadget" and not beta.archived
        for name in ("made in A", "imported"):
            row = db_session.scalar(select(Gadget).where(Gadget.name == name))
            assert row.company_id == world.company_a and row.created_by_id == world.users["carol"]
