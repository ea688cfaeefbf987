"""The school's to-do list on the portal's home page, gathered from every app that can see a problem.

Apps built on the core (billing, graduates, the portal) register a provider when they start; the core
calls them without importing them. A provider is ``(*, school, year, today) -> list[Todo]`` and returns
only what is still to be done, each with the page where it is fixed.
"""

import datetime
from collections.abc import Callable
from dataclasses import dataclass

from enrollment.models import InsuranceYear, School


@dataclass(frozen=True)
class Todo:
    text: str
    url: str


Provider = Callable[..., list[Todo]]
_providers: list[Provider] = []


def school_todo_provider_register(provider: Provider) -> None:
    if provider not in _providers:
        _providers.append(provider)


def school_todos(*, school: School, year: InsuranceYear | None, today: datetime.date) -> list[Todo]:
    todos: list[Todo] = []
    for provider in _providers:
        todos.extend(provider(school=school, year=year, today=today))
    return todos
