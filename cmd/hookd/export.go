package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/webhook"
)

// The export file: JSON lines, one event per line with its deliveries and
// their attempts. []byte fields (the payload, response excerpts) are
// base64, as encoding/json writes them. The same shape is read back by
// `hookd import`, whatever store wrote it.

type exportEvent struct {
	ID             string            `json:"id"`
	Source         string            `json:"source"`
	Type           string            `json:"type"`
	ContentType    string            `json:"content_type"`
	Headers        map[string]string `json:"headers"`
	IdempotencyKey string            `json:"idempotency_key,omitempty"`
	ReceivedAt     time.Time         `json:"received_at"`
	Status         webhook.Status    `json:"status"`
	Payload        []byte            `json:"payload"`
	Deliveries     []exportDelivery  `json:"deliveries"`
}

type exportDelivery struct {
	ID            string          `json:"id"`
	Destination   string          `json:"destination"`
	Status        webhook.Status  `json:"status"`
	AttemptCount  int             `json:"attempt_count"`
	NextAttemptAt time.Time       `json:"next_attempt_at"`
	LastError     string          `json:"last_error,omitempty"`
	CreatedAt     time.Time       `json:"created_at"`
	UpdatedAt     time.Time       `json:"updated_at"`
	Attempts      []exportAttempt `json:"attempts"`
}

type exportAttempt struct {
	ID           string    `json:"id"`
	Number       int       `json:"number"`
	StartedAt    time.Time `json:"started_at"`
	DurationUS   int64     `json:"duration_us"`
	StatusCode   int       `json:"status_code"`
	ResponseBody []byte    `json:"response_body,omitempty"`
	Error        string    `json:"error,omitempty"`
}

func toExport(r store.EventRecord) exportEvent {
	ev := r.Event
	out := exportEvent{ID: ev.ID, Source: ev.Source, Type: ev.Type, ContentType: ev.ContentType, Headers: ev.Headers,
		IdempotencyKey: ev.IdempotencyKey, ReceivedAt: ev.ReceivedAt.UTC(), Status: ev.Status, Payload: ev.Body,
		Deliveries: []exportDelivery{}}
	if out.Payload == nil {
		out.Payload = []byte{}
	}
	for _, dr := range r.Deliveries {
		d := dr.Delivery
		ed := exportDelivery{ID: d.ID, Destination: d.Destination, Status: d.Status, AttemptCount: d.Attempts,
			NextAttemptAt: d.NextAttemptAt.UTC(), LastError: d.LastError, CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC(),
			Attempts: []exportAttempt{}}
		for _, a := range dr.Attempts {
			ed.Attempts = append(ed.Attempts, exportAttempt{ID: a.ID, Number: a.Number, StartedAt: a.StartedAt.UTC(),
				DurationUS: a.Duration.Microseconds(), StatusCode: a.StatusCode, ResponseBody: a.ResponseBody, Error: a.Error})
		}
		out.Deliveries = append(out.Deliveries, ed)
	}
	return out
}

func fromExport(e exportEvent) store.EventRecord {
	r := store.EventRecord{Event: webhook.Event{ID: e.ID, Source: e.Source, Type: e.Type, Body: e.Payload, ContentType: e.ContentType,
		Headers: e.Headers, IdempotencyKey: e.IdempotencyKey, ReceivedAt: e.ReceivedAt, Status: e.Status}}
	for _, ed := range e.Deliveries {
		dr := store.DeliveryRecord{Delivery: webhook.Delivery{ID: ed.ID, EventID: e.ID, Destination: ed.Destination, Status: ed.Status,
			Attempts: ed.AttemptCount, NextAttemptAt: ed.NextAttemptAt, LastError: ed.LastError, CreatedAt: ed.CreatedAt, UpdatedAt: ed.UpdatedAt}}
		for _, a := range ed.Attempts {
			dr.Attempts = append(dr.Attempts, webhook.Attempt{ID: a.ID, DeliveryID: ed.ID, Number: a.Number, StartedAt: a.StartedAt,
				Duration: time.Duration(a.DurationUS) * time.Microsecond, StatusCode: a.StatusCode, ResponseBody: a.ResponseBody, Error: a.Error})
		}
		r.Deliveries = append(r.Deliveries, dr)
	}
	return r
}

// exportPage is how many events one listing query returns.
const exportPage = 500

// exportEvents writes the events matching filter to w, newest first, and
// returns how many. It walks the store by keyset (event id), a page at a
// time, each page read from one snapshot in three queries, so memory stays
// flat whatever the store holds; events that arrive during the export are
// not included.
func exportEvents(ctx context.Context, st store.Store, w io.Writer, filter store.EventListParams, prog *progress) (int, error) {
	filter.Limit = exportPage
	enc := json.NewEncoder(w)
	n := 0
	for {
		page, err := st.EventRecordList(ctx, filter)
		if err != nil {
			return n, err
		}
		for _, r := range page {
			if err := enc.Encode(toExport(r)); err != nil {
				return n, fmt.Errorf("write: %w", err)
			}
		}
		n += len(page)
		prog.add(len(page))
		if len(page) < exportPage {
			return n, nil
		}
		filter.Before = page[len(page)-1].Event.ID
	}
}

// exportCommand is `hookd export`.
func exportCommand(envFile *string) *cobra.Command {
	sf := &storeFlags{envFile: envFile}
	var (
		output, source string
		since, until   string
	)
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write events with their deliveries and attempts as JSON lines",
		Long: `export writes stored events as JSON lines, one event per line with its
deliveries and their attempts, the payload in base64, newest first: a
backup, or the way to move hookd from SQLite to PostgreSQL and back with
hookd import. It reads the database named by DATABASE_URL (or
--database-url, or the .env file) directly, page by page, and works while
hookd serve is running; events that arrive meanwhile are not included.

--since and --until take an RFC 3339 time or a duration back from now
(72h); --since is inclusive, --until exclusive. Progress goes to standard
error: a bar on a terminal, a line a second otherwise.`,
		Example: `  hookd export --output hookd-events.jsonl
  hookd export --source github --since 168h > last-week.jsonl
  hookd export --database-url sqlite://./data/hookd.db | hookd import --database-url postgres://hookd@db/hookd`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			now := time.Now()
			filter := store.EventListParams{Source: source}
			var err error
			if filter.From, err = parseWhen(since, now); err != nil {
				return fmt.Errorf("--since: %w", err)
			}
			if filter.To, err = parseWhen(until, now); err != nil {
				return fmt.Errorf("--until: %w", err)
			}
			return sf.withStore(cmd, false, func(ctx context.Context, st store.Store) (err error) {
				w := cmd.OutOrStdout()
				if output != "" && output != "-" {
					f, err := os.Create(output)
					if err != nil {
						return err
					}
					defer func() {
						if cerr := f.Close(); err == nil && cerr != nil {
							err = cerr
						}
					}()
					w = f
				}
				bw := bufio.NewWriterSize(w, 1<<16)
				prog := newProgress(cmd.ErrOrStderr(), "events exported")
				n, err := exportEvents(ctx, st, bw, filter, prog)
				prog.finish()
				if ferr := bw.Flush(); err == nil && ferr != nil {
					err = fmt.Errorf("write: %w", ferr)
				}
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "exported %s\n", plural(n, "event"))
				return nil
			})
		},
	}
	sf.register(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to this file instead of standard output")
	cmd.Flags().StringVar(&source, "source", "", "only events of this source")
	cmd.Flags().StringVar(&since, "since", "", "only events received at or after this time (RFC 3339, or a duration back from now)")
	cmd.Flags().StringVar(&until, "until", "", "only events received before this time (RFC 3339, or a duration back from now)")
	return cmd
}

// parseWhen reads an RFC 3339 time or a duration back from now; "" is the
// zero time (no bound).
func parseWhen(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time (2026-01-02T15:04:05Z) nor a duration such as 72h", s)
}
