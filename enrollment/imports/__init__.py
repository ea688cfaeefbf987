"""Reading students from uploaded spreadsheets (R5): file checks, reading and row validation.

Nothing here writes to the database: ``enrollment.services.students`` runs the
two phases (validate every row, then write in one short transaction).
"""

from enrollment.imports.errors import FileRejected, RowError

__all__ = ["FileRejected", "RowError"]
