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
    assert exc.value.code == "birth_date"
    assert "出生日期" in exc.value.messages[0] and "20081340" in exc.value.messages[0]


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


def test_a_wrong_check_character_message_says_what_it_should_be():
    number = valid_number()
    wrong = number[:17] + ("0" if number[17] != "0" else "1")
    with pytest.raises(ValidationError) as exc:
        identity.validate(wrong)
    assert f"应为“{number[17]}”" in exc.value.messages[0]


def test_an_unknown_county_code_is_refused_as_a_region_error_not_an_exception():
    # 449999: the province exists, the county does not (the ID library raised KeyError on it).
    number = identity.generate(region="449999", birth=BIRTH, sequence=1)
    with pytest.raises(ValidationError) as exc:
        identity.validate(number)
    assert exc.value.code == "region"
    assert "地区代码" in exc.value.messages[0] and "449999" in exc.value.messages[0]


@pytest.mark.parametrize("region", ["440117", "440118", "320508", "320509"])
def test_a_district_created_after_the_birth_year_is_accepted(region):
    number = identity.generate(region=region, birth=datetime.date(2005, 3, 1), sequence=11)
    document = identity.parse(number)
    assert document.type == identity.DocumentType.RESIDENT_ID
    assert document.birth_date == datetime.date(2005, 3, 1)


@pytest.mark.parametrize("region", ["810000", "820000", "830000"])
@pytest.mark.parametrize("year", [1990, 2008])
def test_residence_permits_of_hong_kong_macao_and_taiwan_are_accepted_in_any_birth_year(region, year):
    number = identity.generate(region=region, birth=datetime.date(year, 6, 1), sequence=22)
    document = identity.parse(number)
    assert document.type == identity.DocumentType.HMT_RESIDENCE_PERMIT
    assert document.sex == "F"
    assert identity.validate(number, identity.DocumentType.HMT_RESIDENCE_PERMIT) == number


def test_a_residence_permit_number_declared_as_an_identity_card_says_which_type_it_is():
    number = identity.generate(region="810000", birth=BIRTH, sequence=1)
    with pytest.raises(ValidationError) as exc:
        identity.validate(number, identity.DocumentType.RESIDENT_ID)
    assert "港澳台居民居住证" in exc.value.messages[0]


def test_a_permanent_residence_card_of_the_18_digit_format_is_accepted():
    number = identity.generate_foreign_permanent(nationality="840", province="44", birth=BIRTH, sequence=123)
    assert number.startswith("944840")
    document = identity.parse(number)
    assert document.type == identity.DocumentType.FOREIGN_PERMANENT_RESIDENCE
    assert (document.birth_date, document.sex) == (BIRTH, "M")


def test_a_permanent_residence_card_of_the_15_character_format_is_accepted_and_checked():
    number = identity.generate_foreign_permanent(nationality="USA", province="44", birth=BIRTH, sequence=2, old_format=True)
    assert len(number) == 15 and number[:3] == "USA"
    document = identity.parse(number.lower())
    assert document.type == identity.DocumentType.FOREIGN_PERMANENT_RESIDENCE
    assert (document.number, document.birth_date, document.sex) == (number, BIRTH, "F")
    wrong = number[:14] + str((int(number[14]) + 1) % 10)
    with pytest.raises(ValidationError) as exc:
        identity.validate(wrong)
    assert exc.value.code == "checksum" and f"应为“{number[14]}”" in exc.value.messages[0]


def test_a_passport_is_a_declared_type_without_birth_date_or_sex():
    document = identity.parse(" e1234567 ", identity.DocumentType.PASSPORT)
    assert (document.type, document.number, document.birth_date, document.sex) == ("passport", "E1234567", None, None)
    with pytest.raises(ValidationError):
        identity.validate("E1234567")  # not a form of any identity card when the type is not given
    with pytest.raises(ValidationError):
        identity.validate("E12-34567", identity.DocumentType.PASSPORT)


def test_digits_of_any_script_are_normalised_and_other_non_ascii_characters_refused():
    number = valid_number()
    arabic_indic = "".join(chr(0x0660 + int(c)) if c.isdigit() else c for c in number)
    assert identity.validate(arabic_indic) == number
    with pytest.raises(ValidationError) as exc:
        identity.validate(number[:10] + "—" + number[11:])
    assert exc.value.code == "format"


def test_document_types_are_read_from_the_words_people_write():
    assert identity.document_type_of("港澳居民居住证") == identity.DocumentType.HMT_RESIDENCE_PERMIT
    assert identity.document_type_of("护照") == identity.DocumentType.PASSPORT
    assert identity.document_type_of("") == ""
    with pytest.raises(ValidationError):
        identity.document_type_of("驾驶证")
