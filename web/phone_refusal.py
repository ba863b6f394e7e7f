"""A typed phone number that is not one, refused in the user's language.

The CRM refuses such a number in a contact's or company's create and edit
(`crm.numbers.refuse_invalid`: `InvalidInput` with `field` "phones" and the number as
`value`); this module words that refusal for people: the field's name and the number, in
the language of the page or of the API request (the `lang` cookie, else Accept-Language;
a script that sends neither gets English). CSV imports keep such numbers, flagged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from fastapi import Request

from crm.errors import CrmError, InvalidInput
from crm.numbers import PHONE_REFUSED
from web.i18n import LANG_COOKIE, LANGUAGES, N_, negotiate, translations

REFUSED = N_(
    "{field}: “{value}” is not a phone number; write it with its area code, e.g. {example}"
)
FLAGGED = N_("not a valid number, kept as entered")
FIELD = N_("Phones")
EXAMPLE = "+7 495 123-45-67"


def is_refusal(error: CrmError) -> bool:
    return isinstance(error, InvalidInput) and error.message == PHONE_REFUSED


def refusal_text(error: CrmError, gettext: Callable[[str], str]) -> str:
    return gettext(REFUSED).format(
        field=gettext(FIELD), value=str(error.details.get("value", "")), example=EXAMPLE
    )


def api_language(request: Request) -> str:
    """The request's language for an API answer: cookie, Accept-Language, else English."""
    cookie = request.cookies.get(LANG_COOKIE)
    accept = request.headers.get("accept-language")
    if cookie not in LANGUAGES and not accept:
        return "en"
    return negotiate(None, cookie, accept)


@contextmanager
def phone_refusals(request: Request) -> Iterator[None]:
    """Around an API call that saves numbers: a refused number's message in the
    request's language, naming the field and the number (still `invalid`, 422)."""
    try:
        yield
    except InvalidInput as exc:
        if not is_refusal(exc):
            raise
        raise InvalidInput(
            refusal_text(exc, translations(api_language(request)).gettext),
            field=exc.field,
            **exc.details,
        ) from exc
