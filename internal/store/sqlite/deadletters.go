package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/webhook"
)

// deadIndex names the index that serves a selection of dead deliveries.
// It is named because the planner, seeing the join, may otherwise walk
// every delivery: a list of events reads their deliveries, a reason its
// own dead rows, a page by id the dead rows by id, and anything else every
// dead row.
func deadIndex(p store.DeliveryRequeueDeadParams, byID bool) string {
	switch {
	case len(p.EventIDs) > 0:
		return "deliveries_event_id"
	case p.Reason != "":
		return "deliveries_dead_reason"
	case byID:
		return "deliveries_dead_id"
	}
	return "deliveries_dead"
}

// deadMatch returns the FROM and WHERE of a selection of dead deliveries
// (d) joined to their events (e) through index, with its arguments.
func deadMatch(p store.DeliveryRequeueDeadParams, index string) (string, []any) {
	where := []string{`d.status = 'permanent_failure'`}
	var args []any
	if len(p.EventIDs) > 0 {
		ids, _ := json.Marshal(p.EventIDs) // strings always encode
		where, args = append(where, `d.event_id IN (SELECT value FROM json_each(?))`), append(args, string(ids))
	}
	if p.Reason != "" {
		where, args = append(where, `d.last_reason = ?`), append(args, string(p.Reason))
	}
	if p.Destination != "" {
		where, args = append(where, `d.destination = ?`), append(args, p.Destination)
	}
	if p.Source != "" {
		where, args = append(where, `e.source = ?`), append(args, p.Source)
	}
	if !p.From.IsZero() {
		where, args = append(where, `e.received_at >= ?`), append(args, micros(p.From))
	}
	if !p.To.IsZero() {
		where, args = append(where, `e.received_at < ?`), append(args, micros(p.To))
	}
	if !p.DeadBefore.IsZero() {
		where, args = append(where, `d.updated_at <= ?`), append(args, micros(p.DeadBefore))
	}
	if p.After != "" {
		where, args = append(where, `d.id > ?`), append(args, p.After)
	}
	return ` FROM deliveries d INDEXED BY ` + index + ` JOIN events e ON e.id = d.event_id WHERE ` + strings.Join(where, " AND "), args
}

// DeliveryRequeueDeadBatch implements store.Store.
func (s *Store) DeliveryRequeueDeadBatch(ctx context.Context, p store.DeliveryRequeueDeadParams) ([]webhook.Delivery, error) {
	from, args := deadMatch(p, deadIndex(p, true))
	query := `SELECT d.id, d.event_id, d.destination` + from + ` ORDER BY d.id`
	if p.Limit > 0 {
		query += ` LIMIT ?`
		args = append(args, p.Limit)
	}
	var moved []webhook.Delivery
	err := s.inWrite(ctx, false, func(tx writeTx) error {
		moved = moved[:0]
		rows, err := tx.QueryContext(tx.ctx, query, args...)
		if err != nil {
			return fmt.Errorf("sqlite: select dead: %w", err)
		}
		for rows.Next() {
			d := webhook.Delivery{Status: webhook.StatusPending, NextAttemptAt: p.Now, UpdatedAt: p.Now}
			if err := rows.Scan(&d.ID, &d.EventID, &d.Destination); err != nil {
				rows.Close()
				return fmt.Errorf("sqlite: scan dead: %w", err)
			}
			moved = append(moved, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("sqlite: select dead: %w", err)
		}
		requeue, err := tx.PrepareContext(tx.ctx, requeueSet+` WHERE id = ?`)
		if err != nil {
			return err
		}
		defer requeue.Close()
		events := map[string]bool{}
		for _, d := range moved {
			if _, err := requeue.ExecContext(tx.ctx, micros(p.Now), micros(p.Now), d.ID); err != nil {
				return fmt.Errorf("sqlite: requeue dead: %w", err)
			}
			if !events[d.EventID] {
				events[d.EventID] = true
				if _, err := s.derive(tx, d.EventID); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return moved, nil
}

// DeliveryCountDeadByReason implements store.Store.
func (s *Store) DeliveryCountDeadByReason(ctx context.Context, p store.DeliveryCountDeadParams) ([]store.ReasonCount, error) {
	// The reason index holds every dead row with its reason: counting
	// reads it alone when no event column is filtered.
	from, args := deadMatch(store.DeliveryRequeueDeadParams{
		Source: p.Source, Destination: p.Destination, From: p.From, To: p.To,
	}, "deliveries_dead_reason")
	if p.Source == "" && p.From.IsZero() && p.To.IsZero() {
		from = strings.Replace(from, " JOIN events e ON e.id = d.event_id", "", 1)
	}
	rows, err := s.read.QueryContext(ctx, `SELECT d.last_reason, COUNT(*)`+from+` GROUP BY d.last_reason ORDER BY d.last_reason`, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: count dead by reason: %w", err)
	}
	defer rows.Close()
	var out []store.ReasonCount
	for rows.Next() {
		var c store.ReasonCount
		if err := rows.Scan(&c.Reason, &c.Count); err != nil {
			return nil, fmt.Errorf("sqlite: count dead by reason: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
