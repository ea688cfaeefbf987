"""Personal-data retention of the graduate feeds: the copies of a pseudonymised student's identity."""

from django.db import transaction
from django.db.models import Q

from enrollment.retention import ERASED_NAME, pseudonym_identity_number
from graduates.models import GraduateRecord


@transaction.atomic
def graduate_records_pseudonymise(*, former_numbers: dict[int, str]) -> int:
    """Clear the feed rows of students just pseudonymised, given their ids and former identity numbers.

    A row is the student's when it was matched to them or carries their number
    (rows never matched still name the person). Returns how many rows changed.
    """
    changed = 0
    for student_id, number in former_numbers.items():
        changed += GraduateRecord.objects.filter(Q(student_id=student_id) | Q(identity_number=number)).update(
            identity_number=pseudonym_identity_number(student_id), name=ERASED_NAME, class_name=""
        )
    return changed
