"""Celery tasks of the core, one module per area (Celery's autodiscovery imports this package)."""

from enrollment.tasks import cards, exemptions, jobs, rosters, students  # noqa: F401
