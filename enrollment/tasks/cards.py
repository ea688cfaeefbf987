"""Citizen-card tasks: the bureau's photo package."""

from enrollment.tasks.base import job_task


@job_task(name="enrollment.cards_export_package")
def cards_export_package_task(job):
    from enrollment.services.cards import cards_export_build

    return cards_export_build(job=job)
