package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/webhook"
)

// Destination states (circuit breakers). Every process reads them every few
// seconds and writes them when a circuit changes or failures accumulate,
// so they stay off the hot path of a healthy destination. Writes are
// compare-and-set on version, one statement each, committed with the
// default (flushed) durability: a disabled destination must stay disabled.

const stateColumns = `destination, circuit, consecutive_failures, trips, failing_since, open_until,
	last_error, disabled_at, disabled_reason, updated_at, version`

func scanState(row pgx.Row) (store.DestinationState, error) {
	var (
		st                                store.DestinationState
		circuit                           string
		failingSince, openUntil, disabled *time.Time
	)
	if err := row.Scan(&st.Destination, &circuit, &st.ConsecutiveFailures, &st.Trips, &failingSince, &openUntil,
		&st.LastError, &disabled, &st.DisabledReason, &st.UpdatedAt, &st.Version); err != nil {
		return st, err
	}
	st.Circuit = store.Circuit(circuit)
	st.FailingSince, st.OpenUntil, st.DisabledAt = fromNullTime(failingSince), fromNullTime(openUntil), fromNullTime(disabled)
	st.UpdatedAt = utc(st.UpdatedAt)
	return st, nil
}

// DestinationStateList implements store.Store.
func (s *Store) DestinationStateList(ctx context.Context) ([]store.DestinationState, error) {
	if err := s.open(); err != nil {
		return nil, err
	}
	rows, _ := s.pool.Query(ctx, `SELECT `+stateColumns+` FROM destination_states ORDER BY destination`)
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.DestinationState, error) { return scanState(row) })
	if err != nil {
		return nil, s.fail("list destination states", err)
	}
	return out, nil
}

// DestinationStateGet implements store.Store.
func (s *Store) DestinationStateGet(ctx context.Context, destination string) (store.DestinationState, error) {
	if err := s.open(); err != nil {
		return store.DestinationState{}, err
	}
	st, err := scanState(s.pool.QueryRow(ctx, `SELECT `+stateColumns+` FROM destination_states WHERE destination = $1`, destination))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.DestinationState{}, fmt.Errorf("destination state %s: %w", destination, webhook.ErrNotFound)
	}
	if err != nil {
		return store.DestinationState{}, s.fail("get destination state", err)
	}
	return st, nil
}

// DestinationStatePut implements store.Store.
func (s *Store) DestinationStatePut(ctx context.Context, st store.DestinationState) (store.DestinationState, error) {
	if err := s.open(); err != nil {
		return store.DestinationState{}, err
	}
	out := st
	out.Version = st.Version + 1
	args := []any{st.Destination, string(st.Circuit), st.ConsecutiveFailures, st.Trips, nullTime(st.FailingSince), nullTime(st.OpenUntil),
		st.LastError, nullTime(st.DisabledAt), st.DisabledReason, st.UpdatedAt, out.Version}
	var sql string
	if st.Version == 0 {
		sql = `INSERT INTO destination_states (` + stateColumns + `)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (destination) DO NOTHING`
	} else {
		sql = `UPDATE destination_states SET circuit = $2, consecutive_failures = $3, trips = $4, failing_since = $5,
			open_until = $6, last_error = $7, disabled_at = $8, disabled_reason = $9, updated_at = $10, version = $11
			WHERE destination = $1 AND version = $12`
		args = append(args, st.Version)
	}
	ct, err := s.pool.Exec(ctx, sql, args...)
	if err != nil {
		return store.DestinationState{}, s.fail("put destination state", err)
	}
	if ct.RowsAffected() == 0 {
		return store.DestinationState{}, fmt.Errorf("destination state %s changed since version %d: %w", st.Destination, st.Version, webhook.ErrConflict)
	}
	return out, nil
}
