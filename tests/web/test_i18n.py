"""Pages in Russian and English: catalogs complete, language chosen per user/cookie/browser."""

from __future__ import annotations

from pathlib import Path

import httpx
from babel.messages.pofile import read_po

from web.i18n import LOCALE_DIR, formatter, negotiate, translations

from .conftest import PASSWORD, Api


def test_every_string_has_a_russian_translation() -> None:
    translated: set[str] = set()
    for po in (LOCALE_DIR / "ru" / "LC_MESSAGES").glob("*.po"):
        with po.open("rb") as handle:
            catalog = read_po(handle, locale="ru")
        translated |= {str(m.id if isinstance(m.id, str) else m.id[0]) for m in catalog if m.string}
    with (LOCALE_DIR / "messages.pot").open("rb") as handle:
        template = read_po(handle)
    wanted = {str(m.id if isinstance(m.id, str) else m.id[0]) for m in template if m.id}
    assert sorted(wanted - translated) == []
    assert translations("ru").gettext("Sign in") == "Войти"
    assert translations("en").gettext("Sign in") == "Sign in"


def test_feature_catalogs_agree_on_shared_strings() -> None:
    """Catalogs are merged (first one wins): a string two features share must read the
    same in both, or a page would show whichever catalog happens to sort first."""
    seen: dict[str, tuple[str, object]] = {}
    clashes = []
    for po in sorted((LOCALE_DIR / "ru" / "LC_MESSAGES").glob("*.po")):
        with po.open("rb") as handle:
            catalog = read_po(handle, locale="ru")
        for message in catalog:
            if not message.id or not message.string:
                continue
            key = str(message.id if isinstance(message.id, str) else message.id[0])
            first = seen.setdefault(key, (po.name, message.string))
            if first[1] != message.string:
                clashes.append((key, first, (po.name, message.string)))
    assert clashes == []


def test_the_catalog_template_lists_every_page_string() -> None:
    pot = (LOCALE_DIR / "messages.pot").read_text(encoding="utf-8")
    for template in Path(LOCALE_DIR.parent / "templates").glob("*.html"):
        text = template.read_text(encoding="utf-8")
        for start in range(len(text)):
            if text.startswith('_("', start):
                message = text[start + 3 : text.index('")', start)]
                assert f'msgid "{message}"' in pot, f"{template.name}: {message!r} (run make i18n)"


def test_negotiation() -> None:
    assert negotiate("en", "ru", "ru") == "en"
    assert negotiate(None, "en", "ru-RU") == "en"
    assert negotiate(None, None, "de-DE,en;q=0.8,ru;q=0.5") == "en"
    assert negotiate(None, None, "fr") == "ru"
    assert negotiate(None, "xx", None) == "ru"


def test_formats() -> None:
    ru = formatter("ru", "RU", "Europe/Moscow")
    en = formatter("en", "RU", "Europe/Moscow")
    assert ru.phone("+74951234567") == "8 (495) 123-45-67"
    assert ru.number(1234567) == "1\xa0234\xa0567"
    assert en.number(1234567) == "1,234,567"
    assert ru.duration(125) == "2:05" and ru.duration(3725) == "1:02:05"
    assert ru.time("2026-11-26T18:29:26+00:00") == "21:29:26"
    assert "2026" in ru.date(1_795_717_766)


async def test_login_page_language_follows_the_browser_then_the_choice(api: Api) -> None:
    async with httpx.AsyncClient(base_url=api.url, timeout=10) as client:
        page = await client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"})
        assert "Sign in" in page.text and 'lang="en"' in page.text
        page = await client.get("/login", headers={"Accept-Language": "ru"})
        assert "Войти" in page.text and 'lang="ru"' in page.text
        token = client.cookies.get("trubka_csrf")
        switched = await client.post(
            "/language", data={"lang": "en", "csrf_token": token, "next": "/login"}
        )
        assert switched.status_code == 303
        page = await client.get("/login", headers={"Accept-Language": "ru"})
        assert "Sign in" in page.text


async def test_a_signed_in_users_language_is_remembered(api: Api) -> None:
    user = await api.user("olga")
    async with httpx.AsyncClient(base_url=api.url, timeout=10) as client:
        await client.post("/api/session", json={"login": "olga", "password": PASSWORD})
        from web.auth import SESSION_COOKIE

        assert client.cookies.get(SESSION_COOKIE)
        page = await client.get("/login")  # any page: the CSRF token for the switch
        token = _csrf_from(page.text)
        response = await client.post("/language", data={"lang": "en", "csrf_token": token})
        assert response.status_code == 303
        assert (await api.crm.users.get(user.id)).language == "en"
        refused = await client.post("/language", data={"lang": "ru", "csrf_token": "forged"})
        assert refused.status_code == 403
        assert (await api.crm.users.get(user.id)).language == "en"


def _csrf_from(html: str) -> str:
    marker = 'name="csrf_token" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]
