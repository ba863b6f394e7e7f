"""A typed number that is not a phone number ("abc", "123", 15 digits) is refused in a
contact's and a company's create and edit, over the API (422 naming the field, in the
user's language) and in the contact forms; a number an import kept as entered stays,
flagged, shown as a warning without a Call button."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from crm.csv_import import ContactImporter
from tests.web.conftest import Api

BAD = ["abc", "123", "123456789012345"]


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


async def refused(response: httpx.Response, value: str) -> str:
    assert response.status_code == 422, response.text
    error = response.json()
    assert (error["code"], error["field"], error["value"]) == ("invalid", "phones", value), error
    return str(error["message"])


async def test_the_api_refuses_what_is_not_a_number_naming_the_field(api: Api) -> None:
    async with api.signed_in("ivan", "supervisor") as (client, _):
        for value in BAD:
            message = await refused(
                await client.post("/api/contacts", json={"name": "Иван", "phones": [value]}),
                value,
            )
            assert message.startswith("Phones: “" + value + "” is not a phone number"), message
            await refused(
                await client.post("/api/companies", json={"name": "ООО", "phones": [value]}),
                value,
            )
        client.cookies.set("lang", "ru")
        message = await refused(
            await client.post("/api/contacts", json={"name": "Иван", "phones": ["abc"]}), "abc"
        )
        assert message.startswith("Телефоны: «abc» — не номер телефона"), message
        assert (await client.get("/api/contacts")).json()["items"] == []  # nothing saved

        made = await client.post(
            "/api/contacts", json={"name": "Иван", "phones": ["8 (916) 555-01-23"]}
        )
        assert made.status_code == 201, made.text
        contact = made.json()
        edit = {"version": contact["version"], "phones": ["+79165550123", "12345"]}
        await refused(await client.patch(f"/api/contacts/{contact['id']}", json=edit), "12345")
        company = (
            await client.post("/api/companies", json={"name": "ООО", "phones": ["+74951234567"]})
        ).json()
        edit = {"version": company["version"], "phones": ["x"]}
        await refused(await client.patch(f"/api/companies/{company['id']}", json=edit), "x")


async def test_the_contact_form_refuses_it_in_the_users_language(api: Api) -> None:
    async with api.signed_in("olga") as (client, _):
        client.cookies.set("lang", "ru")
        page = await client.get("/contacts/new")
        form = {
            "csrf_token": csrf_of(page.text),
            "name": "Ольга",
            "phones": "8 916 555-01-23\n123",
            "emails": "",
            "tags": "",
            "custom": "",
        }
        response = await client.post("/contacts/new", data=form)
        assert response.status_code == 422
        assert "Телефоны: «123» — не номер телефона" in response.text
        assert "8 916 555-01-23\n123" in response.text  # what was typed is kept in the form
        form["phones"] = "8 916 555-01-23"
        saved = await client.post("/contacts/new", data=form)
        assert saved.status_code == 303, saved.text


async def test_an_imported_flagged_number_is_kept_and_shown_as_a_warning(
    api: Api, tmp_path: Path
) -> None:
    source = tmp_path / "in.csv"
    source.write_text("name;phone;phone_unverified\nИз файла;+79165550123;12-ab\n", "utf-8")
    report = await ContactImporter(api.services.db).run(source)
    assert report.created == 1 and report.rejected == []
    async with api.signed_in("petr", "supervisor") as (client, _):
        client.cookies.set("lang", "ru")
        contact = (await client.get("/api/contacts")).json()["items"][0]
        assert [(p["raw"], p["valid"]) for p in contact["phones"]] == [
            ("+79165550123", True),
            ("12-ab", False),
        ]
        page = (await client.get(f"/contacts/{contact['id']}")).text
        assert "не номер телефона, сохранён как введён" in page
        assert 'data-call-number="+79165550123"' in page
        assert 'data-call-number="12-ab"' not in page  # no Call button for it
        # Editing the contact keeps the number it already had (nothing stored is lost).
        edit = {"version": contact["version"], "name": "Из файла (2)", "phones": ["12-ab"]}
        kept = await client.patch(f"/api/contacts/{contact['id']}", json=edit)
        assert kept.status_code == 200, kept.text
        assert [p["number"] for p in kept.json()["phones"]] == ["12-ab"]
