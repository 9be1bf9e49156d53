"""Phone numbers in the list search of contacts and accounts (``Resource.search_terms``).

Phones are stored normalised (``models.normalise_phone``): E.164 when the country is known
(``+491700104729``), otherwise the typed digits (``01700104729``). People search the way
they write, ``0170 0104729`` or ``+49 170 0104729``, which the word-by-word "contains"
search cannot find: the spaces split the number and the national form has a trunk ``0`` the
E.164 form lacks. :func:`phone_terms` reads the phone-looking parts of the search text and
matches them on the stored form:

* with a country prefix (``+49 …``, ``0049 …``): stored numbers starting with the normalised
  prefix, so a number typed in part (``+49 170 01``) still finds it; numbers stored without
  a country (no ``+``) match on the national digits;
* without one (``0170 0104729``, ``(212) 555-0100``): stored numbers containing the digits
  without the leading trunk zeros (``1700104729``), whatever country they were stored with.

A part needs at least ``MIN_DIGITS`` significant digits to be read as a phone, so a short
number ("3M", a postal code) is searched as usual; and because core ORs the phone reading
with the usual word search, reading a part as a phone never hides a match.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import phonenumbers
from sqlalchemy import String, and_, func, or_

from addons.contacts.models import normalise_phone
from core.resources import SearchTerm

#: Digits (after the country code, or without trunk zeros) that make a part a phone number.
MIN_DIGITS = 6
# A run of digits with the separators people type; not glued to a word, an e-mail or a dot.
_PHONE_RUN = re.compile(r"(?<![\w@.+])(?:\+|\b00)?\(?\d[\d ()./-]*\d(?![\w@])")
_TRUNK = re.compile(r"\(0\)")


def _international(run: str, columns: tuple[Any, ...]) -> Any | None:
    prefix = (normalise_phone(_TRUNK.sub("", run)) or "").split(";", 1)[0]
    if not prefix.startswith("+") or len(prefix) - 1 < MIN_DIGITS:
        return None
    options = [col.startswith(prefix, autoescape=True) for col in columns]
    try:
        national = str(phonenumbers.parse(prefix, None).national_number)
    except phonenumbers.NumberParseException:
        national = ""
    if len(national) >= MIN_DIGITS:
        options += [
            and_(col.not_like("+%"), col.contains(national, autoescape=True)) for col in columns
        ]
    return or_(*options)


def _national(run: str, columns: tuple[Any, ...]) -> Any | None:
    digits = re.sub(r"\D", "", run).lstrip("0")
    if len(digits) < MIN_DIGITS:
        return None
    return or_(*(col.contains(digits, autoescape=True) for col in columns))


def phone_terms(*columns: Any) -> Callable[[str], list[SearchTerm]]:
    """A ``search_terms`` hook matching phone-looking parts of ``q`` on ``columns``.

    The columns are compared as ``lower(col)``: stored numbers are digits and ``+`` (the
    answers are the same), and that is the form PostgreSQL's trigram indexes cover, so the
    phone reading joins the index scans of the word search instead of forcing a table scan.
    """
    columns = tuple(func.lower(col, type_=String()) for col in columns)

    def terms(q: str) -> list[SearchTerm]:
        out = []
        for match in _PHONE_RUN.finditer(q):
            run = match.group(0)
            international = run.startswith(("+", "00"))
            clause = (_international if international else _national)(run, columns)
            if clause is not None:
                out.append(SearchTerm(run, clause))
        return out

    terms.description = (  # type: ignore[attr-defined]
        "Phone numbers match however they are typed: '0170 0104729', '+49 170 0104729' and "
        "'0049 170 01' all find +491700104729."
    )
    return terms
