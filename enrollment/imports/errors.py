from dataclasses import dataclass

from django.core.exceptions import ValidationError


class FileRejected(ValidationError):
    """The file as a whole cannot be imported (wrong type, corrupt, too big, no header...)."""


@dataclass(frozen=True)
class RowError:
    """One problem of one row: the row number as Excel shows it, the column header and a message."""

    row: int
    column: str
    message: str

    def as_dict(self) -> dict:
        return {"row": self.row, "column": self.column, "message": self.message}
