"""The retention job (PIPL): pseudonymise students long gone, in the core and in every copy other apps keep.

What is pseudonymised and how is the core's rule (``enrollment.retention``);
this job runs it batch by batch and, in the same transaction as each batch,
clears the graduate-feed rows that name the same people, so a rollback leaves
neither half done.
"""

import datetime

from django.db import transaction

from enrollment.retention import BATCH_SIZE, pseudonymise_lapsed_exemptions, students_pseudonymise
from enrollment.services.common import Actor
from graduates.retention import graduate_records_pseudonymise


@transaction.atomic
def pseudonymise_batch(*, today: datetime.date | None = None, batch_size: int = BATCH_SIZE, actor: Actor | None = None) -> int:
    """Pseudonymise up to ``batch_size`` eligible students and their feed rows; return how many students."""
    former_numbers = students_pseudonymise(today=today, batch_size=batch_size, actor=actor)
    if former_numbers:
        graduate_records_pseudonymise(former_numbers=former_numbers)
    return len(former_numbers)


def apply_retention(*, today: datetime.date | None = None, batch_size: int = BATCH_SIZE, actor: Actor | None = None) -> int:
    """Pseudonymise every eligible student, one short transaction per batch, then lapsed
    exemption rows of people never registered; return how many students were done."""
    total = 0
    while True:
        done = pseudonymise_batch(today=today, batch_size=batch_size, actor=actor)
        total += done
        if done < batch_size:
            break
    pseudonymise_lapsed_exemptions(today=today)
    return total
