package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/hookd/hookd/internal/api"
	"github.com/hookd/hookd/internal/client"
)

// eventsCommand is `hookd events`: the management API's event routes for
// terminal users, over HTTP to a running hookd. envFile is the root's
// --env-file.
func eventsCommand(envFile *string) *cobra.Command {
	rf := &remoteFlags{envFile: envFile}
	cmd := &cobra.Command{
		Use:   "events",
		Short: "List, inspect, retry and replay events on a running hookd",
		Long: `events lists the events a running hookd received, shows one with its
payload, headers, deliveries and attempts, and sends events again: retry
re-queues failed and dead deliveries (same webhook-id), replay sends an
event again as new deliveries (new webhook-id).

These commands talk to the management API of the server named by --server
(HOOKD_SERVER, default http://127.0.0.1:4000) with an API key (--api-key,
HOOKD_API_KEY) or a login token (--token, HOOKD_TOKEN). Listing and showing
need any role; retry and replay need admin.`,
		Example: `  export HOOKD_API_KEY=$(hookd apikey create --name ops --role admin)
  hookd events ls --status permanent_failure --source stripe
  hookd events show evt_01M8HQRNBNC8DHDG1A16NV2J96
  hookd events retry --dead --source stripe --dry-run`,
		Args: cobra.NoArgs,
	}
	rf.register(cmd)
	cmd.AddCommand(eventsLsCommand(rf), eventsShowCommand(rf), eventsRetryCommand(rf), eventsReplayCommand(rf))
	return cmd
}

// eventFilterFlags are the filters of GET /api/webhooks as flags.
type eventFilterFlags struct {
	status, source, destination, eventType, query, since, until string
}

func (f *eventFilterFlags) register(cmd *cobra.Command, rf *remoteFlags) {
	fl := cmd.Flags()
	fl.StringVar(&f.status, "status", "", "only events in this status: pending, success, failed or permanent_failure")
	fl.StringVar(&f.source, "source", "", "only events of this source")
	fl.StringVar(&f.destination, "destination", "", "only events with a delivery to this destination")
	fl.StringVar(&f.eventType, "type", "", "only events of this type, exactly")
	fl.StringVar(&f.query, "q", "", "an event id, idempotency key or type exactly, or any part of the payload")
	fl.StringVar(&f.since, "since", "", "only events received at or after: RFC 3339 time, date, or age such as 90m, 36h, 7d")
	fl.StringVar(&f.until, "until", "", "only events received before: RFC 3339 time, date, or age")
	completeStatus(cmd, "status")
	completeCatalog(cmd, rf, "source", sourceNames)
	completeCatalog(cmd, rf, "destination", destinationNames)
}

func (f *eventFilterFlags) params(now time.Time) (client.ListParams, error) {
	p := client.ListParams{Status: f.status, Source: f.source, Destination: f.destination, Type: f.eventType, Query: f.query}
	var err error
	if p.From, err = parseTimeFlag("since", f.since, now); err != nil {
		return p, err
	}
	if p.To, err = parseTimeFlag("until", f.until, now); err != nil {
		return p, err
	}
	return p, nil
}

// parseTimeFlag reads a --since or --until value: an RFC 3339 time, a date
// (midnight UTC), or an age before now such as 90m, 36h or 7d (Go
// durations, plus whole days). Empty means no bound.
func parseTimeFlag(name, v string, now time.Time) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	var age time.Duration
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > 36500 {
			return time.Time{}, fmt.Errorf("--%s: %q is not a number of days such as 7d", name, v)
		}
		age = time.Duration(n) * 24 * time.Hour
	} else {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return time.Time{}, fmt.Errorf("--%s: %q is not an RFC 3339 time (2026-01-02T15:04:05Z), a date (2026-01-02) or an age (90m, 36h, 7d)", name, v)
		}
		age = d
	}
	return now.Add(-age).UTC(), nil
}

func eventsLsCommand(rf *remoteFlags) *cobra.Command {
	var (
		filter eventFilterFlags
		limit  int
		cursor string
		all    bool
		asJSON bool
		idsOut bool
	)
	cmd := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List events, newest first",
		Long: `ls lists events, newest first, as GET /api/webhooks does: the filters
combine with AND. It shows one page (--limit events, 20 unless told) and
says on standard error how to get the next one (--cursor); --all walks
every page instead, with a progress bar on a terminal (plain lines on
standard error otherwise).

--json prints the API's page (items and next_cursor), or with --all one
JSON object per line; --ids prints only event ids, one per line, for
hookd events retry - and replay -.`,
		Example: `  hookd events ls
  hookd events ls --status permanent_failure --source stripe --since 24h
  hookd events ls --q 72d3162e-cc78-11e3-81ab-4c9367dc0958
  hookd events ls --all --json > events.jsonl
  hookd events ls --status failed --ids | hookd events retry -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if asJSON && idsOut {
				return errors.New("give --json or --ids, not both")
			}
			if limit < 0 || limit > api.MaxLimit {
				return fmt.Errorf("--limit: %d is not between 1 and %d", limit, api.MaxLimit)
			}
			p, err := filter.params(time.Now())
			if err != nil {
				return err
			}
			p.Limit, p.Cursor = limit, cursor
			c, err := rf.client(cmd, true)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if !all {
				page, err := c.Events(cmd.Context(), p)
				if err != nil {
					return explain(c, err)
				}
				switch {
				case asJSON:
					return writeJSON(out, page)
				case idsOut:
					for _, e := range page.Items {
						fmt.Fprintln(out, e.ID)
					}
				default:
					if len(page.Items) == 0 {
						fmt.Fprintln(cmd.ErrOrStderr(), "no events match")
						return nil
					}
					t := newTable(out)
					eventHeader(t)
					for _, e := range page.Items {
						eventRow(t, e)
					}
					if err := t.flush(); err != nil {
						return err
					}
				}
				if page.NextCursor != "" && !asJSON && !idsOut {
					fmt.Fprintf(cmd.ErrOrStderr(), "%d of %d shown; next page: add --cursor %s (or --all for every page)\n", len(page.Items), page.Total, page.NextCursor)
				}
				return nil
			}
			if p.Limit == 0 {
				p.Limit = api.MaxLimit
			}
			return listAll(cmd, c, p, asJSON, idsOut)
		},
	}
	filter.register(cmd, rf)
	fl := cmd.Flags()
	fl.IntVar(&limit, "limit", 0, "events per page, 1 to 200 (default 20, or 200 with --all)")
	fl.StringVar(&cursor, "cursor", "", "start after this event id: the next_cursor of the previous page")
	fl.BoolVar(&all, "all", false, "walk every page, not just one")
	fl.BoolVar(&asJSON, "json", false, "print JSON for scripts (JSON lines with --all)")
	fl.BoolVar(&idsOut, "ids", false, "print only event ids, one per line")
	return cmd
}

// listAll walks every page of p, writing rows as pages arrive so that
// memory stays flat however many events match.
func listAll(cmd *cobra.Command, c *client.Client, p client.ListParams, asJSON, idsOut bool) error {
	out := cmd.OutOrStdout()
	prog := newProgress(cmd.ErrOrStderr(), "events")
	defer prog.finish()
	t := newTable(out)
	if !asJSON && !idsOut {
		eventHeader(t)
	}
	enc := json.NewEncoder(out) // JSON lines: one compact object each
	first, seen := true, 0
	for page, err := range c.EventPages(cmd.Context(), p) {
		if err != nil {
			return explain(c, err)
		}
		if first {
			// With a cursor, total counts what is older than it: exactly
			// what this walk will see, new arrivals aside.
			prog.setTotal(page.Total)
			first = false
		}
		for _, e := range page.Items {
			switch {
			case asJSON:
				if err := enc.Encode(e); err != nil {
					return err
				}
			case idsOut:
				fmt.Fprintln(out, e.ID)
			default:
				eventRow(t, e)
			}
		}
		if err := t.flush(); err != nil {
			return err
		}
		seen += len(page.Items)
		prog.add(len(page.Items))
	}
	if seen == 0 && !asJSON && !idsOut {
		prog.finish()
		fmt.Fprintln(cmd.ErrOrStderr(), "no events match")
	}
	return nil
}

func eventHeader(t *table) {
	t.row("ID", "RECEIVED", "SOURCE", "TYPE", "STATUS", "DELIVERIES", "ATTEMPTS", "LAST ERROR")
}

func eventRow(t *table, e api.EventView) {
	t.row(e.ID, formatTime(e.ReceivedAt), e.Source, orDash(e.Type), string(e.Status),
		strconv.Itoa(e.Deliveries), strconv.Itoa(e.Attempts), shorten(e.LastError, 60))
}

func eventsShowCommand(rf *remoteFlags) *cobra.Command {
	var asJSON, payloadOnly bool
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show one event: payload, headers, deliveries and attempts",
		Long: `show prints an event: its source, type, status and received time, the
headers stored with it, the payload (indented when it is JSON; base64 when
it is not UTF-8), and every delivery with its attempts: when, how long, the
receiver's status or the error, and the start of its answer.

--payload writes only the raw payload bytes, exactly as received, for piping
into a file or another program; --json prints the API's answer.`,
		Example: `  hookd events show evt_01M8HQRNARKT6F5GHT34KMGAA3
  hookd events show evt_01M8HQRNARKT6F5GHT34KMGAA3 --payload > body.json
  hookd events show evt_01M8HQRNARKT6F5GHT34KMGAA3 --json | jq '.delivery_list[].status'`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeEventIDs(rf),
		RunE: func(cmd *cobra.Command, args []string) error {
			if asJSON && payloadOnly {
				return errors.New("give --json or --payload, not both")
			}
			c, err := rf.client(cmd, true)
			if err != nil {
				return err
			}
			ev, err := c.Event(cmd.Context(), args[0])
			if err != nil {
				return explainEvent(c, args[0], err)
			}
			out := cmd.OutOrStdout()
			switch {
			case asJSON:
				return writeJSON(out, ev)
			case payloadOnly:
				body, err := client.Payload(ev)
				if err != nil {
					return err
				}
				_, err = out.Write(body)
				return err
			}
			return printEvent(out, ev)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON for scripts")
	cmd.Flags().BoolVar(&payloadOnly, "payload", false, "write only the raw payload bytes")
	return cmd
}

// explainEvent is explain with a clearer word for an unknown event.
func explainEvent(c *client.Client, id string, err error) error {
	if client.Code(err) == "not_found" {
		return fmt.Errorf("no event %s on %s: %w", id, c.BaseURL(), err)
	}
	return explain(c, err)
}

// printEvent writes an event for people. Everything that came from the
// sender (headers, payload, types) or from a receiver (answers, errors) is
// passed through safeText: it must not drive the terminal.
func printEvent(w io.Writer, ev api.EventDetail) error {
	t := newTable(w)
	t.row("id", ev.ID)
	t.row("source", ev.Source)
	t.row("type", orDash(ev.Type))
	t.row("status", string(ev.Status))
	t.row("received", formatTime(ev.ReceivedAt))
	t.row("content type", orDash(ev.ContentType))
	t.row("size", plural(ev.BodySize, "byte"))
	if ev.IdempotencyKey != "" {
		t.row("idempotency key", ev.IdempotencyKey)
	}
	if err := t.flush(); err != nil {
		return err
	}

	fmt.Fprintf(w, "\nheaders:\n")
	for _, name := range slices.Sorted(maps.Keys(ev.Headers)) {
		fmt.Fprintf(w, "  %s: %s\n", safeText(name), safeText(ev.Headers[name]))
	}

	fmt.Fprintf(w, "\npayload:\n")
	body, err := client.Payload(ev)
	if err != nil {
		return err
	}
	fmt.Fprint(w, indentLines(formatPayload(body), "  "))

	fmt.Fprintf(w, "\ndeliveries:\n")
	if len(ev.DeliveryList) == 0 {
		fmt.Fprintln(w, "  none (no destination was subscribed when it arrived)")
	}
	for _, d := range ev.DeliveryList {
		fmt.Fprintf(w, "  %s to %s: %s after %s\n", d.ID, d.Destination, d.Status, plural(d.Attempts, "attempt"))
		at := newTable(w)
		for _, a := range d.AttemptList {
			result := attemptResult(a.StatusCode, "")
			switch {
			case a.Error == "" || a.Error == result:
			case a.StatusCode != 0:
				result += ": " + a.Error
			default:
				result = "error: " + a.Error
			}
			at.row("    #"+strconv.Itoa(a.Number), a.StartedAt.UTC().Format("2006-01-02 15:04:05.000Z"),
				humanDuration(time.Duration(a.DurationMs*float64(time.Millisecond))), result, answerPreview(a))
		}
		if err := at.flush(); err != nil {
			return err
		}
		if d.NextAttemptAt != nil {
			fmt.Fprintf(w, "    next attempt at %s\n", formatTime(*d.NextAttemptAt))
		}
	}
	return nil
}

// answerPreview is the start of a receiver's answer on one line.
func answerPreview(a api.AttemptView) string {
	if a.Response == "" {
		return ""
	}
	b, err := client.Response(a)
	if err != nil || !utf8.Valid(b) {
		return fmt.Sprintf("answered %s of binary", plural(len(b), "byte"))
	}
	return "answered " + strconv.Quote(shorten(strings.Join(strings.Fields(string(b)), " "), 60))
}

// formatPayload shows a body for people: JSON indented, other UTF-8 text as
// it is, anything else as wrapped base64 after a note. It always ends with
// a newline.
func formatPayload(body []byte) string {
	if len(body) == 0 {
		return "(empty)\n"
	}
	if json.Valid(body) {
		var buf bytes.Buffer
		if err := json.Indent(&buf, body, "", "  "); err == nil {
			return safeText(buf.String()) + "\n"
		}
	}
	if utf8.Valid(body) {
		s := safeText(string(body))
		if !strings.HasSuffix(s, "\n") {
			s += "\n"
		}
		return s
	}
	enc := base64.StdEncoding.EncodeToString(body)
	var b strings.Builder
	fmt.Fprintf(&b, "(%s, not UTF-8: base64 below; --payload writes the raw bytes)\n", plural(len(body), "byte"))
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\n")
	return b.String()
}

func eventsRetryCommand(rf *remoteFlags) *cobra.Command {
	var (
		dead, dryRun, yes, asJSON                 bool
		source, destination, since, until, reason string
	)
	cmd := &cobra.Command{
		Use:   "retry [ID... | - | --dead]",
		Short: "Re-queue failed and dead deliveries, keeping their webhook-id",
		Long: `retry moves an event's failed and dead deliveries back to pending, due now,
with a fresh retry budget (POST /api/webhooks/{id}/retry). The deliveries
keep their ids, so receivers that deduplicate on webhook-id recognise the
repeat: use it to finish what failed. Deliveries that succeeded, are pending
or in flight are left alone (use replay to send again).

Give event ids as arguments, or "-" to read them from standard input (one
per line, as hookd events ls --ids prints them). With several, a progress
bar shows on a terminal, and one line per event otherwise.

--dead re-queues every dead (permanent_failure) delivery matching the
filters --source, --destination, --since, --until and --reason (the last
attempt's failure reason: dns, timeout, http_5xx, ...), in one transaction
(POST /api/webhooks/retry); without filters, every dead delivery. Try
--dry-run first: it only counts. On a terminal, --dead asks before
re-queueing unless --yes. Needs the admin role. It is not paced: for many
thousands of dead letters, start a paced replay job instead
(POST /api/dead-letters/replays, see docs/api.md).`,
		Example: `  hookd events retry evt_01M8HQRNBNC8DHDG1A16NV2J96
  hookd events ls --status failed --source github --ids | hookd events retry -
  hookd events retry --dead --source stripe --since 24h --dry-run
  hookd events retry --dead --destination billing --yes
  hookd events retry --dead --reason dns --dry-run`,
		ValidArgsFunction: completeEventIDs(rf),
		RunE: func(cmd *cobra.Command, args []string) error {
			filtered := source != "" || destination != "" || since != "" || until != "" || reason != ""
			if !dead {
				if filtered || dryRun || yes {
					return errors.New("--source, --destination, --since, --until, --reason, --dry-run and --yes go with --dead")
				}
				ids, err := eventIDs(cmd, args)
				if err != nil {
					return err
				}
				c, err := rf.client(cmd, true)
				if err != nil {
					return err
				}
				return forEachEvent(cmd, c, ids, "retried", asJSON, func(ctx context.Context, id string) (string, int, any, error) {
					res, err := c.Retry(ctx, id)
					if err != nil {
						return "", 0, nil, err
					}
					if res.Requeued == 0 {
						return "nothing to retry: " + res.Message, 0, res, nil
					}
					return "requeued " + plural(res.Requeued, "delivery"), res.Requeued, res, nil
				})
			}
			if len(args) > 0 {
				return errors.New("--dead takes filters, not event ids")
			}
			now := time.Now()
			from, err := parseTimeFlag("since", since, now)
			if err != nil {
				return err
			}
			to, err := parseTimeFlag("until", until, now)
			if err != nil {
				return err
			}
			req := api.BulkRetryRequest{Source: source, Destination: destination, Reason: reason, DryRun: dryRun}
			if !from.IsZero() {
				req.From = from.Format(time.RFC3339Nano)
			}
			if !to.IsZero() {
				req.To = to.Format(time.RFC3339Nano)
			}
			c, err := rf.client(cmd, true)
			if err != nil {
				return err
			}
			return bulkRetry(cmd, c, req, yes, asJSON)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&dead, "dead", false, "re-queue every dead delivery matching the filters instead of given events")
	fl.StringVar(&source, "source", "", "with --dead: only events of this source")
	fl.StringVar(&destination, "destination", "", "with --dead: only deliveries to this destination")
	fl.StringVar(&since, "since", "", "with --dead: only events received at or after: RFC 3339 time, date, or age such as 7d")
	fl.StringVar(&until, "until", "", "with --dead: only events received before: RFC 3339 time, date, or age")
	fl.StringVar(&reason, "reason", "", "with --dead: only deliveries whose last attempt failed for this reason (dns, timeout, http_5xx, ...)")
	fl.BoolVar(&dryRun, "dry-run", false, "with --dead: count the matching dead deliveries, change nothing")
	fl.BoolVarP(&yes, "yes", "y", false, "with --dead: do not ask before re-queueing")
	fl.BoolVar(&asJSON, "json", false, "print the API's answers as JSON lines")
	completeCatalog(cmd, rf, "source", sourceNames)
	completeCatalog(cmd, rf, "destination", destinationNames)
	return cmd
}

// bulkRetry runs POST /api/webhooks/retry. On a terminal, unless yes or a
// dry run, it counts first and asks; the count and the re-queue are two
// transactions, so the final answer, not the question, says how many moved.
func bulkRetry(cmd *cobra.Command, c *client.Client, req api.BulkRetryRequest, yes, asJSON bool) error {
	ctx := cmd.Context()
	scope := bulkScope(req)
	spin := newSpinner(cmd.ErrOrStderr(), "counting dead deliveries")
	if !req.DryRun && !yes && isTerminal(cmd.InOrStdin()) {
		dry := req
		dry.DryRun = true
		res, err := c.BulkRetry(ctx, dry)
		spin.finish()
		if err != nil {
			return explain(c, err)
		}
		if res.Matched == 0 {
			fmt.Fprintf(cmd.OutOrStdout(), "no dead delivery matches (%s)\n", scope)
			return nil
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "%s (%s). Re-queue now? [y/N] ", matching(res.Matched), scope)
		answer, _ := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
			return errors.New("aborted: nothing was re-queued")
		}
		spin = newSpinner(cmd.ErrOrStderr(), "re-queueing dead deliveries")
	}
	res, err := c.BulkRetry(ctx, req)
	spin.finish()
	if err != nil {
		return explain(c, err)
	}
	out := cmd.OutOrStdout()
	switch {
	case asJSON:
		return json.NewEncoder(out).Encode(res)
	case res.DryRun:
		fmt.Fprintf(out, "dry run: %s (%s); nothing was re-queued\n", matching(res.Matched), scope)
	default:
		fmt.Fprintf(out, "re-queued %s (%s)\n", plural(res.Requeued, "dead delivery"), scope)
	}
	return nil
}

// bulkScope says in words what a bulk retry selects.
func bulkScope(req api.BulkRetryRequest) string {
	var parts []string
	if req.Source != "" {
		parts = append(parts, "source "+req.Source)
	}
	if req.Destination != "" {
		parts = append(parts, "destination "+req.Destination)
	}
	if req.From != "" {
		parts = append(parts, "received since "+req.From)
	}
	if req.To != "" {
		parts = append(parts, "received before "+req.To)
	}
	if req.Reason != "" {
		parts = append(parts, "failed last of "+req.Reason)
	}
	if len(parts) == 0 {
		return "no filter"
	}
	return strings.Join(parts, ", ")
}

// matching is "1 dead delivery matches", "2 dead deliveries match".
func matching(n int) string {
	if n == 1 {
		return "1 dead delivery matches"
	}
	return plural(n, "dead delivery") + " match"
}

func eventsReplayCommand(rf *remoteFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "replay (ID... | -)",
		Short: "Send events again as new deliveries with a new webhook-id",
		Long: `replay sends an event again to every destination it had deliveries for,
whatever their status, as new deliveries with new ids (POST
/api/webhooks/{id}/replay). Receivers that deduplicate on webhook-id take
it as a new message: use it to send again on purpose (a receiver lost its
data, a new consumer needs history). Destinations that no longer exist are
skipped. Needs the admin role.

Give event ids as arguments, or "-" to read them from standard input. With
several, a progress bar shows on a terminal, and one line per event
otherwise.`,
		Example: `  hookd events replay evt_01M8HQRNARKT6F5GHT34KMGAA3
  hookd events ls --source github --type push --since 2026-11-28 --ids | hookd events replay -`,
		ValidArgsFunction: completeEventIDs(rf),
		RunE: func(cmd *cobra.Command, args []string) error {
			ids, err := eventIDs(cmd, args)
			if err != nil {
				return err
			}
			c, err := rf.client(cmd, true)
			if err != nil {
				return err
			}
			return forEachEvent(cmd, c, ids, "replayed", asJSON, func(ctx context.Context, id string) (string, int, any, error) {
				res, err := c.Replay(ctx, id)
				if err != nil {
					return "", 0, nil, err
				}
				line := "replayed as " + plural(res.Deliveries, "new delivery")
				if len(res.DeliveryIDs) > 0 {
					line += ": " + strings.Join(res.DeliveryIDs, ", ")
				}
				if len(res.Skipped) > 0 {
					line += "; skipped (no longer configured): " + strings.Join(res.Skipped, ", ")
				}
				if res.Deliveries == 0 && res.Message != "" {
					line = "nothing replayed: " + res.Message
				}
				return line, res.Deliveries, res, nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's answers as JSON lines")
	return cmd
}

// eventIDs returns the ids given as arguments, or read from standard input
// (whitespace-separated, one per line) when the only argument is "-".
func eventIDs(cmd *cobra.Command, args []string) ([]string, error) {
	if len(args) == 0 {
		return nil, errors.New("give event ids, or - to read them from standard input")
	}
	if len(args) > 1 || args[0] != "-" {
		if slices.Contains(args, "-") {
			return nil, errors.New(`"-" reads ids from standard input and goes alone`)
		}
		return args, nil
	}
	var ids []string
	sc := bufio.NewScanner(cmd.InOrStdin())
	sc.Split(bufio.ScanWords)
	for sc.Scan() {
		ids = append(ids, sc.Text())
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read event ids from standard input: %w", err)
	}
	if len(ids) == 0 {
		return nil, errors.New("no event ids on standard input")
	}
	return ids, nil
}

// forEachEvent runs action on every id in turn and reports each: a line
// per event (or the API's answer with asJSON) when not on a terminal or
// for a single event, a progress bar and a summary otherwise. An event
// that fails does not stop the others; the error at the end says how many
// failed. action returns a line for people, the deliveries it moved, and
// the API's answer.
func forEachEvent(cmd *cobra.Command, c *client.Client, ids []string, verb string, asJSON bool,
	action func(ctx context.Context, id string) (line string, moved int, answer any, err error)) error {
	out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
	if len(ids) == 1 {
		line, _, answer, err := action(cmd.Context(), ids[0])
		if err != nil {
			return explainEvent(c, ids[0], err)
		}
		if asJSON {
			return json.NewEncoder(out).Encode(answer)
		}
		fmt.Fprintf(out, "%s: %s\n", ids[0], line)
		return nil
	}
	bar := newProgressBar(errOut, int64(len(ids)), verb)
	var (
		failed        []string
		moved, events int
		enc           = json.NewEncoder(out)
	)
	for _, id := range ids {
		line, n, answer, err := action(cmd.Context(), id)
		if errors.Is(err, context.Canceled) {
			return err
		}
		switch {
		case err != nil:
			failed = append(failed, id)
			bar.println(errOut, fmt.Sprintf("%s: %v", id, explainEvent(c, id, err)))
		case asJSON:
			if err := enc.Encode(answer); err != nil {
				return err
			}
		case bar == nil:
			fmt.Fprintf(out, "%s: %s\n", id, line)
		}
		if err == nil {
			moved += n
			if n > 0 {
				events++
			}
		}
		bar.add(1)
	}
	bar.finish()
	if !asJSON {
		fmt.Fprintf(out, "%s %d of %d events (%s)\n", verb, events, len(ids), plural(moved, "delivery"))
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d events failed: %s", len(failed), len(ids), strings.Join(failed, ", "))
	}
	return nil
}
