"""The generated web pages of the testkit gadgets, through the Flask test client."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from tests.core.resources_support import API, WEB, csrf_from, login, make_gadgets, web_login

PASSWORD = "Quiet-Harbor-2024"


@pytest.fixture
def browser_client(client):
    """The test client, logged in through the login form (cookies + CSRF token)."""
    web_login(client)
    return client


@pytest.fixture
def api(app, db_session):
    """A second client for API calls (the browser client's cookies would ask for CSRF)."""
    client = app.test_client()
    client.headers_ = login(client)
    return client


def token(client, url: str = WEB + "new") -> str:
    return csrf_from(client.get(url).get_data(as_text=True))


def html(response) -> str:
    return response.get_data(as_text=True)


def test_anonymous_visitors_are_sent_to_the_login_page(client, api):
    for url in (
        WEB,
        WEB + "new",
        WEB + "1",
        WEB + "1/delete",
        WEB + "import",
        WEB + "export.csv",
        "/api-docs",
    ):
        response = client.get(url)
        assert response.status_code == 302, url
        assert "/login" in response.headers["Location"]


def test_list_shows_columns_search_filters_sorting_and_pagination(browser_client, api):
    client = browser_client
    make_gadgets(api, api.headers_, 55, parts=0)
    page = client.get(WEB)
    text = html(page)
    assert page.status_code == 200
    assert "Showing 1–50 of 55" in text and "Gadget 000" in text and "Gadget 050" not in text
    assert 'name="q"' in text and 'name="price__gte"' in text and 'name="created_at__lte"' in text
    assert "Export CSV" in text and "Import CSV" in text and "New gadget" in text
    assert 'aria-sort="ascending"' in text  # default sort: name
    second = html(client.get(WEB + "?offset=50"))
    assert "Showing 51–55 of 55" in second and "Gadget 054" in second
    desc = html(client.get(WEB + "?sort=-price&price__gte=&q="))  # empty inputs are ignored
    assert desc.index("Gadget 054") < desc.index("Gadget 053")
    assert 'aria-sort="descending"' in desc
    found = html(client.get(WEB + "?q=Gadget+007"))
    assert "Showing 1–1 of 1" in found


def test_a_bad_filter_on_a_page_is_explained_not_a_crash(browser_client):
    response = browser_client.get(WEB + "?price__gte=cheap")
    assert response.status_code == 400
    assert "Invalid value for &#39;price__gte&#39;" in html(response)


def test_untrusted_data_is_escaped_everywhere(browser_client, api):
    client = browser_client
    evil = '<script>alert("x")</script>'
    gadget = api.post(
        API, json={"name": evil, "notes": evil, "parts": [{"label": evil}]}, headers=api.headers_
    ).get_json()
    for url in (WEB, f"{WEB}{gadget['id']}", f"{WEB}{gadget['id']}/delete", f"{WEB}?q={evil}"):
        text = html(client.get(url))
        assert "<script>alert" not in text, url
        assert "&lt;script&gt;" in text, url


def test_create_shows_inline_errors_then_creates(browser_client, api):
    client = browser_client
    csrf = token(client)
    bad = client.post(
        WEB + "new", data={"csrf_token": csrf, "name": "", "price": "-1", "currency": "EUR"}
    )
    assert bad.status_code == 422
    text = html(bad)
    assert "Please correct the errors below." in text
    assert 'aria-invalid="true"' in text and "Missing data for required field." in text
    assert 'href="#f-name"' in text
    ok = client.post(
        WEB + "new",
        data={"csrf_token": csrf, "name": "Clock", "price": "12", "currency": "USD", "notes": "",
              "parts-0-label": "Hand", "parts-1-label": ""},
    )  # fmt: skip
    assert ok.status_code == 302
    record = client.get(ok.headers["Location"])
    assert "Gadget &#39;Clock&#39; created." in html(record)
    body = api.get(API + "?q=Clock", headers=api.headers_).get_json()["items"][0]
    assert (
        body["currency"] == "USD"
        and body["notes"] is None
        and [p["label"] for p in body["parts"]] == ["Hand"]
    )


def test_forms_without_the_csrf_token_are_refused(browser_client):
    response = browser_client.post(WEB + "new", data={"name": "Sneaky"})
    assert response.status_code == 403


def test_edit_saves_lines_and_explains_a_conflict(browser_client, api):
    client, headers = browser_client, api.headers_
    gadget = make_gadgets(api, headers, 1, parts=2)[0]
    url = f"{WEB}{gadget['id']}"
    csrf = token(client, url)
    first, second = gadget["parts"]
    form = {
        "csrf_token": csrf, "version": "1", "name": "Renamed", "price": "10.00", "currency": "EUR", "notes": "",
        "parts-0-id": str(first["id"]), "parts-0-label": "first, edited",
        "parts-1-id": str(second["id"]), "parts-1-label": second["label"], "parts-1-remove": "1",
        "parts-2-label": "third",
    }  # fmt: skip
    saved = client.post(url, data=form)
    assert saved.status_code == 302, html(saved)[:2000]
    body = api.get(f"{API}{gadget['id']}", headers=headers).get_json()
    assert body["name"] == "Renamed" and body["version"] == 2
    assert [p["label"] for p in body["parts"]] == ["first, edited", "third"]
    stale = client.post(url, data={**form, "name": "Mine", "price": "99"})
    assert stale.status_code == 409
    text = html(stale)
    assert "Someone else saved this gadget while you were editing it" in text
    assert "not saved" in text and "99" in text  # my value is shown beside the current one
    assert 'name="version" value="2"' in text  # the form now holds the current version
    assert api.get(f"{API}{gadget['id']}", headers=headers).get_json()["name"] == "Renamed"


def test_edit_validation_errors_keep_what_was_typed(browser_client, api):
    client = browser_client
    gadget = make_gadgets(api, api.headers_, 1, parts=0)[0]
    url = f"{WEB}{gadget['id']}"
    response = client.post(
        url,
        data={
            "csrf_token": token(client, url),
            "version": "1",
            "name": "Keep me",
            "price": "1.234",
            "currency": "EUR",
        },
    )
    assert response.status_code == 422
    text = html(response)
    assert (
        "At most 2 decimal places." in text
        and 'value="Keep me"' in text
        and 'value="1.234"' in text
    )


def test_delete_asks_then_deletes_or_explains_why_not(browser_client, db_session, api):
    client = browser_client
    gadget = make_gadgets(api, api.headers_, 1)[0]
    url = f"{WEB}{gadget['id']}/delete"
    confirm = client.get(url)
    assert confirm.status_code == 200 and "cannot be undone" in html(confirm)
    done = client.post(url, data={"csrf_token": token(client, url)})
    assert done.status_code == 302 and done.headers["Location"].endswith(WEB)
    assert "Gadget &#39;Gadget 000&#39; deleted." in html(client.get(WEB))
    assert client.get(f"{WEB}{gadget['id']}").status_code == 404


def test_actions_run_from_buttons_and_confirmation_pages(browser_client, api):
    client = browser_client
    gadget = make_gadgets(api, api.headers_, 1, parts=0)[0]
    view = f"{WEB}{gadget['id']}"
    text = html(client.get(view))
    assert "Polish…" in text and f'action="{view}/archive"' in text
    form_page = client.get(f"{view}/polish")
    assert form_page.status_code == 200 and 'name="times"' in html(form_page)
    bad = client.post(f"{view}/polish", data={"csrf_token": token(client, view), "times": "0"})
    assert bad.status_code == 422 and "greater than or equal to 1" in html(bad)
    ok = client.post(f"{view}/polish", data={"csrf_token": token(client, view), "times": "2"})
    assert ok.status_code == 302
    assert "Polished ×2" in html(client.get(view))
    archived = client.post(f"{view}/archive", data={"csrf_token": token(client, view)})
    assert archived.status_code == 302
    again = client.post(
        f"{view}/archive", data={"csrf_token": token(client, view)}, follow_redirects=True
    )
    assert "does not apply" in html(again)


def test_business_rule_refusal_is_flashed(browser_client, api):
    client = browser_client
    gadget = api.post(API, json={"name": "Free"}, headers=api.headers_).get_json()
    view = f"{WEB}{gadget['id']}"
    response = client.post(
        f"{view}/polish",
        data={"csrf_token": token(client, view), "times": "1"},
        follow_redirects=True,
    )
    assert "A gadget without a price cannot be polished." in html(response)


def test_import_page_reports_line_numbers_and_imports(browser_client, api):
    client = browser_client
    url = WEB + "import"
    page = client.get(url)
    assert page.status_code == 200 and "<code>name</code> *" in html(page)
    csrf = csrf_from(html(page))
    bad = io.BytesIO(b"name,price\nOk,1\n,2\nAlso ok,3\n")
    refused = client.post(
        url, data={"csrf_token": csrf, "file": (bad, "g.csv")}, content_type="multipart/form-data"
    )
    assert refused.status_code == 422
    assert "Nothing was imported" in html(refused) and "<td>3</td>" in html(refused)
    dry = client.post(url, data={"csrf_token": csrf, "dry_run": "1", "file": (io.BytesIO(b"name\nA\nB\n"), "g.csv")},
                      content_type="multipart/form-data")  # fmt: skip
    assert dry.status_code == 200 and "2 row(s) would be created" in html(dry)
    assert api.get(API + "?q=Also", headers=api.headers_).get_json()["total"] == 0
    skipped = client.post(url, data={"csrf_token": csrf, "skip_errors": "1", "file": (io.BytesIO(b"name,price\nOk,1\n,2\n"), "g.csv")},
                          content_type="multipart/form-data")  # fmt: skip
    assert skipped.status_code == 200 and "1 created, 1 row(s) with errors skipped" in html(skipped)
    done = client.post(url, data={"csrf_token": csrf, "file": (io.BytesIO(b"name,price\nImported,4\n"), "g.csv")},
                       content_type="multipart/form-data")  # fmt: skip
    assert done.status_code == 302
    assert "1 created" in html(client.get(WEB))
    none = client.post(url, data={"csrf_token": csrf}, content_type="multipart/form-data")
    assert none.status_code == 400


def test_export_button_downloads_the_filtered_list(browser_client, api):
    client = browser_client
    make_gadgets(api, api.headers_, 3, parts=1)
    text = html(client.get(WEB + "?price__gte=11"))
    assert 'href="/testkit/gadgets/export.csv?price__gte=11"' in text
    export = client.get(WEB + "export.csv?price__gte=11&sort=-price")
    assert export.status_code == 200 and export.mimetype == "text/csv"
    rows = export.get_data(as_text=True).splitlines()
    assert len(rows) == 3 and "Gadget 002" in rows[1]


def test_read_only_users_see_values_not_forms(client, db_session, api):
    from core import identity
    from core.models import Company, Group, Permission

    company = db_session.scalar(select(Company).order_by(Company.id))
    group = Group(addon="testkit", key="reader", label="Readers")
    group.permissions.append(
        db_session.scalar(select(Permission).where(Permission.name == "testkit.gadget.read"))
    )
    db_session.add(group)
    identity.create_user(
        db_session,
        "reader@example.com",
        PASSWORD,
        companies=[company],
        company=company,
        groups=[group],
    )
    db_session.commit()
    gadget = make_gadgets(api, api.headers_, 1)[0]
    web_login(client, "reader@example.com", PASSWORD)
    listing = html(client.get(WEB))
    assert "Gadget 000" in listing and "New gadget" not in listing and "Import CSV" not in listing
    view = client.get(f"{WEB}{gadget['id']}")
    text = html(view)
    assert view.status_code == 200
    assert (
        "<dl" in text
        and 'name="name"' not in text
        and "Delete" not in text
        and "Polish" not in text
    )
    assert client.get(WEB + "new").status_code == 403
    post = client.post(f"{WEB}{gadget['id']}", data={"csrf_token": csrf_from(text), "name": "x"})
    assert post.status_code == 403


def test_api_reference_page_lists_generated_and_custom_routes(browser_client, api):
    text = html(browser_client.get("/api-docs"))
    assert "/api/v1/testkit/gadgets/{record_id}" in text and "/api/v1/testkit/ping" in text
    assert (
        "List gadgets" in text and "price__gte" in text and "Liveness of the testkit addon" in text
    )
    assert "<script" not in text


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("owner_id", "Owner"),
        ("created_at", "Created at"),
        ("tags.name", "Tags"),
        ("parts.label", "Parts"),
        ("addresses.country", "Addresses: country"),
        ("account.is_customer", "Account: is customer"),
    ],
)
def test_filter_labels_read_like_words(name, label):
    from core.resources.pages import filter_label

    assert filter_label(name) == label
