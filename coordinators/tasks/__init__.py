"""Celery tasks of the portal side, one module per area."""

from coordinators.tasks import documents, reminders  # noqa: F401
