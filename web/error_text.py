"""The messages of the API's errors in the user's language.

An API error's `message` is English (the catalogs' msgid) unless the request names a
language: the `lang` cookie (a signed-in browser's choice) or Accept-Language. Scripts
that send neither keep the English text. Domain errors are translated when their message
is a catalog entry (the fixed ones: sign-in, throttle, …); request validation errors are
built here from pydantic's error type: the field's name and the broken rule.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request

from web.i18n import LANG_COOKIE, LANGUAGES, N_, negotiate, translations

# Fixed messages of domain errors users meet (the lower layers cannot mark them; listed
# here so they are extracted, and the tests check each has Russian).
DOMAIN_MESSAGES = (
    N_("too many failed sign-in attempts; try again later"),
    N_("too many failed sign-in attempts from this address; try again later"),
    N_("wrong login or password"),
)

# The names of the fields people type into (panel forms, the card, the supervisor's pages).
FIELD_LABELS = {
    "name": N_("Name"),
    "text": N_("Text"),
    "body": N_("Text"),
    "note": N_("Note"),
    "title": N_("Title"),
    "comment": N_("Comment"),
    "phone": N_("Phone"),
    "phones": N_("Phones"),
    "number": N_("Phone"),
    "email": N_("Email"),
    "login": N_("Login"),
    "password": N_("Password"),
    "reason": N_("Reason"),
    "due_at": N_("Due"),
    "amount": N_("Amount"),
    "stage": N_("Stage"),
    "company": N_("Company"),
    "company_id": N_("Company"),
    "contact_id": N_("Contact"),
    "tags": N_("Tags"),
    "position": N_("Position"),
    "disposition": N_("Result"),
    "source": N_("Source"),
    "deal": N_("Deal"),
}

# pydantic's error type: the rule (with its context's values in braces)
RULES = {
    "missing": N_("{field}: required"),
    "extra_forbidden": N_("{field}: unknown field"),
    "string_too_long": N_("{field}: at most {max_length} characters"),
    "string_too_short": N_("{field}: at least {min_length} characters"),
    "too_long": N_("{field}: at most {max_length} items"),
    "too_short": N_("{field}: at least {min_length} items"),
    "string_type": N_("{field}: must be text"),
    "string_pattern_mismatch": N_("{field}: wrong format"),
    "int_parsing": N_("{field}: must be a whole number"),
    "int_type": N_("{field}: must be a whole number"),
    "float_parsing": N_("{field}: must be a number"),
    "decimal_parsing": N_("{field}: must be a number"),
    "bool_parsing": N_("{field}: must be yes or no"),
    "greater_than": N_("{field}: must be greater than {gt}"),
    "greater_than_equal": N_("{field}: must be at least {ge}"),
    "less_than": N_("{field}: must be less than {lt}"),
    "less_than_equal": N_("{field}: must be at most {le}"),
    "datetime_parsing": N_("{field}: must be a date and time"),
    "datetime_from_date_parsing": N_("{field}: must be a date and time"),
    "date_parsing": N_("{field}: must be a date"),
    "enum": N_("{field}: must be one of {expected}"),
    "literal_error": N_("{field}: must be one of {expected}"),
    "json_invalid": N_("The request is not valid JSON"),
    "model_attributes_type": N_("{field}: must be an object"),
    "dict_type": N_("{field}: must be an object"),
    "list_type": N_("{field}: must be a list"),
    "uuid_parsing": N_("{field}: wrong format"),
    "value_error": N_("{field}: invalid value"),
}
INVALID = N_("{field}: invalid value")


def request_language(request: Request) -> str | None:
    """The language the request names (cookie, then Accept-Language), else None."""
    cookie = request.cookies.get(LANG_COOKIE)
    if cookie in LANGUAGES:
        return str(cookie)
    accept = request.headers.get("accept-language")
    return negotiate(None, None, accept) if accept else None


def translate(request: Request, message: str) -> str:
    """`message` (an English msgid) in the request's language, as is when untranslated."""
    lang = request_language(request)
    return translations(lang).gettext(message) if lang and lang != "en" else message


def field_label(request: Request, field: str) -> str:
    last = field.rsplit(".", 1)[-1]
    label = FIELD_LABELS.get(last)
    return translate(request, label) if label else field


def validation_message(request: Request, error: dict[str, Any], field: str) -> str:
    """One pydantic error as a sentence: the field's name and the broken rule."""
    kind = str(error.get("type", ""))
    context = {
        k: ", ".join(map(str, v)) if isinstance(v, (list, tuple)) else v
        for k, v in (error.get("ctx") or {}).items()
    }
    rule = translate(request, RULES.get(kind, INVALID))
    try:
        return rule.format(field=field_label(request, field), **context)
    except (KeyError, IndexError, ValueError):
        return translate(request, INVALID).format(field=field_label(request, field))
