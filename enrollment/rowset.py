"""Rows handed between the core and the apps on it as SQL, for set-based work.

A job that changes many rows gives the core's set-based services a SELECT over
its own tables; the core's selectors give such jobs a SELECT over the core's
tables to join. Either side embeds the other's statement as a subquery, so the
rows never leave the database and neither side names the other's tables.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class RowSet:
    """``sql`` is a SELECT, ``params`` its positional parameters.

    Whoever takes or gives one says which columns it has; a ``%`` in ``sql``
    must be written ``%%``, as in any statement with parameters.
    """

    sql: str
    params: tuple = ()
