package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/webhook"
)

// The management side of the store: listing and counting events, moving
// deliveries back into the queue, users, API keys and the catalog. None of
// it is on the ingest or delivery hot path.

// args collects query arguments and names their placeholders.
type args []any

// add appends v and returns its placeholder.
func (a *args) add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}

// eventFilter builds the WHERE clause shared by EventList's page and count.
func eventFilter(p store.EventListParams, a *args) string {
	var where []string
	if p.Status != "" {
		where = append(where, `e.status = `+a.add(string(p.Status)))
	}
	if p.Source != "" {
		where = append(where, `e.source = `+a.add(p.Source))
	}
	if p.Type != "" {
		where = append(where, `e.type = `+a.add(p.Type))
	}
	if p.Destination != "" {
		where = append(where, `EXISTS (SELECT 1 FROM deliveries d WHERE d.destination = `+a.add(p.Destination)+` AND d.event_id = e.id)`)
	}
	if !p.From.IsZero() {
		where = append(where, `e.received_at >= `+a.add(p.From))
	}
	if !p.To.IsZero() {
		where = append(where, `e.received_at < `+a.add(p.To))
	}
	if p.Before != "" {
		where = append(where, `e.id < `+a.add(p.Before))
	}
	if p.Query != "" {
		q := a.add(p.Query)
		where = append(where, `(e.id = `+q+` OR e.idempotency_key = `+q+` OR e.type = `+q+
			` OR position(`+a.add([]byte(p.Query))+`::bytea IN e.body) > 0)`)
	}
	if len(where) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(where, " AND ")
}

// EventList implements store.Store.
func (s *Store) EventList(ctx context.Context, p store.EventListParams) (store.EventListResult, error) {
	res := store.EventListResult{Total: -1}
	if err := s.open(); err != nil {
		return res, err
	}
	var a args
	where := eventFilter(p, &a)
	if !p.NoTotal {
		if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM events e`+where, a...).Scan(&res.Total); err != nil {
			return res, s.fail("count events", err)
		}
	}
	limit := p.Limit
	if limit <= 0 {
		limit = 20
	}
	page := `SELECT e.id, e.source, e.type, e.content_type, e.idempotency_key,
		e.received_at, e.status, COALESCE(e.body_size, octet_length(e.body)),
		(SELECT count(*) FROM deliveries d WHERE d.event_id = e.id),
		(SELECT coalesce(sum(d.attempts), 0) FROM deliveries d WHERE d.event_id = e.id),
		coalesce((SELECT d.last_error FROM deliveries d WHERE d.event_id = e.id AND d.last_error <> ''
			ORDER BY d.updated_at DESC LIMIT 1), '')
		FROM events e` + where + ` ORDER BY e.id DESC LIMIT ` + a.add(limit) + ` OFFSET ` + a.add(max(p.Offset, 0))
	rows, err := s.pool.Query(ctx, page, a...)
	if err != nil {
		return res, s.fail("list events", err)
	}
	items, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (webhook.EventSummary, error) {
		var (
			e      webhook.EventSummary
			idem   *string
			status string
		)
		if err := row.Scan(&e.ID, &e.Source, &e.Type, &e.ContentType, &idem, &e.ReceivedAt, &status,
			&e.BodySize, &e.Deliveries, &e.Attempts, &e.LastError); err != nil {
			return e, err
		}
		if idem != nil {
			e.IdempotencyKey = *idem
		}
		e.ReceivedAt, e.Status = utc(e.ReceivedAt), webhook.Status(status)
		return e, nil
	})
	if err != nil {
		return res, s.fail("list events", err)
	}
	res.Items = items
	if res.Items == nil {
		res.Items = []webhook.EventSummary{}
	}
	return res, nil
}

// EventCountBySource implements store.Store.
func (s *Store) EventCountBySource(ctx context.Context) ([]store.SourceCount, error) {
	if err := s.open(); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT source, status, count(*) FROM events GROUP BY source, status ORDER BY source`)
	if err != nil {
		return nil, s.fail("count by source", err)
	}
	defer rows.Close()
	var out []store.SourceCount
	for rows.Next() {
		var (
			source, status string
			n              int64
		)
		if err := rows.Scan(&source, &status, &n); err != nil {
			return nil, s.fail("count by source", err)
		}
		if len(out) == 0 || out[len(out)-1].Source != source {
			out = append(out, store.SourceCount{Source: source, Counts: map[webhook.Status]int64{}})
		}
		out[len(out)-1].Counts[webhook.Status(status)] = n
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("count by source", err)
	}
	return out, nil
}

// requeueSet is the UPDATE that gives deliveries a fresh retry budget, due
// at once (now names the placeholder holding the time). Attempts already
// made stay recorded; new ones count from 1.
func requeueSet(now string) string {
	return `UPDATE deliveries d SET status = 'pending', attempts = 0, next_attempt_at = ` + now +
		`, lease_token = NULL, updated_at = ` + now
}

// DeliveryRequeue implements store.Store.
func (s *Store) DeliveryRequeue(ctx context.Context, p store.DeliveryRequeueParams) (int, error) {
	if err := s.open(); err != nil {
		return 0, err
	}
	if len(p.Statuses) == 0 {
		return 0, nil
	}
	statuses := make([]string, len(p.Statuses))
	for i, st := range p.Statuses {
		statuses[i] = string(st)
	}
	var n int64
	err := s.send(ctx, func(b *pgx.Batch) {
		b.Queue(requeueSet("$1")+` WHERE d.event_id = $2 AND d.lease_token IS NULL AND d.status = ANY ($3::text[])`,
			p.Now, p.EventID, statuses).Exec(func(ct pgconn.CommandTag) error {
			n = ct.RowsAffected()
			return nil
		})
		queueDerive(b, []string{p.EventID})
	})
	if err != nil {
		return 0, s.fail("requeue", err)
	}
	return int(n), nil
}

// DeliveryRequeueDead implements store.Store.
func (s *Store) DeliveryRequeueDead(ctx context.Context, p store.DeliveryRequeueDeadParams) (int, error) {
	if err := s.open(); err != nil {
		return 0, err
	}
	var a args
	cond := deadCond(p, &a)
	if p.DryRun {
		var n int
		if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM deliveries d, events e WHERE `+cond, a...).Scan(&n); err != nil {
			return 0, s.fail("count dead", err)
		}
		return n, nil
	}
	set := requeueSet(a.add(p.Now))
	var n int
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var events []string
		err := tx.QueryRow(ctx, `WITH moved AS (`+set+` FROM events e WHERE `+cond+` RETURNING d.event_id)
			SELECT count(*), coalesce(array_agg(DISTINCT event_id), '{}') FROM moved`, a...).Scan(&n, &events)
		if err != nil {
			return err
		}
		if len(events) == 0 {
			return nil
		}
		b := &pgx.Batch{}
		queueDerive(b, events)
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return 0, s.fail("requeue dead", err)
	}
	return n, nil
}

const insertDeliverySQL = `INSERT INTO deliveries (id, event_id, destination, status, attempts, next_attempt_at, created_at, updated_at)
	VALUES ($1, $2, $3, $4, 0, $5, $6, $6)`

// DeliveryInsertMany implements store.Store.
func (s *Store) DeliveryInsertMany(ctx context.Context, deliveries []webhook.Delivery) error {
	if err := s.open(); err != nil {
		return err
	}
	if len(deliveries) == 0 {
		return nil
	}
	var events []string
	seen := map[string]bool{}
	for _, d := range deliveries {
		if !seen[d.EventID] {
			seen[d.EventID] = true
			events = append(events, d.EventID)
		}
	}
	err := s.send(ctx, func(b *pgx.Batch) {
		for _, d := range deliveries {
			b.Queue(insertDeliverySQL, d.ID, d.EventID, d.Destination, string(d.Status), d.NextAttemptAt, d.CreatedAt)
			if d.Ordered {
				b.Queue(orderDeliverySQL, d.ID, d.OrderingKey)
			}
		}
		queueDerive(b, events)
	})
	if hasCode(err, codeForeignKeyViolation) {
		var pgErr *pgconn.PgError
		errors.As(err, &pgErr)
		return fmt.Errorf("delivery for a missing event (%s): %w", pgErr.Detail, webhook.ErrNotFound)
	}
	if err != nil {
		return s.fail("insert deliveries", err)
	}
	return nil
}

// exec runs one statement outside the hot path and maps its errors: a
// unique violation becomes webhook.ErrConflict, and when wantRow is set no
// row affected becomes webhook.ErrNotFound; what names the thing.
func (s *Store) exec(ctx context.Context, what string, wantRow bool, sql string, arguments ...any) error {
	if err := s.open(); err != nil {
		return err
	}
	ct, err := s.pool.Exec(ctx, sql, arguments...)
	if hasCode(err, codeUniqueViolation) {
		return fmt.Errorf("%s: %w", what, webhook.ErrConflict)
	}
	if err != nil {
		return s.fail(what, err)
	}
	if wantRow && ct.RowsAffected() == 0 {
		return fmt.Errorf("%s: %w", what, webhook.ErrNotFound)
	}
	return nil
}

// UserCreate implements store.Store.
func (s *Store) UserCreate(ctx context.Context, u webhook.User) error {
	return s.exec(ctx, fmt.Sprintf("user %q", u.Username), false,
		`INSERT INTO users (username, password_hash, role, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)`,
		u.Username, u.PasswordHash, u.Role, u.CreatedAt)
}

const userColumns = `username, password_hash, role, created_at, updated_at`

func scanUser(row pgx.CollectableRow) (webhook.User, error) {
	var u webhook.User
	if err := row.Scan(&u.Username, &u.PasswordHash, &u.Role, &u.CreatedAt, &u.UpdatedAt); err != nil {
		return u, err
	}
	u.CreatedAt, u.UpdatedAt = utc(u.CreatedAt), utc(u.UpdatedAt)
	return u, nil
}

// UserGet implements store.Store.
func (s *Store) UserGet(ctx context.Context, username string) (webhook.User, error) {
	if err := s.open(); err != nil {
		return webhook.User{}, err
	}
	rows, _ := s.pool.Query(ctx, `SELECT `+userColumns+` FROM users WHERE username = $1`, username)
	u, err := pgx.CollectExactlyOneRow(rows, scanUser)
	if errors.Is(err, pgx.ErrNoRows) {
		return u, fmt.Errorf("user %q: %w", username, webhook.ErrNotFound)
	}
	if err != nil {
		return u, s.fail("get user", err)
	}
	return u, nil
}

// UserList implements store.Store.
func (s *Store) UserList(ctx context.Context) ([]webhook.User, error) {
	if err := s.open(); err != nil {
		return nil, err
	}
	rows, _ := s.pool.Query(ctx, `SELECT `+userColumns+` FROM users ORDER BY username`)
	out, err := pgx.CollectRows(rows, scanUser)
	if err != nil {
		return nil, s.fail("list users", err)
	}
	return out, nil
}

// UserUpdate implements store.Store.
func (s *Store) UserUpdate(ctx context.Context, p store.UserUpdateParams) error {
	return s.exec(ctx, "user "+p.Username, true,
		`UPDATE users SET password_hash = coalesce($1, password_hash), role = coalesce($2, role), updated_at = $3
		WHERE username = $4`, p.PasswordHash, p.Role, p.Now, p.Username)
}

// UserDelete implements store.Store.
func (s *Store) UserDelete(ctx context.Context, username string) error {
	return s.exec(ctx, "user "+username, true, `DELETE FROM users WHERE username = $1`, username)
}

// UserCount implements store.Store.
func (s *Store) UserCount(ctx context.Context) (int, error) {
	if err := s.open(); err != nil {
		return 0, err
	}
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
		return 0, s.fail("count users", err)
	}
	return n, nil
}

// APIKeyCreate implements store.Store.
func (s *Store) APIKeyCreate(ctx context.Context, k webhook.APIKey) error {
	return s.exec(ctx, fmt.Sprintf("api key %q", k.ID), false,
		`INSERT INTO api_keys (id, name, hash, role, created_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		k.ID, k.Name, k.Hash, k.Role, k.CreatedAt, nullTime(k.LastUsedAt))
}

const apiKeyColumns = `id, name, hash, role, created_at, last_used_at`

func scanAPIKey(row pgx.CollectableRow) (webhook.APIKey, error) {
	var (
		k    webhook.APIKey
		used *time.Time
	)
	if err := row.Scan(&k.ID, &k.Name, &k.Hash, &k.Role, &k.CreatedAt, &used); err != nil {
		return k, err
	}
	k.CreatedAt, k.LastUsedAt = utc(k.CreatedAt), fromNullTime(used)
	return k, nil
}

// APIKeyGetByHash implements store.Store.
func (s *Store) APIKeyGetByHash(ctx context.Context, hash string) (webhook.APIKey, error) {
	if err := s.open(); err != nil {
		return webhook.APIKey{}, err
	}
	rows, _ := s.pool.Query(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE hash = $1`, hash)
	k, err := pgx.CollectExactlyOneRow(rows, scanAPIKey)
	if errors.Is(err, pgx.ErrNoRows) {
		return k, fmt.Errorf("api key: %w", webhook.ErrNotFound)
	}
	if err != nil {
		return k, s.fail("get api key", err)
	}
	return k, nil
}

// APIKeyList implements store.Store.
func (s *Store) APIKeyList(ctx context.Context) ([]webhook.APIKey, error) {
	if err := s.open(); err != nil {
		return nil, err
	}
	rows, _ := s.pool.Query(ctx, `SELECT `+apiKeyColumns+` FROM api_keys ORDER BY created_at DESC, id DESC`)
	out, err := pgx.CollectRows(rows, scanAPIKey)
	if err != nil {
		return nil, s.fail("list api keys", err)
	}
	return out, nil
}

// APIKeyDelete implements store.Store.
func (s *Store) APIKeyDelete(ctx context.Context, id string) error {
	return s.exec(ctx, "api key "+id, true, `DELETE FROM api_keys WHERE id = $1`, id)
}

// CatalogList implements store.Store.
func (s *Store) CatalogList(ctx context.Context, kind store.CatalogKind) ([]store.CatalogEntry, error) {
	if err := s.open(); err != nil {
		return nil, err
	}
	rows, _ := s.pool.Query(ctx, `SELECT name, doc, created_at, updated_at FROM catalog WHERE kind = $1 ORDER BY name`, string(kind))
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.CatalogEntry, error) {
		var (
			e   store.CatalogEntry
			doc string
		)
		if err := row.Scan(&e.Name, &doc, &e.CreatedAt, &e.UpdatedAt); err != nil {
			return e, err
		}
		e.Doc, e.CreatedAt, e.UpdatedAt = []byte(doc), utc(e.CreatedAt), utc(e.UpdatedAt)
		return e, nil
	})
	if err != nil {
		return nil, s.fail("list catalog", err)
	}
	return out, nil
}

// CatalogPut implements store.Store.
func (s *Store) CatalogPut(ctx context.Context, p store.CatalogPutParams) error {
	what := fmt.Sprintf("%s %q", p.Kind, p.Name)
	if p.Create {
		return s.exec(ctx, what, false, `INSERT INTO catalog (kind, name, doc, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)`,
			string(p.Kind), p.Name, string(p.Doc), p.Now)
	}
	return s.exec(ctx, what, true, `UPDATE catalog SET doc = $1, updated_at = $2 WHERE kind = $3 AND name = $4`,
		string(p.Doc), p.Now, string(p.Kind), p.Name)
}

// CatalogDelete implements store.Store.
func (s *Store) CatalogDelete(ctx context.Context, kind store.CatalogKind, name string) error {
	return s.exec(ctx, fmt.Sprintf("%s %q", kind, name), true, `DELETE FROM catalog WHERE kind = $1 AND name = $2`, string(kind), name)
}
