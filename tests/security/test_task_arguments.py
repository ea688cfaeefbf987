"""Celery task arguments travel through Redis and worker logs: ids only, no personal data."""

import inspect
import re

from config.celery import app

PERSONAL = re.compile(r"identity|id_number|name|account|phone|mobile|birth", re.IGNORECASE)


def _project_tasks():
    app.loader.import_default_modules()
    return {name: task for name, task in app.tasks.items() if not name.startswith("celery.")}


def test_every_task_of_the_project_is_registered():
    names = set(_project_tasks())
    assert "enrollment.apply_retention" in names


def test_no_task_takes_names_identity_or_account_numbers():
    offenders = []
    for name, task in _project_tasks().items():
        for parameter in inspect.signature(task.run).parameters.values():
            if parameter.name in {"self", "args", "kwargs"} or re.search(r"_(id|ids|pk)$", parameter.name):
                continue
            if PERSONAL.search(parameter.name):
                offenders.append(f"{name}({parameter.name})")
    assert offenders == []
