"""Reaching the last moment of a feed's transaction from a test, with Django's own means.

``connection.execute_wrapper`` sees every statement of the connection it is
installed on; the statement that marks a feed done is the last one before its
transaction commits, so an action run right after it runs "just before commit"
(a pause, a crash, a competing write). Production code carries no hook for it.
Installed per connection: a thread or a child process installs its own.
"""

import contextlib

from django.db import connection


def _marks_feed_done(sql: str, params) -> bool:
    text = " ".join(str(sql).split()).lower()
    return (
        text.startswith("update") and "graduates_graduatefeed" in text
        and ("'done'" in text or "done" in [str(p) for p in (params or [])])
    )


@contextlib.contextmanager
def before_feed_commit(action):
    """Run ``action(feed_id)`` right after a feed is marked done, inside its transaction."""

    def wrapper(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if not many and _marks_feed_done(sql, params):
            feed_id = next(p for p in params if isinstance(p, int))
            action(feed_id)
        return result

    with connection.execute_wrapper(wrapper):
        yield
