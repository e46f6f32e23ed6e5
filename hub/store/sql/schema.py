"""The schema, one step per version, in the SQL both stores speak: PostgreSQL takes it with
its own names for three types (`hub.store.postgres`). A version once released never
changes; a change is a new step."""

from collections.abc import Callable

from hub.store import StoreError
from hub.store.sql.db import Db

LEASES = """
    CREATE TABLE leases (
        name TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        expires_at REAL NOT NULL
    );
"""
"""Work one replica at a time does (the sweeps), held by whoever renews it in time."""

GRANTS = """
    ALTER TABLE clusters ADD COLUMN sealing_key TEXT;
    CREATE TABLE grants (
        migration_id TEXT PRIMARY KEY REFERENCES migrations(id),
        source_cluster TEXT NOT NULL,
        target_cluster TEXT NOT NULL,
        sealed TEXT,
        expires_at REAL,
        minted_at REAL,
        ended_at REAL,
        closed_at REAL,
        failure TEXT
    );
    CREATE INDEX grants_open ON grants(target_cluster) WHERE closed_at IS NULL;
    INSERT INTO grants (migration_id, source_cluster, target_cluster)
        SELECT id, source_cluster, target_cluster FROM migrations
        WHERE state IN ('queued', 'running');
"""


INDEX_FORMS = """
    ALTER TABLE clusters ADD COLUMN report_index BLOB;
"""
"""Each report's fit index, ready to load, so a replica starts without parsing reports."""


FEEDS = """
    ALTER TABLE alerts ADD COLUMN fingerprint TEXT;
    ALTER TABLE alerts ADD COLUMN kind TEXT;
    ALTER TABLE alerts ADD COLUMN cluster TEXT;
    ALTER TABLE alerts ADD COLUMN severity TEXT;
    ALTER TABLE alerts ADD COLUMN resolved_at REAL;
    UPDATE alerts SET fingerprint = id, resolved_at = created_at;
    CREATE INDEX alerts_newest ON alerts(created_at, id);
    CREATE UNIQUE INDEX alerts_open ON alerts(fingerprint) WHERE resolved_at IS NULL;
    CREATE TABLE counters (
        name TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    );
    INSERT INTO counters (name, value) VALUES ('events', 0);
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        topic TEXT NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX events_at ON events(at);
    CREATE TABLE recommendations (
        id TEXT PRIMARY KEY,
        created_at REAL NOT NULL,
        body TEXT NOT NULL
    );
"""
"""Alerts that open and resolve (one open alert per fingerprint, even when two replicas raise
it at once), recommendations, and the numbered events announcing both. Alerts from before
were events: they are resolved as they were raised."""


SCHEMA_VERSIONS: tuple[str, ...] = (
    """
    CREATE TABLE clusters (
        name TEXT PRIMARY KEY,
        labels TEXT NOT NULL,
        registered_at REAL NOT NULL,
        generation INTEGER NOT NULL DEFAULT 0,
        report_sequence INTEGER,
        report_received_at REAL,
        report_body BLOB
    );
    CREATE TABLE tokens (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        role TEXT NOT NULL,
        cluster TEXT REFERENCES clusters(name),
        secret_hash TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE TABLE migrations (
        id TEXT PRIMARY KEY,
        idempotency_key TEXT UNIQUE,
        source_cluster TEXT NOT NULL,
        target_cluster TEXT NOT NULL,
        state TEXT NOT NULL,
        created_at REAL NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX migrations_state ON migrations(state, created_at);
    CREATE TABLE migration_vms (
        migration_id TEXT NOT NULL REFERENCES migrations(id),
        source_cluster TEXT NOT NULL,
        vm TEXT NOT NULL,
        active INTEGER NOT NULL
    );
    CREATE UNIQUE INDEX migration_vms_active ON migration_vms(source_cluster, vm)
        WHERE active = 1;
    CREATE TABLE tasks (
        id TEXT PRIMARY KEY,
        migration_id TEXT NOT NULL REFERENCES migrations(id),
        state TEXT NOT NULL,
        source_cluster TEXT NOT NULL,
        target_cluster TEXT NOT NULL,
        created_at REAL NOT NULL,
        body TEXT NOT NULL
    );
    CREATE TABLE claims (
        id TEXT PRIMARY KEY,
        cluster TEXT NOT NULL,
        migration_id TEXT REFERENCES migrations(id),
        expires_at REAL NOT NULL,
        released_at REAL,
        release_reason TEXT,
        body TEXT NOT NULL
    );
    CREATE INDEX claims_live ON claims(cluster) WHERE released_at IS NULL;
    CREATE TABLE alerts (
        id TEXT PRIMARY KEY,
        created_at REAL NOT NULL,
        body TEXT NOT NULL
    );
    CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
    GRANTS,
    LEASES,
    INDEX_FORMS,
    FEEDS,
)


def upgrade(db: Db, where: str, translate: Callable[[str], str] = str) -> None:
    """Apply the steps the database lacks, inside the caller's transaction (which holds the
    lock that keeps two replicas from upgrading at once); refuse a newer schema."""
    db.execute(translate("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"))
    row = db.execute("SELECT max(version) FROM schema_version").fetchone()
    current = (row[0] if row else None) or 0
    if current > len(SCHEMA_VERSIONS):
        raise StoreError(
            f"{where}: schema version {current} was written by a newer hub "
            f"(this one knows up to {len(SCHEMA_VERSIONS)}); upgrade the hub"
        )
    for version in range(current + 1, len(SCHEMA_VERSIONS) + 1):
        for statement in SCHEMA_VERSIONS[version - 1].split(";"):
            if statement.strip():
                db.execute(translate(statement))
        db.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
