package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/webhook"
)

// importBatch is how many events one import transaction stores: big
// enough to pay for one commit per batch, small enough that ingest on a
// serving hookd waits for little.
const importBatch = 100

// importResult counts what an import did.
type importResult struct {
	Read, Stored int
}

// importEvents reads JSON lines from r and stores the events that are not
// stored yet. Lines are read one at a time (a payload may be large), and
// stored in batches.
func importEvents(ctx context.Context, st store.Store, r io.Reader, prog *progress) (importResult, error) {
	var (
		res   importResult
		batch []store.EventRecord
		line  int
	)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		n, err := st.EventImportMany(ctx, batch)
		if err != nil {
			return err
		}
		res.Stored += n
		prog.add(len(batch))
		batch = batch[:0]
		return nil
	}
	br := bufio.NewReaderSize(r, 1<<16)
	for {
		raw, err := br.ReadBytes('\n')
		if len(raw) > 0 {
			line++
			if rec, ok, perr := parseImportLine(raw); perr != nil {
				return res, fmt.Errorf("line %d: %w", line, perr)
			} else if ok {
				res.Read++
				batch = append(batch, rec)
				if len(batch) == importBatch {
					if err := flush(); err != nil {
						return res, err
					}
				}
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return res, fmt.Errorf("read: %w", err)
		}
	}
	return res, flush()
}

// parseImportLine decodes one line; blank lines are skipped (ok false).
func parseImportLine(raw []byte) (store.EventRecord, bool, error) {
	if len(trimSpaceBytes(raw)) == 0 {
		return store.EventRecord{}, false, nil
	}
	var e exportEvent
	if err := json.Unmarshal(raw, &e); err != nil {
		return store.EventRecord{}, false, fmt.Errorf("%w: not an exported event: %w", webhook.ErrInvalid, err)
	}
	if err := validateImport(e); err != nil {
		return store.EventRecord{}, false, err
	}
	return fromExport(e), true, nil
}

func trimSpaceBytes(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

func validStatus(s webhook.Status) bool {
	switch s {
	case webhook.StatusPending, webhook.StatusFailed, webhook.StatusSuccess, webhook.StatusPermanentFailure:
		return true
	}
	return false
}

// validateImport refuses records the store could not hold or hookd could
// not deliver: each must say what it is and where it goes.
func validateImport(e exportEvent) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: event %q: %s", webhook.ErrInvalid, e.ID, fmt.Sprintf(format, a...))
	}
	if e.ID == "" || e.Source == "" {
		return bad("id and source are required")
	}
	if e.ReceivedAt.IsZero() {
		return bad("received_at is required")
	}
	if !validStatus(e.Status) {
		return bad("unknown status %q", e.Status)
	}
	for _, d := range e.Deliveries {
		if d.ID == "" || d.Destination == "" {
			return bad("a delivery needs an id and a destination")
		}
		if !validStatus(d.Status) {
			return bad("delivery %q: unknown status %q", d.ID, d.Status)
		}
		for _, a := range d.Attempts {
			if a.ID == "" {
				return bad("delivery %q: an attempt needs an id", d.ID)
			}
		}
	}
	return nil
}

// importCommand is `hookd import`.
func importCommand(envFile *string) *cobra.Command {
	sf := &storeFlags{envFile: envFile}
	cmd := &cobra.Command{
		Use:   "import [FILE]",
		Short: "Store events from a hookd export (JSON lines)",
		Long: `import reads a file written by hookd export (or standard input when FILE is
missing or -) and stores its events with their deliveries and attempts into
the database named by DATABASE_URL (or --database-url, or the .env file),
keeping their ids, statuses and times.

An event whose id (or source and idempotency key) is stored already is
skipped, so importing a file twice, or again after an interruption, changes
nothing that the first import stored. Deliveries still pending or failed
stay so and are delivered by the hookd that serves this database, when
they are due. Progress goes to standard error: a bar on a terminal, a line
a second otherwise.`,
		Example: `  hookd import hookd-events.jsonl --database-url postgres://hookd@db/hookd
  hookd export --database-url sqlite://./data/hookd.db | hookd import --database-url postgres://hookd@db/hookd`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in, name := cmd.InOrStdin(), "standard input"
			if len(args) == 1 && args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer f.Close()
				in, name = f, args[0]
			}
			return sf.withStore(cmd, true, func(ctx context.Context, st store.Store) error {
				prog := newProgress(cmd.ErrOrStderr(), "events imported")
				res, err := importEvents(ctx, st, in, prog)
				prog.finish()
				if err != nil {
					return fmt.Errorf("import from %s (%s stored before the error): %w", name, plural(res.Stored, "event"), err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "imported %s from %s: %d new, %d already stored\n",
					plural(res.Read, "event"), name, res.Stored, res.Read-res.Stored)
				return nil
			})
		},
	}
	sf.register(cmd)
	return cmd
}
