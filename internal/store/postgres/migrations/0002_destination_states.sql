-- The circuit breaker of each destination (store.DestinationState): one row
-- per destination that ever failed, written only when its state changes or
-- failures accumulate, never for a success while the circuit is closed.
-- NULL times mean "not set". version makes every write a compare-and-set,
-- so processes never overwrite each other's decisions.
CREATE TABLE destination_states (
    destination          text COLLATE "C" PRIMARY KEY,
    circuit              text NOT NULL,
    consecutive_failures integer NOT NULL DEFAULT 0,
    trips                integer NOT NULL DEFAULT 0,
    failing_since        timestamptz,
    open_until           timestamptz,
    last_error           text NOT NULL DEFAULT '',
    disabled_at          timestamptz,
    disabled_reason      text NOT NULL DEFAULT '',
    updated_at           timestamptz NOT NULL,
    version              bigint NOT NULL
);
