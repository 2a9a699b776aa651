package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/webhook"
)

// Destination states (circuit breakers). They are read by the delivery
// engine every few seconds and written when a circuit changes or failures
// accumulate, so they stay off the hot path of a healthy destination.

const stateColumns = `destination, circuit, consecutive_failures, trips, failing_since, open_until,
	last_error, disabled_at, disabled_reason, updated_at, version`

func scanState(row interface{ Scan(...any) error }) (store.DestinationState, error) {
	var (
		st                                     store.DestinationState
		circuit                                string
		failingSince, openUntil, disabled, upd int64
	)
	if err := row.Scan(&st.Destination, &circuit, &st.ConsecutiveFailures, &st.Trips, &failingSince, &openUntil,
		&st.LastError, &disabled, &st.DisabledReason, &upd, &st.Version); err != nil {
		return st, err
	}
	st.Circuit = store.Circuit(circuit)
	st.FailingSince, st.OpenUntil, st.DisabledAt, st.UpdatedAt = fromMicros(failingSince), fromMicros(openUntil), fromMicros(disabled), fromMicros(upd)
	return st, nil
}

// DestinationStateList implements store.Store.
func (s *Store) DestinationStateList(ctx context.Context) ([]store.DestinationState, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+stateColumns+` FROM destination_states ORDER BY destination`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list destination states: %w", err)
	}
	defer rows.Close()
	var out []store.DestinationState
	for rows.Next() {
		st, err := scanState(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: scan destination state: %w", err)
		}
		out = append(out, st)
	}
	return out, rows.Err()
}

// DestinationStateGet implements store.Store.
func (s *Store) DestinationStateGet(ctx context.Context, destination string) (store.DestinationState, error) {
	st, err := scanState(s.read.QueryRowContext(ctx, `SELECT `+stateColumns+` FROM destination_states WHERE destination = ?`, destination))
	if errors.Is(err, sql.ErrNoRows) {
		return store.DestinationState{}, fmt.Errorf("destination state %s: %w", destination, webhook.ErrNotFound)
	}
	if err != nil {
		return store.DestinationState{}, fmt.Errorf("sqlite: get destination state: %w", err)
	}
	return st, nil
}

// DestinationStatePut implements store.Store. A disabled state is written
// durably (fsynced), as an admin must find it after a power cut; the other
// states may be lost to one and are then rebuilt by the next failures.
func (s *Store) DestinationStatePut(ctx context.Context, st store.DestinationState) (store.DestinationState, error) {
	out := st
	out.Version = st.Version + 1
	err := s.inWrite(ctx, st.Circuit == store.CircuitDisabled, func(tx writeTx) error {
		args := []any{string(st.Circuit), st.ConsecutiveFailures, st.Trips, micros(st.FailingSince), micros(st.OpenUntil),
			st.LastError, micros(st.DisabledAt), st.DisabledReason, micros(st.UpdatedAt), out.Version, st.Destination}
		var res sql.Result
		var err error
		if st.Version == 0 {
			res, err = tx.ExecContext(tx.ctx, `INSERT INTO destination_states (circuit, consecutive_failures, trips,
				failing_since, open_until, last_error, disabled_at, disabled_reason, updated_at, version, destination)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (destination) DO NOTHING`, args...)
		} else {
			res, err = tx.ExecContext(tx.ctx, `UPDATE destination_states SET circuit = ?, consecutive_failures = ?, trips = ?,
				failing_since = ?, open_until = ?, last_error = ?, disabled_at = ?, disabled_reason = ?, updated_at = ?, version = ?
				WHERE destination = ? AND version = ?`, append(args, st.Version)...)
		}
		if err != nil {
			return fmt.Errorf("sqlite: put destination state: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("sqlite: put destination state: %w", err)
		}
		if n == 0 {
			return fmt.Errorf("destination state %s changed since version %d: %w", st.Destination, st.Version, webhook.ErrConflict)
		}
		return nil
	})
	if err != nil {
		return store.DestinationState{}, err
	}
	return out, nil
}
