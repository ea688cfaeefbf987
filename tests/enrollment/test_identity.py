"""Identity numbers as people type them: validation, normalisation and cross-checks."""

import datetime

import pytest
from django.core.exceptions import ValidationError

from enrollment import identity

BIRTH = datetime.date(2008, 5, 17)


def valid_number(sequence: int = 123) -> str:
    return identity.generate(region="440104", birth=BIRTH, sequence=sequence)


def test_a_generated_number_is_valid_and_unchanged():
    number = valid_number()
    assert identity.validate(number) == number
    assert identity.birth_date(number) == BIRTH


def test_a_wrong_check_character_is_refused_with_a_hint_at_the_last_character():
    number = valid_number()
    wrong = number[:17] + ("0" if number[17] != "0" else "1")
    with pytest.raises(ValidationError) as exc:
        identity.validate(wrong)
    assert exc.value.code == "checksum"
    assert "校验位" in exc.value.messages[0]


def test_a_lowercase_x_is_normalised_to_uppercase():
    # Find a sequence whose check character is X so the case matters.
    number = next(n for n in (valid_number(s) for s in range(1000)) if n.endswith("X"))
    assert identity.validate(number[:17] + "x") == number


def test_full_width_digits_and_spaces_from_excel_are_normalised():
    number = valid_number()
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in number)
    assert identity.validate(f" {full_width[:6]} {full_width[6:]} ") == number


def test_a_15_digit_legacy_number_is_refused_with_a_clear_message():
    with pytest.raises(ValidationError) as exc:
        identity.validate("440104080517123")
    assert exc.value.code == "legacy"
    assert "15位" in exc.value.messages[0]
    assert "18位" in exc.value.messages[0]


def test_a_number_of_the_wrong_length_says_how_long_it_is():
    with pytest.raises(ValidationError) as exc:
        identity.validate(valid_number()[:16])
    assert exc.value.code == "length"
    assert "16" in exc.value.messages[0]


def test_an_impossible_birth_date_is_refused():
    body = "44010420081340123"  # month 13
    from stdnum.cn import ric

    with pytest.raises(ValidationError) as exc:
        identity.validate(body + ric.calc_check_digit(body + "0"))
    assert exc.value.code == "component"


def test_a_birth_date_given_beside_the_number_must_match_it():
    number = valid_number()
    with pytest.raises(ValidationError) as exc:
        identity.check_consistency(number, birth=BIRTH + datetime.timedelta(days=1), sex_code=None)
    assert "birth_date" in exc.value.message_dict
    assert BIRTH.isoformat() in exc.value.message_dict["birth_date"][0]


def test_a_sex_given_beside_the_number_must_match_its_parity():
    male = valid_number(123)  # odd sequence: male
    assert identity.sex(male) == "M"
    identity.check_consistency(male, birth=BIRTH, sex_code="M")
    with pytest.raises(ValidationError) as exc:
        identity.check_consistency(male, birth=BIRTH, sex_code="F")
    assert "sex" in exc.value.message_dict


def test_masking_keeps_only_the_last_four_characters():
    number = valid_number()
    assert identity.mask(number) == "*" * 14 + number[-4:]
