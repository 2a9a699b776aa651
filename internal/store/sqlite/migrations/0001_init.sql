-- Times are Unix microseconds; ids are time-ordered ULIDs with a prefix.
CREATE TABLE events (
    id              TEXT PRIMARY KEY,
    source          TEXT NOT NULL,
    type            TEXT NOT NULL DEFAULT '',
    body            BLOB NOT NULL,
    content_type    TEXT NOT NULL DEFAULT '',
    headers         TEXT NOT NULL DEFAULT '{}',
    idempotency_key TEXT,
    received_at     INTEGER NOT NULL,
    status          TEXT NOT NULL
);
CREATE UNIQUE INDEX events_source_idempotency_key ON events (source, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX events_status_id ON events (status, id);
CREATE INDEX events_source_id ON events (source, id);

CREATE TABLE deliveries (
    id              TEXT PRIMARY KEY,
    event_id        TEXT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    destination     TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_token     TEXT,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
-- The queue: per destination, due deliveries in due order, so one
-- destination's backlog never sits in front of another's. A lease moves
-- next_attempt_at forward, so leased rows sit behind the due ones.
CREATE INDEX deliveries_due ON deliveries (destination, next_attempt_at)
    WHERE status IN ('pending', 'failed');
CREATE INDEX deliveries_event_id ON deliveries (event_id);
-- The dead letters, newest first.
CREATE INDEX deliveries_dead ON deliveries (updated_at)
    WHERE status = 'permanent_failure';

CREATE TABLE attempts (
    id            TEXT PRIMARY KEY,
    delivery_id   TEXT NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    number        INTEGER NOT NULL,
    started_at    INTEGER NOT NULL,
    duration_us   INTEGER NOT NULL,
    status_code   INTEGER NOT NULL DEFAULT 0,
    response_body BLOB,
    error         TEXT NOT NULL DEFAULT ''
);
CREATE INDEX attempts_delivery_id ON attempts (delivery_id, number);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
