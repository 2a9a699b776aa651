package postgres

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/webhook"
)

// deadCond is the WHERE condition selecting the dead deliveries (d) that
// p matches, joined to their events (e), its values added to a.
func deadCond(p store.DeliveryRequeueDeadParams, a *args) string {
	where := []string{`d.status = 'permanent_failure'`, `e.id = d.event_id`}
	if len(p.EventIDs) > 0 {
		where = append(where, `d.event_id = ANY (`+a.add(p.EventIDs)+`::text[])`)
	}
	if p.Reason != "" {
		where = append(where, `d.last_reason = `+a.add(string(p.Reason)))
	}
	if p.Destination != "" {
		where = append(where, `d.destination = `+a.add(p.Destination))
	}
	if p.Source != "" {
		where = append(where, `e.source = `+a.add(p.Source))
	}
	if !p.From.IsZero() {
		where = append(where, `e.received_at >= `+a.add(p.From))
	}
	if !p.To.IsZero() {
		where = append(where, `e.received_at < `+a.add(p.To))
	}
	if !p.DeadBefore.IsZero() {
		where = append(where, `d.updated_at <= `+a.add(p.DeadBefore))
	}
	if p.After != "" {
		where = append(where, `d.id > `+a.add(p.After))
	}
	return strings.Join(where, " AND ")
}

// DeliveryRequeueDeadBatch implements store.Store. The page is locked
// (FOR UPDATE SKIP LOCKED) before it moves, so a delivery that another
// transaction is changing is left for the next page rather than waited
// for; with the id order that keeps paging exact for one replay.
func (s *Store) DeliveryRequeueDeadBatch(ctx context.Context, p store.DeliveryRequeueDeadParams) ([]webhook.Delivery, error) {
	if err := s.open(); err != nil {
		return nil, err
	}
	var a args
	cond := deadCond(p, &a)
	limit := ""
	if p.Limit > 0 {
		limit = ` LIMIT ` + a.add(p.Limit)
	}
	set := requeueSet(a.add(p.Now))
	var moved []webhook.Delivery
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `WITH page AS (
				SELECT d.id FROM deliveries d, events e WHERE `+cond+` ORDER BY d.id`+limit+` FOR UPDATE OF d SKIP LOCKED
			), moved AS (`+set+` FROM page WHERE d.id = page.id RETURNING d.id, d.event_id, d.destination)
			SELECT id, event_id, destination FROM moved ORDER BY id`, a...)
		if err != nil {
			return err
		}
		moved, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (webhook.Delivery, error) {
			d := webhook.Delivery{Status: webhook.StatusPending, NextAttemptAt: p.Now, UpdatedAt: p.Now}
			return d, row.Scan(&d.ID, &d.EventID, &d.Destination)
		})
		if err != nil || len(moved) == 0 {
			return err
		}
		seen := map[string]bool{}
		var events []string
		for _, d := range moved {
			if !seen[d.EventID] {
				seen[d.EventID] = true
				events = append(events, d.EventID)
			}
		}
		b := &pgx.Batch{}
		queueDerive(b, events)
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return nil, s.fail("requeue dead batch", err)
	}
	return moved, nil
}

// DeliveryCountDeadByReason implements store.Store.
func (s *Store) DeliveryCountDeadByReason(ctx context.Context, p store.DeliveryCountDeadParams) ([]store.ReasonCount, error) {
	if err := s.open(); err != nil {
		return nil, err
	}
	var a args
	cond := deadCond(store.DeliveryRequeueDeadParams{Source: p.Source, Destination: p.Destination, From: p.From, To: p.To}, &a)
	query := `SELECT d.last_reason, count(*) FROM deliveries d, events e WHERE ` + cond + ` GROUP BY d.last_reason ORDER BY d.last_reason`
	if p.Source == "" && p.From.IsZero() && p.To.IsZero() {
		// No event column is filtered: the dead rows' reason index
		// answers alone.
		query = strings.Replace(query, `, events e`, ``, 1)
		query = strings.Replace(query, ` AND e.id = d.event_id`, ``, 1)
	}
	rows, err := s.pool.Query(ctx, query, a...)
	if err != nil {
		return nil, s.fail("count dead by reason", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.ReasonCount, error) {
		var c store.ReasonCount
		return c, row.Scan(&c.Reason, &c.Count)
	})
	if err != nil {
		return nil, s.fail("count dead by reason", err)
	}
	return out, nil
}
