"""How hub replicas on one PostgreSQL database learn, within milliseconds, what the others
changed: triggers send a notice on a channel of the hub's schema as each change commits
(LISTEN/NOTIFY), and each replica listens on a connection of its own. Triggers, not the
writers, send them, so no write path can forget to; a notice sent while a replica was not
listening (before its first LISTEN, or while its connection was lost) is made up for by a
catch-up with everything each time it starts listening."""

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import psycopg
from psycopg import sql

from hub.store import Change, Topic

log = logging.getLogger("cclm.store")
FUNCTION = """
CREATE OR REPLACE FUNCTION cclm_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed record;
    channel text := 'cclm:' || TG_TABLE_SCHEMA;
BEGIN
    IF TG_OP = 'DELETE' THEN changed := OLD; ELSE changed := NEW; END IF;
    IF TG_TABLE_NAME IN ('tokens', 'settings') THEN
        PERFORM pg_notify(channel, TG_TABLE_NAME);
    ELSIF TG_TABLE_NAME = 'clusters' THEN
        PERFORM pg_notify(channel, 'cluster:' || changed.name);
    ELSIF TG_TABLE_NAME = 'events' THEN
        PERFORM pg_notify(channel, 'events:');  -- one per transaction: equal notices fold
    ELSE
        PERFORM pg_notify(channel, 'jobs:' || changed.source_cluster);
        PERFORM pg_notify(channel, 'jobs:' || changed.target_cluster);
    END IF;
    RETURN NULL;
END $$
"""
WATCHED = ("tokens", "settings", "clusters", "migrations", "grants", "events")
TRIGGER = "cclm_notify_after_write"
RETRY = 1.0
"""Seconds before listening again after the connection was lost."""


def channel(schema: str) -> str:
    return f"cclm:{schema}"


def install(connection: psycopg.Connection[Any]) -> None:
    """Create the triggers the schema lacks; in the upgrade's transaction, under its lock."""
    connection.execute(FUNCTION)
    for table in WATCHED:
        found = connection.execute(
            "SELECT 1 FROM pg_trigger WHERE tgname = %s AND tgrelid = to_regclass(%s)",
            (TRIGGER, table),
        ).fetchone()
        if found is None:
            statement = "CREATE TRIGGER {} AFTER INSERT OR UPDATE OR DELETE ON {} "
            statement += "FOR EACH ROW EXECUTE FUNCTION cclm_notify()"
            query = sql.SQL(statement).format(sql.Identifier(TRIGGER), sql.Identifier(table))
            connection.execute(query)


def parse(payload: str) -> Change:
    """A notice's payload as the change it tells of; one this hub does not know of (a newer
    replica's) asks for a full catch-up rather than being dropped."""
    topic, _, key = payload.partition(":")
    try:
        return Change(Topic(topic), key)
    except ValueError:
        return Change(Topic.EVERYTHING)


async def listen(url: str, name: str) -> AsyncIterator[Change]:
    """The changes on channel `name`, for as long as the caller reads, each time listening
    begins with a catch-up with everything: what committed between the caller's last read
    of the store and the LISTEN sent no notice this connection hears."""
    missed = False
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
                await connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(name)))
                if missed:
                    log.info("listening for other replicas' changes again")
                yield Change(Topic.EVERYTHING)
                async for notice in connection.notifies():
                    yield parse(notice.payload)
        except psycopg.OperationalError as error:
            if not missed:
                log.warning("lost the feed of other replicas' changes (%s); re-reading", error)
            missed = True
        await asyncio.sleep(RETRY)
