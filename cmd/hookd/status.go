package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hookd/hookd/internal/api"
	"github.com/hookd/hookd/internal/app"
	"github.com/hookd/hookd/internal/client"
	"github.com/hookd/hookd/internal/config"
)

// defaultServer is where the operator commands look for hookd when neither
// --server nor HOOKD_SERVER says: serve's default port on this machine.
const defaultServer = "http://127.0.0.1:4000"

// remoteFlags locate a running hookd for the commands that talk to one over
// HTTP (status, events, listen) and the credential they present. Unlike the
// administrative commands they never open the database: they work from any
// machine that reaches the server, with the rights of the key or token.
type remoteFlags struct {
	envFile *string // the root's --env-file, read at run time
	server  string
	apiKey  string
	token   string
}

// register adds --server, --api-key and --token to a parent command, for
// all its children.
func (f *remoteFlags) register(cmd *cobra.Command) {
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.server, "server", defaultServer, "URL of the running hookd (HOOKD_SERVER)")
	pf.StringVar(&f.apiKey, "api-key", "", "API key to present, hk_… (HOOKD_API_KEY); see hookd apikey create")
	pf.StringVar(&f.token, "token", "", "login token to present instead of an API key (HOOKD_TOKEN)")
}

// client returns a client for the configured server. Flags win over the
// environment, which wins over the --env-file; a token wins over an API key
// given at the same level, and --api-key with --token is an error. With
// needAuth, no credential at all is an error that says how to get one.
func (f *remoteFlags) client(cmd *cobra.Command, needAuth bool) (*client.Client, error) {
	env, err := config.EnvWithDotenv(*f.envFile)
	if err != nil {
		return nil, err
	}
	lookup := func(key string) string {
		v, _ := env(key)
		return strings.TrimSpace(v)
	}
	changed := cmd.Flags().Changed
	server := f.server
	if !changed("server") {
		if v := lookup("HOOKD_SERVER"); v != "" {
			server = v
		}
	}
	var token string
	switch {
	case changed("api-key") && changed("token"):
		return nil, errors.New("give --api-key or --token, not both")
	case changed("token"):
		token = f.token
	case changed("api-key"):
		token = f.apiKey
	case lookup("HOOKD_TOKEN") != "":
		token = lookup("HOOKD_TOKEN")
	default:
		token = lookup("HOOKD_API_KEY")
	}
	if needAuth && token == "" {
		return nil, errors.New("no credentials: set HOOKD_API_KEY (or --api-key) to an API key, which hookd apikey create makes, or --token to a login token")
	}
	c, err := client.New(client.Options{BaseURL: server, Token: token, UserAgent: "hookd/" + app.Version + " (cli)"})
	if err != nil {
		return nil, fmt.Errorf("--server: %w", err)
	}
	return c, nil
}

// explain adds what to do to the errors an operator meets most: a server
// that does not answer, credentials refused, a role too weak.
func explain(c *client.Client, err error) error {
	var ue *url.Error
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled):
		return err
	case client.StatusCode(err) == 0 && errors.As(err, &ue):
		return fmt.Errorf("cannot reach hookd at %s (is it running? --server and HOOKD_SERVER say where): %w", c.BaseURL(), err)
	case client.StatusCode(err) == 401:
		return fmt.Errorf("%w; check --api-key or HOOKD_API_KEY (hookd apikey create makes a key), or log in again for a new --token", err)
	case client.Code(err) == "forbidden":
		return fmt.Errorf("%w; this needs an admin key (hookd apikey create --name NAME --role admin)", err)
	}
	return err
}

// statusJSON is what `hookd status --json` prints.
type statusJSON struct {
	Server string             `json:"server"`
	Ready  bool               `json:"ready"`
	Error  string             `json:"error,omitempty"`
	Queue  client.QueueStatus `json:"queue"`
	// Destinations is absent without credentials (the list needs them).
	Destinations *[]destinationStatus `json:"destinations,omitempty"`
}

// destinationStatus is a destination's health as status shows it: never
// its secret or headers, which the API shows admins.
type destinationStatus struct {
	Name    string           `json:"name"`
	URL     string           `json:"url"`
	Sources []string         `json:"sources"`
	Circuit *api.CircuitView `json:"circuit,omitempty"`
	Health  *api.HealthView  `json:"health,omitempty"`
}

func statusCommand(envFile *string) *cobra.Command {
	rf := &remoteFlags{envFile: envFile}
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show a running hookd's queue and destination health",
		Long: `status asks a running hookd for its queue counts (GET /debug/status) and,
with credentials, the health of every destination (GET /api/destinations):
attempts that succeeded and failed, the last attempt and its result, and the
circuit breaker's state where the server reports one. Health counts the
attempts of the process that answers, since it started.

Without credentials only the queue is shown. The exit status is non-zero
when the server cannot be reached or is not ready (its store does not
answer).`,
		Example: `  hookd status
  HOOKD_SERVER=https://hooks.example.com HOOKD_API_KEY=hk_... hookd status
  hookd status --json | jq .queue.dead`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := rf.client(cmd, false)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			queue, err := c.QueueStatus(ctx)
			if err != nil {
				return explain(c, err)
			}
			out := statusJSON{Server: c.BaseURL(), Ready: true, Queue: queue}
			readyErr := c.Ready(ctx)
			if readyErr != nil {
				out.Ready, out.Error = false, readyErr.Error()
			}
			if c.HasToken() {
				dests, err := c.Destinations(ctx)
				if err != nil {
					return explain(c, err)
				}
				list := make([]destinationStatus, 0, len(dests))
				for _, d := range dests {
					list = append(list, destinationStatus{Name: d.Name, URL: d.URL, Sources: d.Sources, Circuit: d.Circuit, Health: d.Health})
				}
				out.Destinations = &list
			}
			w := cmd.OutOrStdout()
			if asJSON {
				if err := writeJSON(w, out); err != nil {
					return err
				}
			} else {
				if err := printStatus(w, out); err != nil {
					return err
				}
				if out.Destinations == nil {
					fmt.Fprintln(cmd.ErrOrStderr(), "destinations are not shown without credentials: set HOOKD_API_KEY or --api-key (hookd apikey create --name NAME makes a key)")
				}
			}
			if readyErr != nil {
				return fmt.Errorf("hookd at %s is not ready: %w", c.BaseURL(), readyErr)
			}
			return nil
		},
	}
	rf.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON for scripts")
	return cmd
}

// printStatus writes the queue as aligned "name value" lines, then the
// destinations as a table.
func printStatus(w io.Writer, s statusJSON) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	ready := "ready"
	if !s.Ready {
		ready = "NOT READY: " + s.Error
	}
	fmt.Fprintf(tw, "server\t%s (%s)\n", s.Server, ready)
	fmt.Fprintf(tw, "queue length\t%d\n", s.Queue.Ready)
	fmt.Fprintf(tw, "scheduled retries\t%d\n", s.Queue.Scheduled)
	fmt.Fprintf(tw, "in flight\t%d\n", s.Queue.InFlight)
	fmt.Fprintf(tw, "dead\t%d\n", s.Queue.Dead)
	if err := tw.Flush(); err != nil {
		return err
	}
	if s.Destinations == nil {
		return nil
	}
	dests := *s.Destinations
	fmt.Fprintln(w)
	if len(dests) == 0 {
		fmt.Fprintln(w, "no destinations")
		return nil
	}
	withCircuit := false // servers before the circuit breaker have none
	for _, d := range dests {
		withCircuit = withCircuit || d.Circuit != nil
	}
	t := newTable(w)
	header := []string{"DESTINATION", "URL"}
	if withCircuit {
		header = append(header, "CIRCUIT")
	}
	t.row(append(header, "SUCCEEDED", "FAILED", "LAST ATTEMPT", "LAST RESULT")...)
	for _, d := range dests {
		row := []string{d.Name, d.URL}
		if withCircuit {
			row = append(row, circuitText(d.Circuit))
		}
		if h := d.Health; h != nil {
			last := "-"
			if h.LastAttemptAt != nil {
				last = formatTime(*h.LastAttemptAt)
			}
			row = append(row, strconv.FormatInt(h.Successes, 10), strconv.FormatInt(h.Failures, 10), last, attemptResult(h.LastStatusCode, h.LastError))
		} else {
			row = append(row, "-", "-", "-", "-")
		}
		t.row(row...)
	}
	return t.flush()
}

// circuitText is a circuit breaker in a few words: its state, and until
// when an open one waits.
func circuitText(c *api.CircuitView) string {
	switch {
	case c == nil || c.Circuit == "":
		return "-"
	case c.OpenUntil != nil && c.Circuit == "open":
		return "open until " + c.OpenUntil.UTC().Format("15:04:05Z")
	}
	return string(c.Circuit)
}

// attemptResult is how an attempt ended, in a few words: "HTTP 200", or
// the error (shortened).
func attemptResult(statusCode int, errText string) string {
	switch {
	case errText != "":
		return shorten(errText, 60)
	case statusCode != 0:
		return "HTTP " + strconv.Itoa(statusCode)
	}
	return "-"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// writeJSON writes v indented, for people reading --json output too.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// humanDuration is a duration for people: "4ms", "1.2s", "3m0s".
func humanDuration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(100 * time.Microsecond).String()
	case d < time.Minute:
		return d.Round(10 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}
