-- Management API: users, API keys, sources and destinations created through
-- the API, and the indexes the event list filters use.
CREATE TABLE users (
    username      TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    hash         TEXT NOT NULL UNIQUE,
    role         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL DEFAULT 0
);

-- Sources and destinations managed through the API, as JSON documents.
CREATE TABLE catalog (
    kind       TEXT NOT NULL,  -- 'source' or 'destination'
    name       TEXT NOT NULL,
    doc        TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (kind, name)
);

CREATE INDEX events_type_id ON events (type, id);
CREATE INDEX events_received_at ON events (received_at);
CREATE INDEX deliveries_destination_event ON deliveries (destination, event_id);
