package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/webhook"
)

// statsCommand is `hookd stats`: the store's size and counts, read from
// the database directly, so that it answers with hookd stopped too.
func statsCommand(envFile *string) *cobra.Command {
	sf := &storeFlags{envFile: envFile}
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "stats",
		Short: "Show the store's size and how many events it holds",
		Long: `stats prints the size of hookd's store and what it holds: events and
deliveries by status, attempts, and when the oldest event arrived. The size
is the SQLite file with its write-ahead log, or on PostgreSQL the total size
of hookd's tables with their indexes.

It opens the database named by DATABASE_URL (or --database-url, or the .env
file) directly and works while hookd serve is running. Use it to choose
HOOKD_RETENTION and to watch what retention frees.`,
		Example: `  hookd stats
  hookd stats --json --database-url postgres://hookd@db/hookd`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return sf.withStore(cmd, false, func(ctx context.Context, st store.Store) error {
				u, err := st.UsageGet(ctx)
				if err != nil {
					return err
				}
				if asJSON {
					return writeUsageJSON(cmd.OutOrStdout(), u)
				}
				return writeUsage(cmd.OutOrStdout(), u, time.Now())
			})
		},
	}
	sf.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of text")
	return cmd
}

// statusOrder lists statuses in the order of the life of a delivery.
var statusOrder = []webhook.Status{webhook.StatusPending, webhook.StatusFailed, webhook.StatusSuccess, webhook.StatusPermanentFailure}

func sumCounts(m map[webhook.Status]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// countLine is "12 (pending 2, success 10)", statuses in statusOrder then
// any other stored status by name.
func countLine(m map[webhook.Status]int64) string {
	var parts []string
	seen := map[webhook.Status]bool{}
	for _, s := range statusOrder {
		seen[s] = true
		if m[s] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", s, m[s]))
		}
	}
	var others []string
	for s, n := range m {
		if !seen[s] && n > 0 {
			others = append(others, fmt.Sprintf("%s %d", s, n))
		}
	}
	slices.Sort(others)
	parts = append(parts, others...)
	if len(parts) == 0 {
		return "0"
	}
	return fmt.Sprintf("%d (%s)", sumCounts(m), strings.Join(parts, ", "))
}

func writeUsage(w io.Writer, u store.Usage, now time.Time) error {
	t := newTable(w)
	t.row("size", humanSize(u.SizeBytes))
	t.row("events", countLine(u.Events))
	t.row("deliveries", countLine(u.Deliveries))
	t.row("attempts", fmt.Sprint(u.Attempts))
	oldest := "none"
	if !u.OldestEvent.IsZero() {
		oldest = fmt.Sprintf("%s (%s ago)", u.OldestEvent.UTC().Format(time.RFC3339), now.Sub(u.OldestEvent).Round(time.Second))
	}
	t.row("oldest event", oldest)
	return t.flush()
}

func writeUsageJSON(w io.Writer, u store.Usage) error {
	out := struct {
		SizeBytes   int64                    `json:"size_bytes"`
		Events      map[webhook.Status]int64 `json:"events"`
		Deliveries  map[webhook.Status]int64 `json:"deliveries"`
		Attempts    int64                    `json:"attempts"`
		OldestEvent *time.Time               `json:"oldest_event"`
	}{SizeBytes: u.SizeBytes, Events: u.Events, Deliveries: u.Deliveries, Attempts: u.Attempts}
	if !u.OldestEvent.IsZero() {
		out.OldestEvent = &u.OldestEvent
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// humanSize is a byte count in binary units, such as "12.3 MiB".
func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB (%d bytes)", float64(n)/float64(div), "KMGTPE"[exp], n)
}
