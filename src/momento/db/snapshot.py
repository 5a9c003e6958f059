"""The schema snapshot, `momento/sql/schema.sql`: the schema exactly as the migrations leave it.

Migrations say how the schema got where it is, one change at a time; the snapshot says where it
is, so the current definition of a table, function or policy is read in one place.
`python -m momento.db.snapshot` (`make schema`) starts an embedded PostgreSQL in a temporary
directory, applies every migration, dumps the schema and writes the file next to the
migrations; tests/test_schema.py dumps the test database the same way and compares.

The dump is `pg_dump --schema-only --no-owner --no-tablespaces`, run with a pg_dump of the
server's own major version (pgserver ships one; another major version would word the same
schema differently). `normalise` then removes what differs between runs and machines and says
nothing about the schema: the version banner, the session settings pg_dump sets before
restoring, newer pg_dump's `\\restrict` lines (a random key per run), and the migrating role's
name in `ALTER DEFAULT PRIVILEGES` (written `CURRENT_USER`, which is what the migration said).
Everything else is pg_dump's text as it is, in its order (by kind of object and dependencies, then
by name).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import subprocess
import sys
import tempfile
import warnings
from importlib import resources
from pathlib import Path

import psycopg

from momento.db import embedded
from momento.db import migrate as migrations

DUMP_OPTIONS = ("--schema-only", "--no-owner", "--no-tablespaces")

HEADER = """\
-- GENERATED FILE, DO NOT EDIT: the schema as migrations {first} to {last} leave it.
--
-- Regenerate with `make schema` (python -m momento.db.snapshot): a fresh embedded PostgreSQL,
-- every migration in src/momento/sql/migrations applied, then
--     pg_dump {options}
-- with the server's own pg_dump, less its version banner and session settings (see
-- momento/db/snapshot.py). The schema changes through a new migration only; then run
-- `make schema` and commit this file with it: tests/test_schema.py fails until they agree.
--
-- Read it for what a table, function or policy is now; the migrations say why. It is a
-- reference, not a script: databases are made by the migrations. In pg_dump's order (types,
-- functions and tables, then constraints, indexes, triggers, policies, privileges), each
-- object under a `-- Name: <name>; Type: <kind>` heading.

"""

# What pg_dump writes around the schema, each removed with the blank line after it. Anchored
# at line starts and limited to the settings pg_dump itself emits: a function body (kept as it
# was written) would have to hold such a line, unindented, to lose it.
_SETTINGS = (
    "statement_timeout|lock_timeout|idle_in_transaction_session_timeout|transaction_timeout"
    "|client_encoding|standard_conforming_strings|check_function_bodies|xmloption"
    "|client_min_messages|row_security|default_table_access_method|default_tablespace"
    "|default_with_oids"
)
_DROPPED = re.compile(
    r"^(?:--\n-- PostgreSQL database dump(?: complete)?\n--"
    r"|-- Dumped (?:from database|by pg_dump) version [^\n]*"
    rf"|SET (?:{_SETTINGS}) = [^\n]*;"
    r"|SELECT pg_catalog\.set_config\('search_path', '', false\);"
    r"|\\(?:un)?restrict [A-Za-z0-9]+)\n\n?",
    re.MULTILINE,
)
_VERSION = re.compile(r"\(PostgreSQL\) (\d+)")


class SnapshotError(Exception):
    """The schema could not be dumped."""


def schema_file() -> Path:
    """The checked-in snapshot, next to the migrations of the `momento` package imported."""
    return Path(str(resources.files("momento") / "sql" / "schema.sql"))


def _pg_dump_major(pg_dump: Path) -> int | None:
    try:
        out = subprocess.run(  # noqa: S603
            [str(pg_dump), "--version"], check=True, capture_output=True, text=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    m = _VERSION.search(out)
    return int(m.group(1)) if m else None


def find_pg_dump(major: int) -> Path:
    """A pg_dump of PostgreSQL `major`: pgserver's first (it runs the embedded server), then
    the system's PostgreSQL installations."""
    candidates: list[Path] = []
    try:
        import pgserver

        candidates.append(Path(pgserver.__file__).parent / "pginstall" / "bin" / "pg_dump")
    except ImportError:
        pass
    system = embedded.find_system_bindir()
    if system is not None:
        candidates.append(system / "pg_dump")
    candidates.append(Path(f"/usr/lib/postgresql/{major}/bin/pg_dump"))
    for candidate in candidates:
        if candidate.is_file() and _pg_dump_major(candidate) == major:
            return candidate
    raise SnapshotError(
        f"no pg_dump of PostgreSQL {major} (the server's version) among "
        + ", ".join(str(c) for c in candidates)
    )


def normalise(raw: str, role: str) -> str:
    """pg_dump's text without what varies between runs and machines (see the module's doc);
    `role` is the one that ran the migrations (and the dump)."""
    text = _DROPPED.sub("", raw).strip("\n") + "\n"
    return text.replace(
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {_ident(role)} ",
        "ALTER DEFAULT PRIVILEGES FOR ROLE CURRENT_USER ",
    )


def _ident(role: str) -> str:
    if re.fullmatch(r"[a-z_][a-z0-9_$]*", role):
        return role
    return '"' + role.replace('"', '""') + '"'


def dump(url: str) -> str:
    """The schema of the database at `url`, normalised: what schema.sql holds for it."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT current_setting('server_version_num')::int / 10000, current_user"
        ).fetchone()
    assert row is not None
    major, role = int(row[0]), str(row[1])
    done = subprocess.run(  # noqa: S603
        [str(find_pg_dump(major)), *DUMP_OPTIONS, "--dbname", url],
        check=False,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SnapshotError(f"pg_dump failed: {done.stderr.strip()}")
    return normalise(done.stdout, role)


def render(url: str) -> str:
    """schema.sql's text for the database at `url`: the header, then the dump."""
    versions = [m.version for m in migrations.load_migrations()]
    header = HEADER.format(first=versions[0], last=versions[-1], options=" ".join(DUMP_OPTIONS))
    return header + dump(url)


def generate() -> str:
    """schema.sql's text for a fresh database migrated from nothing."""
    with tempfile.TemporaryDirectory(prefix="momento-schema-") as tmp:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pgserver's notes on its runtime directory
            server = embedded.start(Path(tmp), database="momento_schema")
        try:
            asyncio.run(migrations.migrate(server.url))
            return render(server.url)
        finally:
            server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m momento.db.snapshot",
        description="Write the schema as the migrations leave it to momento/sql/schema.sql.",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="where to write it (default: schema.sql beside the migrations)",
    )
    args = parser.parse_args(argv)
    target: Path = args.output or schema_file()
    text = generate()
    changed = not target.is_file() or target.read_text(encoding="utf-8") != text
    if changed:
        target.write_text(text, encoding="utf-8")
    print(f"{target}: {'written' if changed else 'unchanged'}")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
