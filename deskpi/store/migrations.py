"""Versioned schema migrations for the deskpi database.

Each migration is (version, description, function(db)). `migrate(db)` applies,
in order, every migration newer than the database, each in its own
transaction together with its row in `schema_version`, so a migration is
either fully applied and recorded or not applied at all (a crash or a failing
migration leaves the database at the previous version). Re-running is a no-op.
A database written by a newer deskpi is refused with an error naming both
versions rather than being half-understood.

Rules for writing a migration:
- never edit a released migration; add a new one;
- no `executescript` (it commits first, breaking the per-migration transaction)
  and no `PRAGMA foreign_keys` / `journal_mode` (they are ignored inside a
  transaction);
- value lists that may grow (audit sources, reminder kinds...) are validated in
  Python (deskpi.store), not with CHECK constraints, because SQLite can only
  change a CHECK by rebuilding the table.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:       # imported by the store only when it migrates: opening a current database needs none of it
    from sqlite_utils import Database


class MigrationError(RuntimeError):
    """A migration could not be applied; the database stays at the previous version."""


class SchemaTooNewError(MigrationError):
    """The database was written by a newer deskpi than this one."""

    def __init__(self, found: int, known: int, where: str = "the database") -> None:
        self.found, self.known = found, known
        super().__init__(f"{where} is at schema version {found}, but this deskpi only knows versions up to "
                         f"{known}: upgrade deskpi, or restore a backup made by this version")


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[Database], None]


def _v1_base_schema(db: Database) -> None:
    statements = [
        # name_key = name.casefold(): SQLite's NOCASE folds ASCII only, and "Ölaf" must clash with "ölaf".
        """CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            name_key TEXT NOT NULL UNIQUE,
            stature_cm REAL,
            shoe_mm REAL,
            seated_mm REAL,
            standing_mm REAL,
            units TEXT NOT NULL DEFAULT 'cm',
            role TEXT NOT NULL DEFAULT 'user',
            pin_hash TEXT,
            created_at REAL NOT NULL
        )""",
        # Only explicitly saved presets live here; slot 1/2 fall back to the user's seated/standing heights.
        """CREATE TABLE presets (
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            slot INTEGER NOT NULL CHECK (slot BETWEEN 1 AND 4),
            height_mm REAL NOT NULL,
            PRIMARY KEY (user_id, slot)
        ) WITHOUT ROWID""",
        """CREATE TABLE settings (
            key TEXT PRIMARY KEY,
            value TEXT
        )""",
        """CREATE TABLE plans (
            user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
            kind TEXT NOT NULL,
            doc TEXT NOT NULL,
            updated_at REAL NOT NULL
        )""",
        """CREATE TABLE reminders (
            id INTEGER PRIMARY KEY,
            user_id INTEGER REFERENCES users(id) ON DELETE CASCADE,
            kind TEXT NOT NULL,
            shown_at REAL NOT NULL,
            outcome TEXT,
            outcome_at REAL,
            stretch_id TEXT
        )""",
        # Change-only log: a row per change of >= 5 mm / posture class, plus a heartbeat while unchanged.
        # Whole mm; NULL = height unknown from this row on (stale sensor).
        """CREATE TABLE height_log (
            t REAL NOT NULL,
            height_mm INTEGER,
            source TEXT NOT NULL
        )""",
        "CREATE INDEX idx_height_log_t ON height_log (t)",
        # user is the name as it was (text, not a foreign key): the audit trail outlives users.
        """CREATE TABLE audit (
            id INTEGER PRIMARY KEY,
            t REAL NOT NULL,
            source TEXT NOT NULL,
            user TEXT,
            action TEXT NOT NULL,
            detail TEXT
        )""",
    ]
    for sql in statements:
        db.execute(sql)


def _v2_audit_remote_and_indexes(db: Database) -> None:
    db["audit"].add_column("remote", str)          # nullable: buttons, the schedule and the CLI have none
    db["audit"].create_index(["t"], index_name="idx_audit_t")
    db["reminders"].create_index(["user_id", "shown_at"], index_name="idx_reminders_user_shown")


def _v3_active_user_log(db: Database) -> None:
    # Who was at the desk when: statistics attribute measured time to the right person.
    # Names, not ids: the history must survive a user being removed or renamed later.
    db["active_user_log"].create({"id": int, "t": float, "user": str}, pk="id", not_null={"t"})
    db["active_user_log"].create_index(["t"], index_name="idx_active_user_log_t")


def _v4_api_tokens(db: Database) -> None:
    # Only a hash of each token is kept: a copied database must not let anyone in.
    db.execute("""CREATE TABLE api_tokens (
        id INTEGER PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        label TEXT NOT NULL,
        hash TEXT NOT NULL UNIQUE,
        created_at REAL NOT NULL,
        last_used_at REAL
    )""")
    db["api_tokens"].create_index(["user_id"], index_name="idx_api_tokens_user")


def _v5_web_sessions(db: Database) -> None:
    # Server-side sessions, so signing out (or a PIN change) ends a session even where its cookie was copied.
    db.execute("""CREATE TABLE web_sessions (
        id INTEGER PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        sid_hash TEXT NOT NULL UNIQUE,
        created_at REAL NOT NULL
    )""")
    db["web_sessions"].create_index(["user_id"], index_name="idx_web_sessions_user")


def _v6_web_devices(db: Database) -> None:
    # A phone that has signed in as someone carries a device cookie (only its hash is kept here): while
    # strangers have that name locked out, it may still try, with its own small budget of wrong PINs.
    db.execute("""CREATE TABLE web_devices (
        id INTEGER PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        hash TEXT NOT NULL UNIQUE,
        created_at REAL NOT NULL,
        last_used_at REAL NOT NULL,
        failures INTEGER NOT NULL DEFAULT 0
    )""")
    db["web_devices"].create_index(["user_id"], index_name="idx_web_devices_user")


def _v7_token_roles(db: Database) -> None:
    # A metrics token belongs to nobody (a Prometheus server is not a person at the desk), so user_id becomes
    # optional and each token gets a role; SQLite drops a NOT NULL only by rebuilding the table. Every
    # existing token is a person's ("user"), kept with its id so `deskpi token revoke ID` still finds it.
    db.execute("""CREATE TABLE api_tokens_v7 (
        id INTEGER PRIMARY KEY,
        user_id INTEGER REFERENCES users(id) ON DELETE CASCADE,
        role TEXT NOT NULL DEFAULT 'user',
        name TEXT,
        label TEXT NOT NULL,
        hash TEXT NOT NULL UNIQUE,
        created_at REAL NOT NULL,
        last_used_at REAL
    )""")
    db.execute("INSERT INTO api_tokens_v7 (id, user_id, role, label, hash, created_at, last_used_at) "
               "SELECT id, user_id, 'user', label, hash, created_at, last_used_at FROM api_tokens")
    db.execute("DROP TABLE api_tokens")
    db.execute("ALTER TABLE api_tokens_v7 RENAME TO api_tokens")
    db["api_tokens"].create_index(["user_id"], index_name="idx_api_tokens_user")


def _v8_reminders_by_time(db: Database) -> None:
    # The statistics ask for every reminder of a window, whoever it was for: without this index each
    # report (and the live status, every few seconds) read the whole year of reminders.
    db["reminders"].create_index(["shown_at"], index_name="idx_reminders_shown")


def _v9_stats_days(db: Database) -> None:
    # Closed days' statistics summed once (deskpi/store/day_stats.py): a report of a quarter reads ninety rows, not
    # every height-log row of the quarter. Filled when a report first asks for a day, so upgrading stays quick.
    db.execute("""CREATE TABLE stats_days (
        tz TEXT NOT NULL,
        day TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (tz, day)
    ) WITHOUT ROWID""")


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "base schema: users, presets, settings, plans, reminders, height log, audit", _v1_base_schema),
    Migration(2, "audit: remote address column; index audit by time and reminders by user and time",
              _v2_audit_remote_and_indexes),
    Migration(3, "active-user history for statistics", _v3_active_user_log),
    Migration(4, "API tokens for scripts (hashed)", _v4_api_tokens),
    Migration(5, "web sign-in sessions (hashed ids)", _v5_web_sessions),
    Migration(6, "device cookies of phones that signed in before (hashed)", _v6_web_devices),
    Migration(7, "API token roles: metrics tokens that belong to no person", _v7_token_roles),
    Migration(8, "index reminders by the time they were shown (statistics of a window)", _v8_reminders_by_time),
    Migration(9, "closed days' statistics, summed once per time zone and day", _v9_stats_days),
)
LATEST_VERSION = MIGRATIONS[-1].version


def check_migrations(migrations: Sequence[Migration]) -> None:
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise MigrationError(f"migration versions must be 1, 2, 3... in order, got {versions}")


check_migrations(MIGRATIONS)

_SCHEMA_VERSION_SQL = """CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at REAL NOT NULL
)"""


def table_names(db: Any) -> list[str]:
    """The tables of a database (a sqlite3 connection or sqlite-utils Database), in creation order."""
    return [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY rowid")]


def current_version(db: Any) -> int:
    """The highest applied version; 0 for a database without a schema_version table (`db`: a sqlite3 connection
    or a sqlite-utils Database)."""
    exists = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").fetchone()
    if not exists:
        return 0
    row = db.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def migrate(db: Database, *, target: int | None = None, migrations: Sequence[Migration] = MIGRATIONS,
            now: Callable[[], float] = time.time) -> list[int]:
    """Bring `db` up to `target` (default: the latest version). Returns the versions applied (empty: no-op).

    Each migration runs in a `BEGIN IMMEDIATE` transaction that also re-reads
    the version, so two processes starting together apply each migration once.
    """
    check_migrations(migrations)
    latest = migrations[-1].version if migrations else 0
    target = latest if target is None else target
    if not 0 <= target <= latest:
        raise MigrationError(f"target version {target} is not between 0 and {latest}")
    conn = db.conn
    if conn.in_transaction:
        raise MigrationError("migrate() must be called outside a transaction (each migration is its own)")
    found = current_version(db)
    if found > latest:
        raise SchemaTooNewError(found, latest)
    applied: list[int] = []
    for m in migrations:
        if m.version <= found or m.version > target:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            db.execute(_SCHEMA_VERSION_SQL)
            if current_version(db) >= m.version:     # another process got here first
                conn.execute("ROLLBACK")
                continue
            m.apply(db)
            db.execute("INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)",
                       [m.version, m.description, now()])
            conn.execute("COMMIT")
        except BaseException as e:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(e, Exception):
                raise MigrationError(f"migration v{m.version} ({m.description}) failed and was rolled back; "
                                     f"the database stays at version {current_version(db)}: {e}") from e
            raise
        applied.append(m.version)
    return applied
