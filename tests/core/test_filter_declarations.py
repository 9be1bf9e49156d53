"""Filters declared with ``Filter``: values normalised before they are compared, closed choices.

The testkit ``Gadget`` carries a code-like column (``currency``, ``String(3)``, stored as
``EUR``); the resources here are declared on it for the test. The REST and page doors are
tested on a shipped addon (``tests/addons/contacts/test_filter_choices.py``).
"""

from __future__ import annotations

from typing import Any

import pytest

from core.resources import Resource, ResourceError
from core.resources.declaration import Filter
from core.resources.openapi_ops import list_parameters
from core.resources.query import QueryError, parse_list_params, run_list
from tests.core.resources_support import login, make_gadgets, models


@pytest.fixture(autouse=True)
def _testkit_installed(app) -> None:
    """The fixture addon's modules are importable once the app has loaded the addons."""


def _gadgets(**filters: Any) -> Resource:
    gadget_cls, _part_cls = models()
    from testkit.schemas import GadgetSchema  # the registry imported the fixture addon

    return Resource(
        name="gadgets", model=gadget_cls, schema=GadgetSchema, permission="testkit.gadget",
        filters=filters, sort=["name", "id"],
    )  # fmt: skip


def _strict_currency(text: str) -> str:
    """A callable normaliser: three letters, stored in upper case."""
    if len(text) != 3 or not text.isalpha():
        raise ValueError(f"'{text}' is not a currency code (e.g. EUR).")
    return text.upper()


CURRENCY = Filter(normalise="upper", choices=[("EUR", "Euro"), ("USD", "US dollar")])


# --------------------------------------------------------------------------- declaration


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (Filter(normalise="title"), "normalise 'title' is unknown; use upper, lower or a callable"),
        (Filter(normalise=42), "normalise must be a name or a callable"),  # type: ignore[arg-type]
        (Filter("text", choices=["EUR"]), "choices need kind 'eq', not 'text'"),
        (Filter("text", choices=lambda s: []), "choices need kind 'eq', not 'text'"),
        (Filter(choices=[]), "choices are empty"),
        (Filter(choices="EUR"), "choices must be a list or a callable"),
        (Filter(normalise="upper", choices=["eur"]), "choice 'eur' is not in the stored form 'EUR'"),
        (Filter(choices=["EUR", "USD", "EUR"]), "choice 'EUR' is given twice"),
        (Filter(choices=["EURO"]), "choice 'EURO' is longer than the column (3)"),
        (Filter(choices=[978]), "choice 978 is not a str like its column"),
        (Filter(choices=[("EUR",)]), "choice ('EUR',) must be a value or a (value, label) pair"),
        (Filter(choices=[("EUR", 1)]), "must be a value or a (value, label) pair"),
        (Filter(normalise=_strict_currency, choices=["EU1"]), "choice 'EU1' is refused: 'EU1' is not a currency"),
        (Filter("fuzzy"), "filter 'currency' has kind 'fuzzy'"),
        (Filter("text", match=lambda c, v: c == v), "match must be a callable, on a filter of kind 'eq'"),
        (Filter(match="prefix"), "match must be a callable, on a filter of kind 'eq'"),  # type: ignore[arg-type]
        (3, "filter 'currency' must be a kind (eq, range, text) or a Filter, not 3"),
    ],
)  # fmt: skip
def test_a_bad_filter_declaration_is_refused_when_declared(spec, message):
    with pytest.raises(ResourceError) as caught:
        _gadgets(currency=spec)
    assert "resource 'gadgets'" in str(caught.value)
    assert message in str(caught.value)


def test_normalise_is_for_text_columns_and_choices_follow_the_column_type():
    with pytest.raises(ResourceError, match="normalise applies to text columns, not Decimal"):
        _gadgets(price=Filter("range", normalise="upper"))
    with pytest.raises(ResourceError, match="choice True is not a int"):
        _gadgets(id=Filter(choices=[1, True]))
    ids = _gadgets(id=Filter(choices=[(1, "One"), (2, "Two")]))
    assert ids.filter_specs["id"].values == frozenset({1, 2})


def test_plain_declarations_read_as_before():
    resource = _gadgets(currency="eq", name="text", price="range")
    assert resource.all_filters == {
        "currency": "eq",
        "name": "text",
        "price": "range",
        "archived": "eq",
    }
    assert all(not spec.reads_values for spec in resource.filter_specs.values())
    # no normalising: the text is compared as given, as it always was
    assert parse_list_params(resource, {"currency": " eur "}).filters == [("currency", "", " eur ")]


# --------------------------------------------------------------------------- reading values


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"currency": "EUR"}, ("currency", "", "EUR")),
        ({"currency": "eur"}, ("currency", "", "EUR")),
        ({"currency": "  Eur "}, ("currency", "", "EUR")),
        ({"currency__in": "eur, usd"}, ("currency", "in", ["EUR", "USD"])),
    ],
)
def test_values_are_normalised_before_they_are_compared(args, expected):
    assert parse_list_params(_gadgets(currency=CURRENCY), args).filters == [expected]


@pytest.mark.parametrize(
    ("args", "param", "message"),
    [
        ({"currency": "gbp"}, "currency", "'gbp' is not one of EUR, USD."),
        ({"currency__in": "EUR,gbp"}, "currency__in", "'gbp' is not one of EUR, USD."),
        ({"currency": "   "}, "currency", "give a value."),
        ({"currency__in": "EUR, ,USD"}, "currency__in", "give a value."),
        ({"currency": "x" * 201}, "currency", "at most 200 characters"),
    ],
)
def test_a_value_outside_the_choices_is_a_query_error_naming_the_parameter(args, param, message):
    with pytest.raises(QueryError) as caught:
        parse_list_params(_gadgets(currency=CURRENCY), args)
    error = caught.value
    assert error.message.startswith(f"Invalid value for '{param}': ")
    assert message in error.message and message in error.errors[param][0]
    assert list(error.errors) == [param]


def test_the_refusal_lists_the_allowed_values_even_when_there_are_many():
    codes = [f"A{chr(65 + i)}{chr(65 + j)}" for i in range(3) for j in range(10)][:30]
    resource = _gadgets(currency=Filter(normalise="upper", choices=[c[1:] for c in codes]))
    with pytest.raises(QueryError) as caught:
        parse_list_params(resource, {"currency": "zz"})
    assert "'zz' is not one of the 30 accepted values (such as AA, AB, AC" in caught.value.message
    assert caught.value.extra["allowed_values"][:2] == ["AA", "AB"]
    assert len(caught.value.extra["allowed_values"]) == 30


def test_a_callable_normaliser_reads_values_and_its_message_is_the_error():
    resource = _gadgets(currency=Filter(normalise=_strict_currency))
    assert parse_list_params(resource, {"currency": " chf"}).filters == [("currency", "", "CHF")]
    with pytest.raises(QueryError) as caught:
        parse_list_params(resource, {"currency__in": "chf,euro"})
    assert caught.value.errors == {"currency__in": ["'euro' is not a currency code (e.g. EUR)."]}


def test_choices_on_an_integer_column_are_checked_after_the_type():
    resource = _gadgets(id=Filter(choices=[(1, "One"), (2, "Two")]))
    assert parse_list_params(resource, {"id__in": " 2 ,1"}).filters == [("id", "in", [2, 1])]
    with pytest.raises(QueryError, match="'3' is not one of 1, 2"):
        parse_list_params(resource, {"id": "3"})
    with pytest.raises(QueryError, match="expected a whole number"):
        parse_list_params(resource, {"id": "two"})


def test_normalised_filters_find_the_stored_rows(client, db_session):
    headers = login(client)
    make_gadgets(client, headers, 2, parts=0, currency="EUR")
    make_gadgets(client, headers, 1, parts=0, currency="USD")
    resource = _gadgets(currency=CURRENCY)
    for args, count in [({"currency": "eur"}, 2), ({"currency": " usd "}, 1),
                        ({"currency__in": "Usd,eur"}, 3)]:  # fmt: skip
        result = run_list(db_session, resource, parse_list_params(resource, args))
        assert result.total == count, args
    plain = _gadgets(currency="eq")
    assert run_list(db_session, plain, parse_list_params(plain, {"currency": "eur"})).total == 0


def test_match_compares_each_value_its_own_way(client, db_session):
    """``Filter(match=...)``: ``?f=v`` and every value of ``?f__in=`` use the declared condition."""
    headers = login(client)
    make_gadgets(client, headers, 2, parts=0, currency="EUR")
    make_gadgets(client, headers, 1, parts=0, currency="USD")
    make_gadgets(client, headers, 1, parts=0, currency="CHF")
    first_letter = Filter(
        normalise="upper", match=lambda column, value: column.like(f"{value[0]}%")
    )
    resource = _gadgets(currency=first_letter)
    for args, count in [({"currency": "eux"}, 2), ({"currency": "UZZ"}, 1),
                        ({"currency__in": "Exx,Cxx"}, 3), ({"currency": "GBP"}, 0)]:  # fmt: skip
        result = run_list(db_session, resource, parse_list_params(resource, args))
        assert result.total == count, args


# --------------------------------------------------------------------------- OpenAPI


def test_openapi_lists_closed_choices_as_an_enum_and_says_how_values_are_read():
    resource = _gadgets(
        currency=Filter(normalise="upper", choices=["EUR", "USD"], help="An ISO 4217 code."),
        name=Filter("text", normalise="lower"),
    )
    params = {p["name"]: p for p in list_parameters(resource)}
    assert params["currency"]["schema"] == {
        "type": "string",
        "maxLength": 200,
        "enum": ["EUR", "USD"],
    }
    assert params["currency__in"]["schema"]["pattern"] == "^(EUR|USD)(,(EUR|USD))*$"
    for name in ("currency", "currency__in"):
        text = params[name]["description"]
        assert "Read in upper case" in text and "Only the values listed" in text, text
        assert text.endswith("An ISO 4217 code."), text
    assert "enum" not in params["name"]["schema"]
    assert "Read in lower case" in params["name"]["description"]
    assert "Read in" not in params["name__contains"]["description"]
    plain = {p["name"]: p for p in list_parameters(_gadgets(currency="eq"))}
    assert plain["currency"]["description"] == "currency equals."
