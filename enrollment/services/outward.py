"""Files for the outside world (bank batches, refund files, tax workbooks, documents): exactly one per committed row.

A file is first written under ``staging/`` (a name no reader lists or serves),
and moved to its final name only after the transaction that saves its row
commits (``transaction.on_commit``). So a file under a final name always has a
committed row, and what is sent is chosen from the rows, never by listing a
folder. What a crash can leave:

- killed before commit: a staged file and no row; ``outward_files_sweep``
  deletes it once it is older than a limit;
- killed after commit, before the move: a row whose file is missing; the sweeper
  moves the staged file in, and the generation's rerun rewrites any file still
  missing from the rows (checked against the row's count, amount and checksum).

Apps register the file fields they write (``outward_register``); the sweeper
knows nothing else about them.
"""

import datetime
import logging
import os
import time

from django.core.files.storage import default_storage
from django.db import transaction

logger = logging.getLogger(__name__)

STAGING = "staging"
# A staged file younger than this may belong to a transaction still running.
STAGED_KEEP = datetime.timedelta(hours=1)

_REGISTRY: list[tuple[type, str]] = []


def outward_register(model: type, field_name: str) -> None:
    """Declare a FileField whose files leave the system; its folder is swept of files without a row."""
    if (model, field_name) not in _REGISTRY:
        _REGISTRY.append((model, field_name))


def _staged(final_name: str) -> str:
    return f"{STAGING}/{final_name}"


def _publish(staged: str, final: str) -> bool:
    """Move a staged file to its final name; a no-op when already done (safe to call twice)."""
    source, target = default_storage.path(staged), default_storage.path(final)
    if not os.path.exists(source):
        return os.path.exists(target)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    os.replace(source, target)  # atomic within one file system: readers see no half file
    return True


def outward_file_place(*, instance, field_name: str, file_name: str, content) -> str:
    """Write ``content`` staged, point the row's field at the final name, move it in after commit.

    Call inside the transaction that saves the row. Returns the final name.
    """
    field = instance._meta.get_field(field_name)
    final = default_storage.get_available_name(field.generate_filename(instance, file_name))
    staged = default_storage.save(_staged(final), content)
    if staged != _staged(final):  # a leftover under the same name: ours wins
        os.replace(default_storage.path(staged), default_storage.path(_staged(final)))
    getattr(instance, field_name).name = final
    transaction.on_commit(lambda: _publish(_staged(final), final))
    return final


def outward_file_missing(name: str) -> bool:
    return not name or not default_storage.exists(name)


def _referenced(final: str) -> bool:
    return any(model._default_manager.filter(**{field: final}).exists() for model, field in _REGISTRY)


def _walk(prefix: str):
    root = default_storage.path(prefix)
    for folder, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            yield os.path.relpath(path, default_storage.path("")).replace(os.sep, "/"), path


def outward_files_sweep(*, older_than: datetime.timedelta = STAGED_KEEP) -> dict:
    """Finish or remove what crashes left: staged files and files without a committed row."""
    limit = time.time() - older_than.total_seconds()
    published, removed = [], []
    for name, path in list(_walk(STAGING)):
        final = name[len(STAGING) + 1:]
        if _referenced(final):
            if _publish(name, final) and name != final and os.path.exists(path):
                os.remove(path)  # the final file was already there
            published.append(final)
        elif os.path.getmtime(path) < limit:
            os.remove(path)
            removed.append(name)
    folders = {
        str(field.upload_to).split("%")[0].rstrip("/")
        for model, field_name in _REGISTRY
        for field in [model._meta.get_field(field_name)]
        if isinstance(field.upload_to, str)
    }
    for folder in sorted(f for f in folders if f):
        for name, path in list(_walk(folder)):
            if os.path.getmtime(path) < limit and not _referenced(name):
                os.remove(path)
                removed.append(name)
    if published or removed:
        logger.warning("outward files: moved in %s, removed %s", published, removed)
    return {"published": published, "removed": removed}
