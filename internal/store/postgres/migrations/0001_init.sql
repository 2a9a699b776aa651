-- hookd's schema for PostgreSQL: the same tables and indexes as the SQLite
-- driver's, in PostgreSQL's types. Times are timestamptz (microseconds,
-- UTC on the wire); bodies are bytea. Ids are time-ordered ULIDs with a
-- prefix and use the "C" collation so that they sort bytewise, as in
-- SQLite, whatever the database's locale: newest-first listings and keyset
-- paging walk the primary key.
CREATE TABLE events (
    id              text COLLATE "C" PRIMARY KEY,
    source          text NOT NULL,
    type            text NOT NULL DEFAULT '',
    body            bytea NOT NULL,
    content_type    text NOT NULL DEFAULT '',
    headers         jsonb NOT NULL DEFAULT '{}',
    idempotency_key text,
    received_at     timestamptz NOT NULL,
    status          text NOT NULL
);
-- ON CONFLICT in EventInsertMany names this index as its arbiter.
CREATE UNIQUE INDEX events_source_idempotency_key ON events (source, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX events_status_id ON events (status, id);
CREATE INDEX events_source_id ON events (source, id);
CREATE INDEX events_type_id ON events (type, id);
CREATE INDEX events_received_at ON events (received_at);
-- Per-source counts by status (GET /api/sources) read only this index.
CREATE INDEX events_source_status ON events (source, status);

CREATE TABLE deliveries (
    id              text COLLATE "C" PRIMARY KEY,
    event_id        text COLLATE "C" NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    destination     text NOT NULL,
    status          text NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    lease_token     text,
    last_error      text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
-- The queue: per destination, due deliveries in due order, so one
-- destination's backlog never sits in front of another's. A lease moves
-- next_attempt_at forward, so leased rows sit behind the due ones.
CREATE INDEX deliveries_due ON deliveries (destination, next_attempt_at)
    WHERE status IN ('pending', 'failed');
CREATE INDEX deliveries_event_id ON deliveries (event_id);
CREATE INDEX deliveries_destination_event ON deliveries (destination, event_id);
-- The dead letters, newest first.
CREATE INDEX deliveries_dead ON deliveries (updated_at)
    WHERE status = 'permanent_failure';

CREATE TABLE attempts (
    id            text COLLATE "C" PRIMARY KEY,
    delivery_id   text COLLATE "C" NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    number        integer NOT NULL,
    started_at    timestamptz NOT NULL,
    duration_us   bigint NOT NULL,
    status_code   integer NOT NULL DEFAULT 0,
    response_body bytea,
    error         text NOT NULL DEFAULT ''
);
CREATE INDEX attempts_delivery_id ON attempts (delivery_id, started_at);

CREATE TABLE settings (
    key   text PRIMARY KEY,
    value text NOT NULL
);

CREATE TABLE users (
    username      text COLLATE "C" PRIMARY KEY,
    password_hash text NOT NULL,
    role          text NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);

CREATE TABLE api_keys (
    id           text COLLATE "C" PRIMARY KEY,
    name         text NOT NULL,
    hash         text NOT NULL UNIQUE,
    role         text NOT NULL,
    created_at   timestamptz NOT NULL,
    -- NULL until the key is first used.
    last_used_at timestamptz
);

-- Sources and destinations managed through the API, as JSON documents kept
-- byte for byte (text, not jsonb, which would reformat them).
CREATE TABLE catalog (
    kind       text NOT NULL,  -- 'source' or 'destination'
    name       text COLLATE "C" NOT NULL,
    doc        text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (kind, name)
);
