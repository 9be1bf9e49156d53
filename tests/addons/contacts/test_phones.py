"""``phones.parse_number`` / ``phones.is_possible`` against the ``phonenumbers`` library.

The fast path must give exactly what the library gives (or leave the number to it), so these
tests compare both on a generated corpus: every region's example numbers in every format, read
in their own region, in others and without one, plus random digit strings and mutations. The
fast path's own answers are compared directly too (``_fast_parse``), and the common shapes
must actually take it - otherwise "always fall back" would pass every equivalence test.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterator

import phonenumbers
import pytest
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberFormat

from addons.contacts import phones
from addons.contacts.demo import DemoGenerator

# A few regions to read every number in besides its own: different national prefixes
# (0, 1, 8, none), international prefixes (00, 011, 810, 0011) and prefix rewrite rules.
OTHER_REGIONS = ("DE", "US", "GB", "FR", "IT", "RU", "AR", "MX", "AU", "BR", "CN", "JP")

COMMON_SHAPES = (
    ("+49 170 0104729", None),
    ("+33 1 40 11 26 48", None),
    ("+4917001047291", None),
    ("+49 170 0104729", "DE"),
    ("+4917001047291", "FR"),
    ("0170 0104729", "DE"),
    ("01 43 91 26 48", "FR"),
    ("020 7392 0567", "GB"),
    ("(415) 312-8486", "US"),
    ("415.312.8486", "US"),
    ("93 393 64 05", "ES"),
    ("600 136 405", "ES"),
    ("030/12345678", "DE"),
    ("+44 (0)20 7392 0567", None),
    ("+39 06 1234 5678", None),
    ("06 1234 5678", "IT"),
)


def outcome(parse: Callable[[str, str | None], PhoneNumber], text: str, region: str | None):
    """What ``parse`` does with the input: the number's fields, or the exception's kind."""
    try:
        number = parse(text, region)
    except NumberParseException as exc:
        return ("error", type(exc), exc.error_type)
    return ("number", number, fields(number))


def fields(number: PhoneNumber) -> tuple:
    return (
        number.country_code,
        number.national_number,
        number.extension,
        number.italian_leading_zero,
        number.number_of_leading_zeros,
        number.raw_input,
        number.country_code_source,
        number.preferred_domestic_carrier_code,
    )


def assert_same(text: str, region: str | None) -> bool:
    """``parse_number`` and ``_fast_parse`` agree with the library; True if the fast path answered."""
    expected = outcome(phonenumbers.parse, text, region)
    actual = outcome(phones.parse_number, text, region)
    assert actual[0] == expected[0], (text, region, actual, expected)
    if expected[0] == "error":
        assert actual == expected, (text, region)
    else:
        assert actual[1] == expected[1] and type(actual[1]) is PhoneNumber, (text, region)
        assert actual[2] == expected[2], (text, region, actual, expected)
    fast = phones._fast_parse(text, region)
    if fast is None:
        return False
    assert expected[0] == "number", (text, region, fast, expected)
    assert fast == expected[1] and fields(fast) == expected[2], (text, region, fast, expected)
    return True


def example_numbers() -> Iterator[tuple[str, PhoneNumber]]:
    """Every example number the library has: per region and type, and non-geographic ones."""
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for number_type in phonenumbers.PhoneNumberType.values():
            number = phonenumbers.example_number_for_type(region, number_type)
            if number is not None:
                yield region, number
    for code in sorted(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS):
        number = phonenumbers.example_number_for_non_geo_entity(code)
        if number is not None:
            yield "001", number


def written_forms(number: PhoneNumber) -> set[str]:
    """The ways people write the number: national, international, E.164, dialled from abroad."""
    forms = {
        phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL),
        phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL),
        phonenumbers.format_number(number, PhoneNumberFormat.E164),
    }
    for calling_from in ("DE", "US", "AU"):
        dialled = phonenumbers.format_out_of_country_calling_number(number, calling_from)
        forms.add(dialled)
        if dialled.startswith("00"):
            forms.add("+" + dialled[2:])
    return forms


def test_example_numbers_agree_in_every_format_and_region():
    checked = fast = 0
    fast_international = international = 0
    for region, number in example_numbers():
        others = random.Random(region).sample(sorted(phonenumbers.SUPPORTED_REGIONS), 3)
        for text in written_forms(number):
            for read_in in {region, None, *others, *OTHER_REGIONS}:
                took_fast = assert_same(text, read_in)
                checked += 1
                fast += took_fast
                if text.startswith("+"):
                    international += 1
                    fast_international += took_fast
    assert checked > 50_000
    # Most example numbers are plain: if the fast path stopped answering, this would drop.
    assert fast > checked * 0.5, (fast, checked)
    assert fast_international > international * 0.8, (fast_international, international)


def mutations(rng: random.Random, text: str) -> Iterator[str]:
    """Near-misses of a well-formed number: what typos and odd exports look like."""
    digits = [i for i, char in enumerate(text) if char.isdigit()]
    if digits:
        i = rng.choice(digits)
        yield text[:i] + text[i + 1 :]  # a dropped digit
        yield text[:i] + str(rng.randrange(10)) + text[i:]  # an added digit
        yield text[:i] + rng.choice(" -./()") + text[i:]  # an extra separator
        yield text[:i] + rng.choice("aAxX#*;+~") + text[i:]  # a stray character
    yield text + rng.choice((" x12", " ext. 7", ";ext=3", " #45", "#", " / x9", "-503#"))
    yield rng.choice(("00", "0", "+", "++", "(", " ", "Tel: ", "011", "8", "1")) + text
    yield text + rng.choice((" ", ")", ".", "-", "  ", "\t", "\n"))
    yield text.replace(" ", rng.choice(("", "-", ".", "/", "  ", "\u00a0", "\t")))
    yield text.replace("+", "00", 1)
    yield text * 2


def random_numbers(rng: random.Random) -> Iterator[str]:
    for _ in range(3000):
        length = rng.randint(0, 20)
        digits = "".join(rng.choice("0123456789") for _ in range(length))
        yield rng.choice(("", "+", "0", "00", "+0", "+1", "1")) + digits
        yield " ".join(digits[i : i + rng.randint(1, 4)] for i in range(0, length, 3))
    yield from ("", " ", "+", "++", "+ ", "0", "00", "12", "123", "(", "()", "-", "+ 1 2", "0" * 18)
    yield from ("٠١٧٠ ٠١٠٤٧٢٩", "０１７０ ０１０４７２９", "+4917001047291" + "1" * 240)


def test_random_and_mutated_numbers_agree():
    rng = random.Random(20261207)
    regions = [*OTHER_REGIONS, "ES", "CH", "AT", "NL", "BE", "SE", "ZZ", "de", "001", "XX", None]
    texts = [(text, rng.choice(regions)) for text in random_numbers(rng)]
    for region, number in example_numbers():
        for text in rng.sample(sorted(written_forms(number)), 3):
            texts.extend((mutated, region) for mutated in mutations(rng, text))
    checked = fast = 0
    for text, own_region in texts:
        # The number's own region (where a mutated national form still reads as national)
        # and another one.
        for region in (own_region, rng.choice(regions)):
            fast += assert_same(text, region)
            checked += 1
    assert checked > 60_000
    assert fast > checked * 0.2, (fast, checked)


def demo_phones(seed: int) -> Iterator[tuple[str, str]]:
    """(phone, country) of the contacts demo data, as the import sees them."""
    generator = DemoGenerator(seed)
    accounts = generator.accounts(300)
    for account in accounts:
        if account["phone"]:
            yield account["phone"], account["addresses"][0]["country"]
    for contact in generator.contacts(1500, accounts):
        country = accounts[contact["account"]]["addresses"][0]["country"]
        for key in ("phone", "mobile"):
            if contact[key]:
                yield contact[key], country


@pytest.mark.parametrize("seed", [1, 7, 2026])
def test_demo_data_phones_agree_and_take_the_fast_path(seed):
    total = fast = 0
    for phone, country in demo_phones(seed):
        raw = phone.strip()
        international = raw.startswith(("+", "00"))
        # Exactly how services.clean_phone / models.normalise_phone call the library.
        text = "+" + raw[2:] if raw.startswith("00") else raw
        fast += assert_same(text, None if international else country)
        assert_same(raw, country)
        assert_same(raw, None)
        total += 1
    assert total > 2000
    assert fast == total, f"only {fast} of {total} demo numbers took the fast path"


def test_common_shapes_take_the_fast_path(monkeypatch):
    expected = {shape: phonenumbers.parse(*shape) for shape in COMMON_SHAPES}
    calls = []

    def counting_parse(*args, **kwargs):
        calls.append(args)
        raise AssertionError(f"phonenumbers.parse called for {args}")

    monkeypatch.setattr(phonenumbers, "parse", counting_parse)
    for shape in COMMON_SHAPES:
        number = phones.parse_number(*shape)
        assert number == expected[shape] and fields(number) == fields(expected[shape]), shape
    assert calls == []


@pytest.mark.parametrize(
    ("text", "region"),
    [
        ("0170 0104729 x12", "DE"),  # extension
        ("+49 170 0104729;ext=3", None),
        ("1-800-FLOWERS", "US"),  # vanity letters
        ("0049 170 0104729", "DE"),  # international dialling prefix
        ("011 49 170 0104729", "US"),
        ("49 170 0104729", "DE"),  # country code without "+"
        ("1 415 312 8486", "US"),
        ("++49 170 0104729", None),
        ("0170 0104729", None),  # no region: the library raises
        ("0170 0104729", "de"),  # the library wants upper-case region codes
        ("+999 1234567", None),  # unknown calling code
        ("tel:+49-170-0104729", None),
    ],
)
def test_unusual_shapes_are_left_to_the_library(monkeypatch, text, region):
    expected = outcome(phonenumbers.parse, text, region)
    calls = []
    real_parse = phonenumbers.parse

    def counting_parse(*args, **kwargs):
        calls.append(args)
        return real_parse(*args, **kwargs)

    monkeypatch.setattr(phonenumbers, "parse", counting_parse)
    actual = outcome(phones.parse_number, text, region)
    assert calls == [(text, region)]
    assert actual[0] == expected[0]
    assert actual[2] == expected[2]


def test_is_possible_agrees():
    rng = random.Random(5)
    numbers = []
    for _region, example in example_numbers():
        for text in written_forms(example):
            for mutated in [text, *mutations(rng, text)]:
                with contextlib.suppress(NumberParseException):
                    numbers.append(phonenumbers.parse(mutated, "DE"))
    codes = [*sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE), 0, 999, 4242]
    for _ in range(20_000):
        number = PhoneNumber(
            country_code=rng.choice(codes), national_number=rng.randrange(10 ** rng.randint(0, 19))
        )
        if rng.random() < 0.2:
            number.italian_leading_zero = True
            number.number_of_leading_zeros = rng.choice((None, 0, 1, 2, 3))
        numbers.append(number)
    numbers.append(PhoneNumber())
    possible = 0
    for number in numbers:
        expected = phonenumbers.is_possible_number(number)
        assert phones.is_possible(number) == expected, number
        possible += expected
    assert 0.1 * len(numbers) < possible < 0.9 * len(numbers)


def test_is_possible_does_not_ask_the_library_for_common_numbers(monkeypatch):
    numbers = [phonenumbers.parse(*shape) for shape in COMMON_SHAPES]
    expected = [phonenumbers.is_possible_number(number) for number in numbers]

    def refuse(*args):
        raise AssertionError("phonenumbers.is_possible_number called")

    monkeypatch.setattr(phonenumbers, "is_possible_number", refuse)
    assert [phones.is_possible(number) for number in numbers] == expected


def test_caches_only_remember_known_regions_and_codes():
    for bogus in ("Germany", "de", "XX", "001", "", "ZZ"):
        with contextlib.suppress(NumberParseException):
            phones.parse_number("0170 0104729", bogus)
    for code in (0, 999, 4242, 10**9):
        phones.is_possible(PhoneNumber(country_code=code, national_number=1234567))
    assert set(phones._REGION_PLANS) <= phonenumbers.SUPPORTED_REGIONS
    assert set(phones._CODE_PLANS) <= set(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
