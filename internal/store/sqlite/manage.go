package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/webhook"
)

// The management side of the store: listing and counting events, moving
// deliveries back into the queue, users, API keys and the catalog. None of
// it is on the ingest or delivery hot path; reads use the read pool and
// writes go through the writer like everything else.

// eventFilter builds the WHERE clause shared by EventList's page and count.
func eventFilter(p store.EventListParams) (string, []any) {
	var where []string
	var args []any
	add := func(cond string, a ...any) {
		where = append(where, cond)
		args = append(args, a...)
	}
	if p.Status != "" {
		add(`e.status = ?`, string(p.Status))
	}
	if p.Source != "" {
		add(`e.source = ?`, p.Source)
	}
	if p.Type != "" {
		add(`e.type = ?`, p.Type)
	}
	if p.Destination != "" {
		add(`EXISTS (SELECT 1 FROM deliveries d WHERE d.destination = ? AND d.event_id = e.id)`, p.Destination)
	}
	if !p.From.IsZero() {
		add(`e.received_at >= ?`, micros(p.From))
	}
	if !p.To.IsZero() {
		add(`e.received_at < ?`, micros(p.To))
	}
	if p.Before != "" {
		add(`e.id < ?`, p.Before)
	}
	if p.Query != "" {
		add(`(e.id = ? OR e.idempotency_key = ? OR e.type = ? OR instr(e.body, CAST(? AS BLOB)) > 0)`, p.Query, p.Query, p.Query, p.Query)
	}
	if len(where) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(where, " AND "), args
}

// EventList implements store.Store.
func (s *Store) EventList(ctx context.Context, p store.EventListParams) (store.EventListResult, error) {
	res := store.EventListResult{Total: -1}
	where, args := eventFilter(p)
	if !p.NoTotal {
		if err := s.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM events e`+where, args...).Scan(&res.Total); err != nil {
			return res, fmt.Errorf("sqlite: count events: %w", err)
		}
	}
	limit := p.Limit
	if limit <= 0 {
		limit = 20
	}
	rows, err := s.read.QueryContext(ctx, `SELECT e.id, e.source, e.type, e.content_type, e.idempotency_key,
		e.received_at, e.status, COALESCE(e.body_size, length(e.body)),
		(SELECT COUNT(*) FROM deliveries d WHERE d.event_id = e.id),
		(SELECT COALESCE(SUM(d.attempts), 0) FROM deliveries d WHERE d.event_id = e.id),
		COALESCE((SELECT d.last_error FROM deliveries d WHERE d.event_id = e.id AND d.last_error <> ''
			ORDER BY d.updated_at DESC LIMIT 1), '')
		FROM events e`+where+` ORDER BY e.id DESC LIMIT ? OFFSET ?`, append(args, limit, max(p.Offset, 0))...)
	if err != nil {
		return res, fmt.Errorf("sqlite: list events: %w", err)
	}
	defer rows.Close()
	res.Items = []webhook.EventSummary{}
	for rows.Next() {
		var (
			e          webhook.EventSummary
			idem       sql.NullString
			receivedAt int64
			status     string
		)
		if err := rows.Scan(&e.ID, &e.Source, &e.Type, &e.ContentType, &idem, &receivedAt, &status,
			&e.BodySize, &e.Deliveries, &e.Attempts, &e.LastError); err != nil {
			return res, fmt.Errorf("sqlite: scan event: %w", err)
		}
		e.IdempotencyKey, e.ReceivedAt, e.Status = idem.String, fromMicros(receivedAt), webhook.Status(status)
		res.Items = append(res.Items, e)
	}
	return res, rows.Err()
}

// EventCountBySource implements store.Store.
func (s *Store) EventCountBySource(ctx context.Context) ([]store.SourceCount, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT source, status, COUNT(*) FROM events GROUP BY source, status ORDER BY source`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: count by source: %w", err)
	}
	defer rows.Close()
	var out []store.SourceCount
	for rows.Next() {
		var (
			source, status string
			n              int64
		)
		if err := rows.Scan(&source, &status, &n); err != nil {
			return nil, fmt.Errorf("sqlite: scan count: %w", err)
		}
		if len(out) == 0 || out[len(out)-1].Source != source {
			out = append(out, store.SourceCount{Source: source, Counts: map[webhook.Status]int64{}})
		}
		out[len(out)-1].Counts[webhook.Status(status)] = n
	}
	return out, rows.Err()
}

// requeueSet is the UPDATE that gives deliveries a fresh retry budget, due
// at once. Attempts already made stay recorded; new ones count from 1.
const requeueSet = `UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = ?, lease_token = NULL, updated_at = ?`

// DeliveryRequeue implements store.Store.
func (s *Store) DeliveryRequeue(ctx context.Context, p store.DeliveryRequeueParams) (int, error) {
	if len(p.Statuses) == 0 {
		return 0, nil
	}
	var n int64
	err := s.inWrite(ctx, false, func(tx writeTx) error {
		args := []any{micros(p.Now), micros(p.Now), p.EventID}
		for _, st := range p.Statuses {
			args = append(args, string(st))
		}
		res, err := tx.ExecContext(tx.ctx, requeueSet+` WHERE event_id = ? AND lease_token IS NULL
			AND status IN (`+strings.TrimSuffix(strings.Repeat("?, ", len(p.Statuses)), ", ")+`)`, args...)
		if err != nil {
			return fmt.Errorf("sqlite: requeue: %w", err)
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		_, err = s.derive(tx, p.EventID)
		return err
	})
	return int(n), err
}

// DeliveryRequeueDead implements store.Store.
func (s *Store) DeliveryRequeueDead(ctx context.Context, p store.DeliveryRequeueDeadParams) (int, error) {
	from, args := deadMatch(p, deadIndex(p, false))
	match := `SELECT d.id, d.event_id` + from
	if p.DryRun {
		var n int
		err := s.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM (`+match+`)`, args...).Scan(&n)
		if err != nil {
			return 0, fmt.Errorf("sqlite: count dead: %w", err)
		}
		return n, nil
	}
	var n int
	err := s.inWrite(ctx, false, func(tx writeTx) error {
		rows, err := tx.QueryContext(tx.ctx, match, args...)
		if err != nil {
			return fmt.Errorf("sqlite: select dead: %w", err)
		}
		var ids, events []string
		seen := map[string]bool{}
		for rows.Next() {
			var id, ev string
			if err := rows.Scan(&id, &ev); err != nil {
				rows.Close()
				return fmt.Errorf("sqlite: scan dead: %w", err)
			}
			ids = append(ids, id)
			if !seen[ev] {
				seen[ev] = true
				events = append(events, ev)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		requeue, err := tx.PrepareContext(tx.ctx, requeueSet+` WHERE id = ?`)
		if err != nil {
			return err
		}
		defer requeue.Close()
		for _, id := range ids {
			if _, err := requeue.ExecContext(tx.ctx, micros(p.Now), micros(p.Now), id); err != nil {
				return fmt.Errorf("sqlite: requeue dead: %w", err)
			}
		}
		for _, ev := range events {
			if _, err := s.derive(tx, ev); err != nil {
				return err
			}
		}
		n = len(ids)
		return nil
	})
	return n, err
}

// DeliveryListWaiting implements store.Store.
func (s *Store) DeliveryListWaiting(ctx context.Context, p store.DeliveryListWaitingParams) ([]webhook.Delivery, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+deliveryColumns+` FROM deliveries
		WHERE id > ? AND status IN ('pending', 'failed') ORDER BY id LIMIT ?`, p.After, max(p.Limit, 1))
	if err != nil {
		return nil, fmt.Errorf("sqlite: list waiting: %w", err)
	}
	defer rows.Close()
	var out []webhook.Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: scan waiting: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// DeliveryInsertMany implements store.Store.
func (s *Store) DeliveryInsertMany(ctx context.Context, deliveries []webhook.Delivery) error {
	if len(deliveries) == 0 {
		return nil
	}
	return s.inWrite(ctx, true, func(tx writeTx) error {
		ins := tx.stmt(s.st.insertDelivery)
		events := map[string]bool{}
		for _, d := range deliveries {
			if _, err := ins.ExecContext(tx.ctx, d.ID, d.EventID, d.Destination, string(d.Status), micros(d.NextAttemptAt), micros(d.CreatedAt), micros(d.CreatedAt)); err != nil {
				if isConstraint(err) {
					return fmt.Errorf("delivery %s of event %s: %w", d.ID, d.EventID, webhook.ErrNotFound)
				}
				return fmt.Errorf("sqlite: insert delivery: %w", err)
			}
			if err := s.orderInsert(tx, d); err != nil {
				return err
			}
			events[d.EventID] = true
		}
		for ev := range events {
			if _, err := s.derive(tx, ev); err != nil {
				return err
			}
		}
		return nil
	})
}

// derive recomputes one event's status from its deliveries and returns it
// ("" for an event that does not exist).
func (s *Store) derive(tx writeTx, eventID string) (webhook.Status, error) {
	var status string
	if err := tx.stmt(s.st.deriveEventStatus).QueryRowContext(tx.ctx, eventID).Scan(&status); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("sqlite: derive event status: %w", err)
	}
	return webhook.Status(status), nil
}

// isConstraint reports whether err is a SQLite constraint violation.
func isConstraint(err error) bool {
	return err != nil && strings.Contains(err.Error(), "constraint failed")
}

// UserCreate implements store.Store.
func (s *Store) UserCreate(ctx context.Context, u webhook.User) error {
	return s.inWrite(ctx, true, func(tx writeTx) error {
		_, err := tx.ExecContext(tx.ctx, `INSERT INTO users (username, password_hash, role, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`,
			u.Username, u.PasswordHash, u.Role, micros(u.CreatedAt), micros(u.CreatedAt))
		if isConstraint(err) {
			return fmt.Errorf("user %q: %w", u.Username, webhook.ErrConflict)
		}
		return err
	})
}

func scanUser(row interface{ Scan(...any) error }) (webhook.User, error) {
	var (
		u                webhook.User
		created, updated int64
	)
	if err := row.Scan(&u.Username, &u.PasswordHash, &u.Role, &created, &updated); err != nil {
		return u, err
	}
	u.CreatedAt, u.UpdatedAt = fromMicros(created), fromMicros(updated)
	return u, nil
}

// UserGet implements store.Store.
func (s *Store) UserGet(ctx context.Context, username string) (webhook.User, error) {
	u, err := scanUser(s.read.QueryRowContext(ctx, `SELECT username, password_hash, role, created_at, updated_at FROM users WHERE username = ?`, username))
	if errors.Is(err, sql.ErrNoRows) {
		return u, fmt.Errorf("user %q: %w", username, webhook.ErrNotFound)
	}
	if err != nil {
		return u, fmt.Errorf("sqlite: get user: %w", err)
	}
	return u, nil
}

// UserList implements store.Store.
func (s *Store) UserList(ctx context.Context) ([]webhook.User, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT username, password_hash, role, created_at, updated_at FROM users ORDER BY username`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list users: %w", err)
	}
	defer rows.Close()
	var out []webhook.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: scan user: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// UserUpdate implements store.Store.
func (s *Store) UserUpdate(ctx context.Context, p store.UserUpdateParams) error {
	return s.inWrite(ctx, true, func(tx writeTx) error {
		res, err := tx.ExecContext(tx.ctx, `UPDATE users SET password_hash = COALESCE(?, password_hash), role = COALESCE(?, role), updated_at = ?
			WHERE username = ?`, p.PasswordHash, p.Role, micros(p.Now), p.Username)
		if err != nil {
			return fmt.Errorf("sqlite: update user: %w", err)
		}
		return notFoundIfNone(res, "user "+p.Username)
	})
}

// UserDelete implements store.Store.
func (s *Store) UserDelete(ctx context.Context, username string) error {
	return s.inWrite(ctx, true, func(tx writeTx) error {
		res, err := tx.ExecContext(tx.ctx, `DELETE FROM users WHERE username = ?`, username)
		if err != nil {
			return fmt.Errorf("sqlite: delete user: %w", err)
		}
		return notFoundIfNone(res, "user "+username)
	})
}

// UserCount implements store.Store.
func (s *Store) UserCount(ctx context.Context) (int, error) {
	var n int
	if err := s.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count users: %w", err)
	}
	return n, nil
}

func notFoundIfNone(res sql.Result, what string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, webhook.ErrNotFound)
	}
	return nil
}

// APIKeyCreate implements store.Store.
func (s *Store) APIKeyCreate(ctx context.Context, k webhook.APIKey) error {
	return s.inWrite(ctx, true, func(tx writeTx) error {
		_, err := tx.ExecContext(tx.ctx, `INSERT INTO api_keys (id, name, hash, role, created_at) VALUES (?, ?, ?, ?, ?)`,
			k.ID, k.Name, k.Hash, k.Role, micros(k.CreatedAt))
		if isConstraint(err) {
			return fmt.Errorf("api key %q: %w", k.ID, webhook.ErrConflict)
		}
		return err
	})
}

const apiKeyColumns = `id, name, hash, role, created_at, last_used_at`

func scanAPIKey(row interface{ Scan(...any) error }) (webhook.APIKey, error) {
	var (
		k             webhook.APIKey
		created, used int64
	)
	if err := row.Scan(&k.ID, &k.Name, &k.Hash, &k.Role, &created, &used); err != nil {
		return k, err
	}
	k.CreatedAt, k.LastUsedAt = fromMicros(created), fromMicros(used)
	return k, nil
}

// APIKeyGetByHash implements store.Store.
func (s *Store) APIKeyGetByHash(ctx context.Context, hash string) (webhook.APIKey, error) {
	k, err := scanAPIKey(s.read.QueryRowContext(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return k, fmt.Errorf("api key: %w", webhook.ErrNotFound)
	}
	if err != nil {
		return k, fmt.Errorf("sqlite: get api key: %w", err)
	}
	return k, nil
}

// APIKeyList implements store.Store.
func (s *Store) APIKeyList(ctx context.Context) ([]webhook.APIKey, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+apiKeyColumns+` FROM api_keys ORDER BY created_at DESC, id DESC`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list api keys: %w", err)
	}
	defer rows.Close()
	var out []webhook.APIKey
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: scan api key: %w", err)
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// APIKeyDelete implements store.Store.
func (s *Store) APIKeyDelete(ctx context.Context, id string) error {
	return s.inWrite(ctx, true, func(tx writeTx) error {
		res, err := tx.ExecContext(tx.ctx, `DELETE FROM api_keys WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("sqlite: delete api key: %w", err)
		}
		return notFoundIfNone(res, "api key "+id)
	})
}

// CatalogList implements store.Store.
func (s *Store) CatalogList(ctx context.Context, kind store.CatalogKind) ([]store.CatalogEntry, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT name, doc, created_at, updated_at FROM catalog WHERE kind = ? ORDER BY name`, string(kind))
	if err != nil {
		return nil, fmt.Errorf("sqlite: list catalog: %w", err)
	}
	defer rows.Close()
	var out []store.CatalogEntry
	for rows.Next() {
		var (
			e                store.CatalogEntry
			doc              string
			created, updated int64
		)
		if err := rows.Scan(&e.Name, &doc, &created, &updated); err != nil {
			return nil, fmt.Errorf("sqlite: scan catalog: %w", err)
		}
		e.Doc, e.CreatedAt, e.UpdatedAt = []byte(doc), fromMicros(created), fromMicros(updated)
		out = append(out, e)
	}
	return out, rows.Err()
}

// CatalogPut implements store.Store.
func (s *Store) CatalogPut(ctx context.Context, p store.CatalogPutParams) error {
	return s.inWrite(ctx, true, func(tx writeTx) error {
		if p.Create {
			_, err := tx.ExecContext(tx.ctx, `INSERT INTO catalog (kind, name, doc, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`,
				string(p.Kind), p.Name, string(p.Doc), micros(p.Now), micros(p.Now))
			if isConstraint(err) {
				return fmt.Errorf("%s %q: %w", p.Kind, p.Name, webhook.ErrConflict)
			}
			return err
		}
		res, err := tx.ExecContext(tx.ctx, `UPDATE catalog SET doc = ?, updated_at = ? WHERE kind = ? AND name = ?`,
			string(p.Doc), micros(p.Now), string(p.Kind), p.Name)
		if err != nil {
			return fmt.Errorf("sqlite: update catalog: %w", err)
		}
		return notFoundIfNone(res, string(p.Kind)+" "+p.Name)
	})
}

// CatalogDelete implements store.Store.
func (s *Store) CatalogDelete(ctx context.Context, kind store.CatalogKind, name string) error {
	return s.inWrite(ctx, true, func(tx writeTx) error {
		res, err := tx.ExecContext(tx.ctx, `DELETE FROM catalog WHERE kind = ? AND name = ?`, string(kind), name)
		if err != nil {
			return fmt.Errorf("sqlite: delete catalog: %w", err)
		}
		return notFoundIfNone(res, string(kind)+" "+name)
	})
}
