"""A person at the generated gadget pages: log in, create (with a mistake), edit, delete, import."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import expect

from tests.e2e.conftest import log_in

LIST = "/testkit/gadgets/"


def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:6]}"


def test_create_see_validation_error_edit_and_delete(page):
    log_in(page, next_path=LIST)
    expect(page.get_by_role("heading", name="Gadgets", level=1)).to_be_visible()

    page.get_by_role("link", name="New gadget").click()
    page.get_by_label("Price").fill("19.99")
    page.get_by_role("button", name="Create").click()
    # server-side validation: the summary links to the field, the field says what is wrong
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("Name: Missing data for required field.")
    expect(page.get_by_label("Name")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Price")).to_have_value("19.99")  # what was typed is kept

    name = unique("Desk lamp")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Label (line 1)").fill("Bulb")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("status").first).to_contain_text(f"Gadget '{name}' created.")
    expect(page.get_by_role("heading", name=name, level=1)).to_be_visible()
    expect(page.get_by_label("Label (line 1)")).to_have_value("Bulb")

    page.get_by_label("Price").fill("24.50")
    page.get_by_label("Notes", exact=True).fill("Brass finish")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").first).to_contain_text("saved")
    expect(page.get_by_label("Price")).to_have_value("24.50")
    history = page.locator("section.history")
    expect(history).to_contain_text("Update")
    expect(history).to_contain_text("19.99")
    expect(history).to_contain_text("24.50")

    page.get_by_role("link", name="Delete").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Delete gadget “{name}”?")
    page.get_by_role("button", name="Delete").click()
    expect(page).to_have_url(re.compile(r"/testkit/gadgets/$"))
    expect(page.get_by_role("status").first).to_contain_text(f"Gadget '{name}' deleted.")
    page.get_by_label("Search", exact=True).fill(name)
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("table.records")).to_contain_text("Nothing matches")


def test_import_a_csv_file_then_find_sort_and_export(page, tmp_path):
    batch = uuid.uuid4().hex[:6]
    csv_file = tmp_path / "gadgets.csv"
    csv_file.write_text(
        f'name,price,currency,notes\nKettle {batch},35.00,EUR,\nToaster {batch},22.5,USD,"two\nlines"\n',
        encoding="utf-8",
    )
    bad_file = tmp_path / "bad.csv"
    bad_file.write_text(f"name,price\nGood {batch},1\n,2\nBad {batch},lots\n", encoding="utf-8")
    log_in(page, next_path=LIST)
    page.get_by_role("link", name="Import CSV").click()

    # a file with errors: nothing imported, every error with its line number
    page.get_by_label("CSV file").set_input_files(str(bad_file))
    page.get_by_role("button", name="Import").click()
    result = page.locator("#import-result")
    expect(result).to_contain_text("Nothing was imported")
    expect(result.locator("tbody tr")).to_have_count(2)
    expect(result.locator("tbody tr").first).to_contain_text("3")
    expect(result).to_contain_text("Not a valid number")

    page.get_by_label("CSV file").set_input_files(str(csv_file))
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_role("status").first).to_contain_text("2 created")

    page.get_by_label("Search", exact=True).fill(batch)
    page.get_by_role("button", name="Apply").click()
    rows = page.locator("table.records tbody tr")
    expect(rows).to_have_count(2)
    page.get_by_role("link", name=re.compile("^Price")).click()  # sort ascending by price
    expect(rows.first).to_contain_text("Toaster")
    page.get_by_role("link", name=re.compile("^Price")).click()  # and descending
    expect(rows.first).to_contain_text("Kettle")
    expect(page.locator("th[aria-sort=descending]")).to_contain_text("Price")

    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    exported = download.value.path().read_text(encoding="utf-8")
    assert (
        f"Kettle {batch}" in exported and f"Toaster {batch}" in exported and "Good" not in exported
    )


def test_an_edit_conflict_is_explained(page, browser, live_server):
    log_in(page, next_path=LIST)
    name = unique("Shared")
    page.goto(LIST + "new")
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", name=name, level=1)).to_be_visible()
    record_url = page.url

    other = page.context.new_page()  # same user, second tab: saves first
    other.goto(record_url)
    other.get_by_label("Price").fill("5")
    other.get_by_role("button", name="Save").click()
    expect(other.get_by_role("status").first).to_contain_text("saved")

    page.get_by_label("Price").fill("7")
    page.get_by_role("button", name="Save").click()
    conflict = page.locator("#conflict")
    expect(conflict).to_contain_text("Someone else saved this gadget")
    expect(conflict).to_contain_text("not saved")
    expect(conflict.locator("tbody tr")).to_contain_text(["Price"])
    expect(page.get_by_label("Price")).to_have_value("5.00")  # the form shows the current values


def test_actions_and_keyboard_use(page):
    log_in(page, next_path=LIST)
    name = unique("Polishable")
    page.goto(LIST + "new")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Price").fill("3")
    page.keyboard.press("Enter")  # submitting with the keyboard
    expect(page.get_by_role("heading", name=name, level=1)).to_be_visible()

    page.get_by_role("link", name="Polish…").click()
    page.get_by_label("Times").fill("2")
    page.get_by_role("button", name="Polish").click()
    expect(page.get_by_role("status").first).to_contain_text("Polish: done.")
    expect(page.get_by_label("Notes", exact=True)).to_have_value("Polished ×2")

    page.get_by_role("button", name="Archive").click()
    expect(page.get_by_role("status").first).to_contain_text("Archive: done.")
    expect(page.get_by_role("button", name="Archive")).to_have_count(0)  # no longer applies

    page.goto(LIST)
    page.keyboard.press("Tab")
    expect(page.locator(".skip-link")).to_be_focused()
