"""The site around the features: /api/docs from local files, the favicon, HTML 404/403."""

from __future__ import annotations

import re

from .conftest import Api


async def test_api_docs_use_only_local_assets_and_they_are_served(api: Api) -> None:
    async with api.client() as client:
        page = await client.get("/api/docs")
        assert page.status_code == 200
        refs = re.findall(r"""(?:src|href)="([^"]+)\"""", page.text)
        assert any(r.endswith("swagger-ui-bundle.js") for r in refs)
        assert any(r.endswith("swagger-ui.css") for r in refs)
        for ref in refs:
            assert ref.startswith("/"), f"{ref} is not served by Trubka"
            asset = await client.get(ref)
            assert asset.status_code == 200, ref
        assert "<script>" not in page.text  # no inline script
        csp = page.headers["content-security-policy"]
        assert "http" not in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp.split("script-src", 1)[1].split(";", 1)[0]
        spec = await client.get("/api/openapi.json")
        assert spec.status_code == 200 and spec.json()["openapi"]


async def test_the_favicon(api: Api) -> None:
    async with api.client() as client:
        icon = await client.get("/favicon.ico")
        assert icon.status_code == 200
        assert icon.headers["content-type"].startswith("image/svg+xml")
        assert icon.content.startswith(b"<svg")
        page = await client.get("/login")
        assert 'rel="icon" href="/static/favicon.svg"' in page.text
        assert (await client.get("/static/favicon.svg")).status_code == 200


async def test_a_browser_gets_an_html_404_in_its_language(api: Api) -> None:
    async with api.client() as client:
        html = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
        ru = await client.get("/nope", headers={**html, "Accept-Language": "ru"})
        assert ru.status_code == 404
        assert ru.headers["content-type"].startswith("text/html")
        assert "Страница не найдена" in ru.text and 'lang="ru"' in ru.text
        assert 'href="/login"' in ru.text
        en = await client.get("/nope", headers={**html, "Accept-Language": "en"})
        assert en.status_code == 404 and "Page not found" in en.text
        # The API and clients asking for JSON keep JSON.
        api_answer = await client.get("/api/nope", headers=html)
        assert api_answer.status_code == 404
        assert api_answer.json()["code"] == "not_found"
        as_json = await client.get("/nope", headers={"Accept": "application/json"})
        assert as_json.status_code == 404 and as_json.json()["code"] == "not_found"


async def test_a_signed_in_user_gets_navigation_on_the_404_page(api: Api) -> None:
    async with api.signed_in("nina", "supervisor") as (client, _user):
        page = await client.get("/contacts/x/y/z", headers={"Accept": "text/html"})
        assert page.status_code == 404
        assert 'href="/reports"' in page.text and 'href="/"' in page.text


async def test_a_browser_gets_html_403_pages_in_its_language(api: Api) -> None:
    async with api.signed_in("vova") as (client, _user):
        html = {"Accept": "text/html", "Accept-Language": "ru"}
        expired = await client.post("/logout", data={"csrf_token": "forged"}, headers=html)
        assert expired.status_code == 403
        assert expired.headers["content-type"].startswith("text/html")
        assert "Форма устарела" in expired.text and 'href="/"' in expired.text
        not_allowed = await client.get("/supervisor", headers=html)
        assert not_allowed.status_code == 403 and "Нет доступа" in not_allowed.text
