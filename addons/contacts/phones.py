"""A faster ``phonenumbers.parse`` for the phone numbers people actually type.

Normalising phone numbers was the largest single cost of the contacts CSV import:
``phonenumbers.parse`` runs a dozen general-purpose regular expressions (RFC 3966 contexts,
extensions, vanity letters, IDDs) on every number, ~20-40 µs each. Nearly all imported numbers
have one of a few plain shapes: ``+49 170 0104729``, ``+4917001047291`` or a national number
such as ``0170 0104729`` with the row's country, written with spaces, ``-``, ``.``, ``/`` and
parentheses only.

``parse_number`` handles exactly those shapes itself, with the library's own metadata, and
hands everything else to ``phonenumbers.parse`` - so it returns what the library returns and
raises what the library raises. The fast path only decides when it can show the library would
decide the same; whenever a rule it does not reproduce could apply (an international dialling
prefix, a national number starting with the country code, a national-prefix rule that rewrites
digits, odd lengths, letters, extensions, several ``+``...), it falls back. The equivalence is
checked against the library on a generated corpus in ``tests/addons/contacts/test_phones.py``.

``is_possible`` is the same idea for ``phonenumbers.is_possible_number``: a length check
against the same metadata, for numbers this module's tables know. (``format_number(..., E164)``
is already cheap - a string join - and has no fast path here.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneMetadata, PhoneNumber

__all__ = ["is_possible", "parse_number"]

# The shapes the fast path accepts: ASCII digits and the separators below, with at most one
# "+", before the first digit. The library skips whatever precedes the first "+" or digit,
# drops trailing punctuation and ignores these separators between digits, and none of these
# characters can start an extension, an RFC 3966 parameter, a vanity (letter) number or a
# second number, so for such text it only ever sees the digits.
_SHAPE = re.compile(r"[ ()./-]*(\+?)[ ()./-]*([0-9][0-9 ()./-]*)")

# The library's limits: national significant numbers have 2 to 17 digits, input at most 250
# characters, country calling codes 1 to 3 digits.
_MIN_NSN = 2
_MAX_NSN = 17
_MAX_INPUT = 250
_MAX_CC_DIGITS = 3


@dataclass(frozen=True, slots=True)
class _Plan:
    """What the fast path needs from one region's (or calling code's) metadata, compiled once."""

    country_code: int
    country_code_digits: str
    # None when the region has no international prefix (nothing can look like one).
    idd: re.Pattern[str] | None
    # None when the region has no national prefix to strip.
    national_prefix: re.Pattern[str] | None
    # The prefix rule rewrites digits (e.g. Argentina's "15" mobile token); only matters when
    # the rule's last group took part in the match.
    rewrites: bool
    # The general national-number pattern; None when the metadata has none (never "viable").
    general: re.Pattern[str] | None
    # NSN lengths for which the library keeps a stripped national prefix (possible or too long).
    keep_lengths: frozenset[int]
    # NSN lengths ``is_possible_number`` accepts (possible, or possible only locally).
    possible_lengths: frozenset[int]


def _length_verdict(length: int, possible: tuple[int, ...], local_only: tuple[int, ...]) -> str:
    """The library's length check on the general description: "local", "possible", "short",
    "long" or "invalid". It reads the first and last listed lengths as the bounds; so does this.
    """
    if length in local_only:
        return "local"
    if length == possible[0]:
        return "possible"
    if length < possible[0]:
        return "short"
    if length > possible[-1]:
        return "long"
    return "possible" if length in possible else "invalid"


def _plan_for(metadata: PhoneMetadata) -> _Plan | None:
    """The compiled plan of ``metadata``, or None when it has no usable length data."""
    general = metadata.general_desc
    possible = tuple(general.possible_length or ()) if general is not None else ()
    if not possible:
        return None
    local_only = tuple(general.possible_length_local_only or ())
    pattern = general.national_number_pattern
    prefix = metadata.national_prefix_for_parsing
    return _Plan(
        country_code=metadata.country_code,
        country_code_digits=str(metadata.country_code),
        idd=re.compile(metadata.international_prefix) if metadata.international_prefix else None,
        national_prefix=re.compile(prefix) if prefix else None,
        rewrites=bool(metadata.national_prefix_transform_rule),
        general=re.compile(pattern) if pattern else None,
        # After stripping a national prefix the library keeps possible and too-long numbers.
        keep_lengths=frozenset(
            n
            for n in range(_MAX_INPUT + 1)
            if _length_verdict(n, possible, local_only) in ("possible", "long")
        ),
        possible_lengths=frozenset(
            n
            for n in range(_MAX_INPUT + 1)
            if _length_verdict(n, possible, local_only) in ("possible", "local")
        ),
    )


# Plans are built on first use: loading every region's metadata up front costs ~0.1 s.
_REGION_PLANS: dict[str, _Plan | None] = {}
_CODE_PLANS: dict[int, _Plan | None] = {}


def _region_plan(region: str) -> _Plan | None:
    """The plan of a supported region (exact code, as the library requires), else None.

    Only supported regions are remembered, so odd country values cannot grow the cache.
    """
    try:
        return _REGION_PLANS[region]
    except KeyError:
        pass
    if region not in phonenumbers.SUPPORTED_REGIONS:
        return None
    metadata = PhoneMetadata.metadata_for_region(region, None)
    plan = _REGION_PLANS[region] = _plan_for(metadata) if metadata is not None else None
    return plan


def _code_plan(country_code: int) -> _Plan | None:
    """The plan the library uses for numbers with this calling code: its main region's.

    Unknown codes get None and are not remembered (the cache stays bounded).
    """
    try:
        return _CODE_PLANS[country_code]
    except KeyError:
        pass
    if country_code not in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
        return None
    main_region = phonenumbers.region_code_for_country_code(country_code)
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, main_region)
    plan = _CODE_PLANS[country_code] = _plan_for(metadata) if metadata is not None else None
    return plan


def _viable(plan: _Plan, digits: str) -> bool:
    """Whether ``digits`` is a whole national number by the region's general pattern."""
    return plan.general is not None and plan.general.fullmatch(digits) is not None


def _national_significant(plan: _Plan, digits: str) -> str | None:
    """``digits`` without the national prefix where the library would strip it.

    None means "not sure": the prefix rule would rewrite digits, which is left to the library.
    The library strips a matching prefix unless the number was a whole national number
    before and no longer is after, and then keeps the result only if its length is possible
    (or too long) for the region.
    """
    if plan.national_prefix is None:
        return digits
    match = plan.national_prefix.match(digits)
    if match is None:
        return digits
    if plan.rewrites and (match.re.groups == 0 or match.group(match.re.groups) is not None):
        return None
    stripped = digits[match.end() :]
    if _viable(plan, digits) and not _viable(plan, stripped):
        return digits
    return stripped if len(stripped) in plan.keep_lengths else digits


def _calling_code_table() -> dict[str, tuple[int, int]]:
    """Every 3-digit start -> (calling code, its length): the shortest known code it begins with.

    Calling codes have 1 to 3 digits and none begins with 0; the library takes the shortest
    known one, so one dictionary look-up on the first three digits gives its answer.
    """
    known = phonenumbers.COUNTRY_CODE_TO_REGION_CODE
    table = {}
    for start in range(100, 1000):
        text = str(start)
        for size in range(1, _MAX_CC_DIGITS + 1):
            if int(text[:size]) in known:
                table[text] = (int(text[:size]), size)
                break
    return table


_CALLING_CODES = _calling_code_table()


# A fresh PhoneNumber's fields. ``_build`` fills a copy instead of calling ``__init__``, which
# converts and checks every one of its eight arguments (~0.8 µs, a sixth of the fast path).
_BLANK_FIELDS = vars(PhoneNumber())
_new_object = object.__new__


def _build(country_code: int, national: str) -> PhoneNumber:
    """The PhoneNumber the library builds, leading zeros (Italian style) included."""
    fields = _BLANK_FIELDS.copy()
    fields["country_code"] = country_code
    fields["national_number"] = int(national)
    if national[0] == "0" and len(national) > 1:
        fields["italian_leading_zero"] = True
        # An all-zero number keeps its last zero as the number itself.
        zeros = min(len(national) - len(national.lstrip("0")), len(national) - 1)
        if zeros != 1:
            fields["number_of_leading_zeros"] = zeros
    number = _new_object(PhoneNumber)
    number.__dict__ = fields
    return number


def _fast_international(digits: str) -> PhoneNumber | None:
    """``+<digits>``: the calling code, then the national number as the library derives it."""
    found = _CALLING_CODES.get(digits[:3])
    if found is None:
        return None
    country_code, size = found
    rest = digits[size:]
    plan = _CODE_PLANS.get(country_code) or _code_plan(country_code)
    if plan is None or len(rest) < _MIN_NSN:
        return None
    national = _national_significant(plan, rest)
    if national is None or not _MIN_NSN <= len(national) <= _MAX_NSN:
        return None
    return _build(country_code, national)


def _fast_national(digits: str, region: str | None) -> PhoneNumber | None:
    """A number without "+" read in ``region``; None where the library might read it otherwise.

    Falls back when the digits start like the region's international dialling prefix (the
    library would take a country code from them) or with the region's own calling code (the
    library may strip it as a country code written without "+").
    """
    plan = _REGION_PLANS.get(region) or _region_plan(region) if region is not None else None
    if plan is None:
        return None
    if plan.idd is not None and plan.idd.match(digits):
        return None
    if digits.startswith(plan.country_code_digits):
        return None
    national = _national_significant(plan, digits)
    if national is None or not _MIN_NSN <= len(national) <= _MAX_NSN:
        return None
    return _build(plan.country_code, national)


def _fast_parse(text: str, region: str | None) -> PhoneNumber | None:
    """The parse result for a plain-shaped ``text``, or None to let the library decide."""
    if len(text) > _MAX_INPUT:
        return None
    shape = _SHAPE.fullmatch(text)
    if shape is None:
        return None
    digits = shape.group(2).replace(" ", "")
    if not digits.isdigit():
        for separator in "()./-":
            digits = digits.replace(separator, "")
    if len(digits) < 3:
        return None
    if shape.group(1):
        return _fast_international(digits)
    return _fast_national(digits, region)


def parse_number(text: str, region: str | None) -> PhoneNumber:
    """``phonenumbers.parse(text, region)``, several times faster for plain-shaped numbers.

    Returns an equal PhoneNumber and raises the same ``NumberParseException`` as the library
    (anything the fast path is not sure about is parsed by the library itself).
    """
    # Anything but strings (the library has its own errors for those) goes to the library.
    if type(text) is str and (region is None or type(region) is str):
        number = _fast_parse(text, region)
        if number is not None:
            return number
    return phonenumbers.parse(text, region)


def is_possible(number: PhoneNumber) -> bool:
    """``phonenumbers.is_possible_number(number)``, without the library's per-call lookups.

    The library checks the length of the national significant number (leading zeros
    included) against the main region of the calling code; so does this, with the lengths
    precomputed. Anything unusual (unknown code, missing fields) is asked of the library.
    """
    country_code = number.country_code
    national = number.national_number
    if type(country_code) is not int or type(national) is not int or national < 0:
        return phonenumbers.is_possible_number(number)
    plan = _CODE_PLANS.get(country_code) or _code_plan(country_code)
    if plan is None:
        return phonenumbers.is_possible_number(number)
    length = len(str(national))
    if number.italian_leading_zero:
        zeros = number.number_of_leading_zeros
        length += 1 if zeros is None else max(zeros, 0)
    return length in plan.possible_lengths
