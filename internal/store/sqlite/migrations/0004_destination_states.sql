-- The circuit breaker of each destination (store.DestinationState): one row
-- per destination that ever failed, written only when its state changes or
-- failures accumulate, never for a success while the circuit is closed.
-- Times are Unix microseconds, 0 for "not set". version makes every write a
-- compare-and-set, so processes (and workers) never overwrite each other's
-- decisions.
CREATE TABLE destination_states (
    destination          TEXT PRIMARY KEY,
    circuit              TEXT NOT NULL,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    trips                INTEGER NOT NULL DEFAULT 0,
    failing_since        INTEGER NOT NULL DEFAULT 0,
    open_until           INTEGER NOT NULL DEFAULT 0,
    last_error           TEXT NOT NULL DEFAULT '',
    disabled_at          INTEGER NOT NULL DEFAULT 0,
    disabled_reason      TEXT NOT NULL DEFAULT '',
    updated_at           INTEGER NOT NULL,
    version              INTEGER NOT NULL
);
