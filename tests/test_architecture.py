"""The core owns its tables and builds on no other app: the source tree says so."""

import re
from pathlib import Path

from django.apps import apps

ROOT = Path(__file__).resolve().parent.parent
CORE = "enrollment"
APPS_ON_THE_CORE = ("coordinators", "billing", "graduates", "bureau")
# Tests build their data with bare SQL on purpose; migrations are history. The benchmarks
# write their data and their floor with bare SQL too, but take the tables' names from the
# models (``_meta.db_table``), so they are checked like the apps.
SKIPPED = {".venv", ".git", "node_modules", "migrations", "tests"}


def sources(root: Path, under: str = ""):
    for path in sorted((root / under).rglob("*.py")):
        if not SKIPPED & set(path.relative_to(root).parts):
            yield path


def tables_of(app_label: str) -> set[str]:
    return {model._meta.db_table for model in apps.get_app_config(app_label).get_models(include_auto_created=True)}


def offending_lines(paths, pattern: re.Pattern, root: Path) -> list[str]:
    found = []
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if pattern.search(line):
                found.append(f"{path.relative_to(root)}:{number}: {line.strip()}")
    return found


def core_tables_named_outside(root: Path = ROOT) -> list[str]:
    names = "|".join(sorted(map(re.escape, tables_of(CORE)), key=len, reverse=True))
    pattern = re.compile(rf"(?<![\w.:])(?:{names})\b")
    return offending_lines((p for p in sources(root) if p.relative_to(root).parts[0] != CORE), pattern, root)


def other_apps_reached_from_core(root: Path = ROOT) -> list[str]:
    labels = "|".join(APPS_ON_THE_CORE)
    tables = "|".join(sorted(
        (re.escape(t) for label in APPS_ON_THE_CORE if apps.is_installed(label) for t in tables_of(label)),
        key=len, reverse=True,
    ))
    pattern = re.compile(
        rf"^\s*(?:from|import)\s+(?:{labels})\b"  # imports
        rf"|get_model\(\s*[\"'](?:{labels})[\"']"  # the app registry
        rf"|[\"'](?:{labels})\.\w"  # dotted strings: lazy model references, task and template names
        rf"|(?<![\w.:])(?:{tables})\b"  # their tables in SQL
    )
    paths = [p for p in (root / CORE).rglob("*.py") if not {".venv", "node_modules"} & set(p.parts)]
    return offending_lines(sorted(paths), pattern, root)


def test_no_module_outside_the_core_names_a_table_of_the_core():
    assert core_tables_named_outside() == []


def test_no_benchmark_names_a_table_of_the_core():
    assert [line for line in core_tables_named_outside() if line.startswith("bench/")] == []


def test_the_core_imports_and_names_none_of_the_apps_built_on_it():
    assert other_apps_reached_from_core() == []
