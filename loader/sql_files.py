"""Finds the stage files, splits them into statements and checks their parameters.

Everything here happens before the database is touched, so a broken file can
never leave a half-applied run (the order goose and yoyo use).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sqlparse import tokens as T
from sqlparse.engine import FilterStack

from .errors import Refused

STAGE_NAME = re.compile(r"^(\d+)_\w+\.sql$")
CREATE_VIEW = re.compile(r"create\s+(?:temp\s+|temporary\s+)?view\s+(?:if\s+not\s+exists\s+)?([\w.]+)", re.I)


@dataclass(frozen=True)
class Statement:
    file: Path
    line: int            # the line of the statement's first code line in its file
    text: str
    params: frozenset    # the :names it uses
    pyformat_text: str   # the same with %(name)s placeholders, for psycopg

    @property
    def where(self) -> str:
        return f"{self.file.parent.name}/{self.file.name}:{self.line}"

    @property
    def created_view(self) -> str | None:
        """The name of the view this statement creates, if it creates one."""
        match = CREATE_VIEW.match(_code(self.text))
        return match.group(1) if match else None

    @property
    def first_line(self) -> str:
        code = [l.strip() for l in self.text.splitlines() if l.strip() and not l.strip().startswith("--")]
        return code[0] if code else ""


def _code(text: str) -> str:
    """The text without its leading comment lines."""
    lines = text.splitlines()
    while lines and (not lines[0].strip() or lines[0].strip().startswith("--")):
        lines.pop(0)
    return "\n".join(lines)


def discover_stages(sql_dir: Path, engine: str) -> list[Path]:
    """The NN_name.sql files of sql_dir in number order; a duplicate number is an error.
    NN_name.ENGINE.sql, when it exists, replaces NN_name.sql on that engine."""
    if not sql_dir.is_dir():
        raise Refused(f"SQL directory {sql_dir} does not exist")
    by_number: dict[int, Path] = {}
    for path in sorted(sql_dir.glob("*.sql")):
        if path.name.count(".") > 1:
            continue  # an engine's override: looked up below
        match = STAGE_NAME.match(path.name)
        if not match:
            raise Refused(f"{path}: stage files are named NN_what_it_does.sql (e.g. 05_route_rejects.sql)")
        number = int(match.group(1))
        if number == 0:
            raise Refused(f"{path}: stage numbers start at 01, the schema stage, which runs first "
                          "(in the opening transaction); renumber this file after it")
        if number in by_number:
            raise Refused(f"{by_number[number]} and {path} share the stage number {number}: "
                          "renumber one of them")
        by_number[number] = path
    if not by_number:
        raise Refused(f"{sql_dir} holds no stage files (NN_name.sql)")
    for path in sorted(sql_dir.glob("*.*.sql")):
        base = path.with_name(path.name.split(".")[0] + ".sql")
        if base not in by_number.values():
            raise Refused(f"{path} overrides {base.name}, which does not exist")
    return [for_engine(by_number[n], engine) for n in sorted(by_number)]


def discover_upgrades(sql_dir: Path, engine: str) -> list[tuple[int, Path]]:
    """sql_dir/upgrade/NNN_name.sql: each brings a database from schema version NNN - 1 to NNN."""
    found: dict[int, Path] = {}
    for path in sorted((sql_dir / "upgrade").glob("*.sql")):
        if path.name.count(".") > 1:
            continue  # an engine's override
        match = STAGE_NAME.match(path.name)
        if not match or int(match.group(1)) < 2:
            raise Refused(f"{path}: upgrade files are named NNN_what_it_changes.sql, NNN the schema "
                          "version they bring a database to (002 or more)")
        if int(match.group(1)) in found:
            raise Refused(f"{found[int(match.group(1))]} and {path} both upgrade to version {match.group(1)}")
        found[int(match.group(1))] = path
    versions = sorted(found)
    if versions and versions != list(range(2, versions[-1] + 1)):
        raise Refused(f"{sql_dir / 'upgrade'}: the upgrades must run from version 2 without gaps "
                      f"(found {', '.join(map(str, versions))})")
    return [(v, for_engine(found[v], engine)) for v in versions]


def for_engine(path: Path, engine: str) -> Path:
    """NAME.ENGINE.sql if it exists beside NAME.sql, else NAME.sql."""
    override = path.with_name(f"{path.stem}.{engine}.sql")
    return override if override.exists() else path


def read_sql(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise Refused(f"cannot read {path}: {exc}") from None


def split_file(path: Path) -> list[Statement]:
    """The statements of one file, each with the line it starts on."""
    return split_text(path, read_sql(path))


def split_text(path: Path, text: str, first_line: int = 1) -> list[Statement]:
    """The statements of text taken from path, where text starts on first_line."""
    statements = []
    line = first_line
    for parsed in _split(text):
        chunk = str(parsed)
        offset = _lines_before_code(parsed)
        if offset is not None:
            statements.append(Statement(path, line + offset, chunk.strip(), _placeholders(parsed),
                                        _to_pyformat(parsed).strip()))
        line += chunk.count("\n")
    return statements


def _split(text: str):
    """sqlparse's statements, their tokens flat: what sqlparse.parse gives without grouping
    tokens into a tree, which nothing here reads (every use flattens) and which cost nine
    tenths of reading the plan, a third of a second on every run."""
    return FilterStack().run(text)


def check_params(statements: list[Statement], supplied: set[str]) -> None:
    """Refuse before running if any statement uses a :name nobody supplies."""
    for statement in statements:
        missing = statement.params - supplied
        if missing:
            names = ", ".join(":" + n for n in sorted(missing))
            raise Refused(f"{statement.where}: uses {names}, which the runner does not supply "
                          f"(it supplies {', '.join(':' + n for n in sorted(supplied))})")


def _lines_before_code(parsed) -> int | None:
    """How many lines of comments and blanks precede the code; None if there is no code."""
    newlines = 0
    for tok in parsed.flatten():
        if tok.is_whitespace or tok.ttype in T.Comment:
            newlines += tok.value.count("\n")
        elif tok.ttype is not T.Punctuation:  # a lone ';' is not a statement
            return newlines
    return None


def _placeholders(parsed) -> frozenset:
    # sqlparse tells a :name placeholder from ':text' in a string and from a ::cast
    return frozenset(tok.value[1:] for tok in parsed.flatten()
                     if tok.ttype in T.Name.Placeholder and tok.value.startswith(":"))


def _to_pyformat(parsed) -> str:
    """:name placeholders rewritten as %(name)s, and a literal % escaped as %%."""
    parts = []
    for tok in parsed.flatten():
        if tok.ttype in T.Name.Placeholder and tok.value.startswith(":"):
            parts.append(f"%({tok.value[1:]})s")
        else:
            parts.append(tok.value.replace("%", "%%"))
    return "".join(parts)
