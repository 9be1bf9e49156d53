"""List queries cost a fixed number of SQL statements; declarations are checked when written."""

from __future__ import annotations

from decimal import Decimal

import pytest
from marshmallow import Schema, fields

from core.resources import Action, Child, Column, FormField, Resource, ResourceError
from core.resources.query import QueryError, parse_list_params, run_list
from tests.core.resources_support import API, count_statements, login, models


def _fill(db_session, count: int, parts: int = 3) -> None:
    gadget_cls, part_cls = models()
    db_session.add_all(
        gadget_cls(
            name=f"G{i:03d}", price=Decimal(i), company_id=1,
            parts=[part_cls(label=f"p{i}.{j}", company_id=1) for j in range(parts)],
        )
        for i in range(count)
    )  # fmt: skip
    db_session.commit()
    db_session.expunge_all()


def test_a_list_costs_the_same_statements_whatever_the_page_size(client, db, db_session):
    headers = login(client)
    _fill(db_session, 120)
    seen = {}
    for limit in (1, 20, 120):
        with count_statements(db.engine) as statements:
            response = client.get(f"{API}?limit={limit}", headers=headers)
        assert response.status_code == 200
        assert len(response.get_json()["items"]) == limit
        assert all(len(g["parts"]) == 3 for g in response.get_json()["items"])
        seen[limit] = list(statements)
    assert len({len(s) for s in seen.values()}) == 1, {k: len(v) for k, v in seen.items()}
    own = [s for s in seen[120] if "testkit_" in s]
    assert len(own) == 3, own  # the count, the page, the parts of the whole page


def test_the_count_is_only_run_when_the_page_cannot_tell_the_total(client, db, db_session):
    headers = login(client)
    _fill(db_session, 12, parts=0)
    cases = {  # query -> (total, items, whether a count ran)
        "?limit=5": (12, 5, True),  # a full page: more may follow
        "?limit=5&offset=10": (12, 2, False),  # the last page: 10 + 2
        "?limit=50": (12, 12, False),
        "?limit=5&offset=40": (12, 0, True),  # past the end: how far is the end?
    }
    for query, (total, items, counted) in cases.items():
        with count_statements(db.engine) as statements:
            body = client.get(API + query, headers=headers).get_json()
        assert (body["total"], len(body["items"])) == (total, items), query
        assert any("count(" in s.lower() for s in statements) is counted, query


def test_a_search_counts_its_matches_in_the_page_statement(client, db, db_session):
    headers = login(client)
    _fill(db_session, 12, parts=0)
    cases = {  # query -> (total, items, separate count statements)
        "?q=G0&limit=5": (12, 5, 0),  # a full page: the window says how many match
        "?q=G00&limit=5&offset=5": (10, 5, 0),
        "?q=G01&limit=5&sort=-name": (2, 2, 0),
        "?q=nothing-like-it": (0, 0, 0),  # an empty first page: nothing matches
        "?q=G0&limit=5&offset=40": (12, 0, 1),  # past the end: no row to carry the total
    }
    for query, (total, items, counts) in cases.items():
        with count_statements(db.engine) as statements:
            body = client.get(API + query, headers=headers).get_json()
        assert (body["total"], len(body["items"])) == (total, items), query
        own = [s.lower() for s in statements if "testkit_gadget" in s]
        assert len([s for s in own if "over ()" not in s and "count(" in s]) == counts, query
        if items:
            assert any("count(*) over ()" in s for s in own), query


def test_filters_search_and_sort_do_not_add_statements(client, db, db_session):
    headers = login(client)
    _fill(db_session, 30)
    with count_statements(db.engine) as plain:
        client.get(API + "?limit=5", headers=headers)
    with count_statements(db.engine) as busy:
        client.get(
            API + "?limit=5&q=G0&price__gte=1&price__lte=25&sort=-price,name&archived=false",
            headers=headers,
        )
    # a search counts in its page statement (see above): one statement fewer, never more
    assert len(busy) == len(plain) - 1


def test_one_record_and_an_export_cost_a_fixed_number_of_statements(client, db, db_session):
    headers = login(client)
    _fill(db_session, 40)
    items = client.get(API + "?limit=2", headers=headers).get_json()["items"]
    with count_statements(db.engine) as one:
        assert client.get(f"{API}{items[0]['id']}", headers=headers).status_code == 200
    assert len([s for s in one if "testkit_" in s]) == 2  # the gadget, its parts
    with count_statements(db.engine) as small:
        client.get(API + "?format=csv&price__lte=3", headers=headers)
    with count_statements(db.engine) as large:
        client.get(API + "?format=csv", headers=headers)
    assert len(small) == len(large)


def test_many_to_one_columns_are_joined_not_queried_per_row(db, db_session):
    """A list of parts that shows each part's gadget name: one statement for the page."""
    _gadget, part_cls = models()

    class PartOut(Schema):
        id = fields.Integer(dump_only=True)
        label = fields.String()

    parts = Resource(
        name="parts", model=part_cls, schema=PartOut, permission="testkit.gadget",
        columns=["label", Column("gadget.name", label="Gadget")], sort=["label"],
    )  # fmt: skip
    _fill(db_session, 10)
    for limit in (2, 30):
        with count_statements(db.engine) as statements:
            result = run_list(db_session, parts, parse_list_params(parts, {"limit": str(limit)}))
            names = [p.gadget.name for p in result.items]
        assert len(names) == limit and len(statements) == 2  # the count and the page
        db_session.expunge_all()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"nope": "1"}, "Unknown filter 'nope'"),
        ({"sort": "nope"}, "Cannot sort on 'nope'"),
        ({"price__gte": "x"}, "expected a number"),
        ({"price__contains": "1"}, "Unknown filter 'price__contains'"),
        ({"created_at__gte": "2024-13-01"}, "ISO 8601"),
        ({"archived": "2"}, "true or false"),
        ({"currency__in": ",".join(["EUR"] * 101)}, "1 to 100"),
        ({"name__contains": "x" * 201}, "too long"),
    ],
)
def test_parameter_errors_say_what_is_wrong(app, args, message):
    from testkit.api import gadgets

    with pytest.raises(QueryError) as caught:
        parse_list_params(gadgets, args)
    assert message in caught.value.message


def test_parameters_are_parsed_into_typed_filters(app):
    from testkit.api import gadgets

    params = parse_list_params(
        gadgets, [("price__gte", "1.5"), ("sort", "-price,name"), ("q", "  lamp "), ("limit", "7")]
    )
    assert params.filters == [("price", "gte", Decimal("1.5"))]
    assert params.sort == [("price", True), ("name", False)]
    assert params.q == "lamp" and params.limit == 7 and params.offset == 0


# --------------------------------------------------------------------------- declarations


class _Schema(Schema):
    name = fields.String()
    parts = fields.List(fields.Nested(Schema.from_dict({"label": fields.String()})))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"filters": {"colour": "eq"}}, "filters field 'colour' is not a column of Gadget"),
        ({"filters": {"name": "fuzzy"}}, "has kind 'fuzzy'"),
        ({"sort": ["parts"]}, "sort field 'parts' is not a column"),
        ({"search": ["parts.colour"]}, "search 'parts.colour'"),
        ({"columns": ["owner.name"]}, "columns 'owner.name'"),
        ({"form": [FormField("colour")]}, "form field 'colour' is not a field of _Schema"),
        ({"children": [Child("name", _Schema)]}, "child 'name' is not a one-to-many relationship"),
        ({"actions": [Action("history", handler=print)]}, "action name 'history'"),
        (
            {"actions": [Action("tag", handler=print, schema=_Schema, form=["name", "colour"])]},
            "form field 'colour' of action 'tag' is not an input field of its schema",
        ),
        ({"permission": "testkit"}, "permission must look like"),
        ({"name": "Bad Name"}, "name must be lower-case"),
        ({"operations": ("create", "explode")}, "unknown operation 'explode'"),
    ],
)
def test_a_wrong_declaration_fails_when_written(app, kwargs, message):
    gadget_cls, _part = models()
    base = {
        "name": "things",
        "model": gadget_cls,
        "schema": _Schema,
        "permission": "testkit.gadget",
    }
    with pytest.raises(ResourceError) as caught:
        Resource(**{**base, **kwargs})
    assert message in str(caught.value)
