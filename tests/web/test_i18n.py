"""Pages in Russian and English: catalogs complete, language chosen per user/cookie/browser."""

from __future__ import annotations

import io
import re
from pathlib import Path

from babel.messages.catalog import Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from web.i18n import LOCALE_DIR, formatter, negotiate, translations

from .conftest import PASSWORD, Api

ROOT = Path(__file__).resolve().parents[2]


def _key(message: Message) -> str:
    return str(message.id if isinstance(message.id, str) else message.id[0])


def _russian() -> dict[str, Message]:
    """Every message of the Russian catalogs (all `.po` files of the language)."""
    messages: dict[str, Message] = {}
    for po in sorted((LOCALE_DIR / "ru" / "LC_MESSAGES").glob("*.po")):
        with po.open("rb") as handle:
            for message in read_po(handle, locale="ru"):
                if message.id:
                    messages.setdefault(_key(message), message)
    return messages


def _untranslated(message: Message | None) -> bool:
    """No entry, an empty translation (or plural form), or one marked fuzzy: the page
    would show English (gettext skips fuzzy entries)."""
    if message is None or message.fuzzy:
        return True
    forms = message.string if isinstance(message.string, tuple) else (message.string,)
    return not all(forms)


def extracted() -> dict[str, list[str]]:
    """Every string `make i18n` extracts, by where it is: the page templates, any folder
    deep (`_()`, `ngettext()`), and the code (`_()`, `gettext()`, and `N_()` for strings
    translated when shown) — with babel.cfg's own method map."""
    with (ROOT / "babel.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    found: dict[str, list[str]] = {}
    for filename, _line, message, _comments, _context in extract_from_dir(
        ROOT,
        method_map,
        options_map,
        keywords={**DEFAULT_KEYWORDS, "N_": None},
        directory_filter=lambda path: Path(path).name not in {".venv", ".git", "node_modules"},
    ):
        key = message if isinstance(message, str) else message[0]
        found.setdefault(key, []).append(filename)
    return found


def test_every_page_and_code_string_has_a_russian_translation() -> None:
    found = extracted()
    # The extraction sees pages in sub-folders and the messages the code marks with N_().
    places = {where for wheres in found.values() for where in wheres}
    assert any(where.startswith("web/templates/panel/") for where in places)
    assert any(where.startswith("web/templates/calls/") for where in places)
    assert any(where.startswith("web/panel/") and where.endswith(".py") for where in places)
    assert len(found) > 300
    russian = _russian()
    missing = sorted(
        f"{where[0]}: {key!r}" for key, where in found.items() if _untranslated(russian.get(key))
    )
    assert missing == [], "run make i18n, then translate these in web/locale/ru/LC_MESSAGES"
    assert translations("ru").gettext("Sign in") == "Войти"
    assert translations("en").gettext("Sign in") == "Sign in"


def test_the_catalog_template_lists_every_string() -> None:
    with (LOCALE_DIR / "messages.pot").open("rb") as handle:
        template = {_key(m) for m in read_po(handle) if m.id}
    assert sorted(set(extracted()) - template) == [], "run make i18n"
    russian = _russian()
    assert sorted(k for k in template if _untranslated(russian.get(k))) == []


def test_every_page_string_is_in_the_catalog_template() -> None:
    """A cross-check of the extraction with a plain search: `_("…")` in every template,
    sub-folders included."""
    pot = (LOCALE_DIR / "messages.pot").read_text(encoding="utf-8")
    listed = {_key(m) for m in read_po(io.StringIO(pot)) if m.id}
    templates = sorted((LOCALE_DIR.parent / "templates").rglob("*.html"))
    assert any(t.parent.name == "panel" for t in templates)
    seen = 0
    for template in templates:
        text = template.read_text(encoding="utf-8")
        for match in re.finditer(r"""\b_\(\s*(["'])(.*?)(?<!\\)\1\s*[,)]""", text, re.S):
            seen += 1
            message = match.group(2)
            assert message in listed, f"{template.name}: {message!r} (run make i18n)"
    assert seen > 300


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
            key = _key(message)
            first = seen.setdefault(key, (po.name, message.string))
            if first[1] != message.string:
                clashes.append((key, first, (po.name, message.string)))
    assert clashes == []


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
    async with api.client() as client:
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
    async with api.client() as client:
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


# --- the scripts and the messages the code produces ---------------------------------------
JS = ROOT / "web" / "static" / "js"
_ENGLISH_LITERAL = re.compile(
    r"""(?:textContent|innerText|title|placeholder|ariaLabel|alt)\s*=\s*(["'])([^"'\n]*?[A-Za-z]{2,}[^"'\n]*?)\1"""
    r"""|setAttribute\(\s*["'](?:aria-label|title|placeholder|alt)["']\s*,\s*(["'])([^"'\n]*?[A-Za-z]{2,}[^"'\n]*?)\3"""
    r"""|\b(?:alert|confirm)\(\s*(["'])([^"'\n]*?[A-Za-z]{2,}[^"'\n]*?)\5"""
)


def test_the_scripts_hold_no_english_and_ask_only_for_words_the_server_sends() -> None:
    """The scripts show no text of their own (every word comes from the server, in the
    page's language), and each key they ask for exists in the server's tables."""
    from web.pages.calls import PLAYER_STRINGS
    from web.pages.supervisor import SCRIPT_STRINGS
    from web.panel.strings import panel_strings

    scripts = sorted(JS.rglob("*.js"))
    assert any(s.parent.name == "panel" for s in scripts) and len(scripts) > 8
    for script in scripts:
        text = script.read_text(encoding="utf-8")
        literals = [m.group(2) or m.group(4) or m.group(6) for m in _ENGLISH_LITERAL.finditer(text)]
        assert literals == [], f"{script.name}: English shown by the script: {literals}"
    panel = set(panel_strings(lambda message: message))
    for script in sorted((JS / "panel").glob("*.js")):
        for key in re.findall(r"""\bt\(\s*["']([a-z_]+\.[a-z_0-9]+)["']""", script.read_text()):
            assert key in panel, f"{script.name}: t({key!r}) has no words on the server"
    for name in ("supervisor.js", "wallboard.js", "live.js"):
        text = (JS / name).read_text(encoding="utf-8")
        for key in re.findall(r"\bS\.([a-z_][a-z_0-9]*)(?![<\w])", text):
            assert key in SCRIPT_STRINGS, f"{name}: S.{key} has no words on the server"
        for prefix in re.findall(r"\bS\[`([a-z_]+)\$\{", text):
            assert any(k.startswith(prefix) for k in SCRIPT_STRINGS), f"{name}: S[`{prefix}…`]"
    player = (JS / "recording-player.js").read_text(encoding="utf-8")
    for key in re.findall(r"\bthis\.t\.([a-z_]+)", player):
        assert key in PLAYER_STRINGS, f"recording-player.js: t.{key}"


def test_messages_produced_by_code_are_russian_for_russian_users() -> None:
    """The strings the code builds messages from (API error texts, validation rules, pause
    reasons, step kinds, deal changes, action results) all have Russian, and the
    validation message names the field and the rule."""
    from types import SimpleNamespace

    from web.action_texts import ACTION_TEXTS
    from web.error_text import DOMAIN_MESSAGES, RULES, validation_message
    from web.labels import AUDIT_WORDS, DEAL_EVENTS, MORE_STEP_KINDS, PAUSE_REASONS

    russian = _russian()
    for table in (RULES, ACTION_TEXTS, PAUSE_REASONS, DEAL_EVENTS, MORE_STEP_KINDS, AUDIT_WORDS):
        for message in table.values():
            assert not _untranslated(russian.get(message)), message
    for message in DOMAIN_MESSAGES:
        assert not _untranslated(russian.get(message)), message
    request = SimpleNamespace(cookies={}, headers={"accept-language": "ru-RU,ru;q=0.9"})
    error = {"type": "string_too_long", "ctx": {"max_length": 10000}}
    assert validation_message(request, error, "body") == "Текст: не больше 10000 символов"  # type: ignore[arg-type]
    english = SimpleNamespace(cookies={}, headers={})
    assert validation_message(english, error, "body") == "Text: at most 10000 characters"  # type: ignore[arg-type]


async def test_api_errors_speak_the_users_language(api: Api) -> None:
    async with api.signed_in("masha") as (client, _user):
        contact = await client.post("/api/contacts", json={"name": "Клиент", "phones": []})
        assert contact.status_code in (200, 201), contact.text
        too_long = {"body": "x" * 10_001, "contact_id": contact.json()["id"]}
        ru = await client.post("/api/notes", json=too_long, headers={"Accept-Language": "ru"})
        assert ru.status_code == 422
        assert ru.json()["field"] == "body"
        assert ru.json()["message"] == "Текст: не больше 10000 символов"
        en = await client.post("/api/notes", json=too_long, headers={"Accept-Language": "en"})
        assert en.json()["message"] == "Text: at most 10000 characters"
        assert "String should have" not in ru.text + en.text
