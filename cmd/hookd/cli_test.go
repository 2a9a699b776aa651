package main

// These tests run the operator commands (status, events, listen) in-process,
// through the cobra tree the binary runs, against the real hookd binary
// serving on loopback, and check what they print and what they change.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/api"
	"github.com/hookd/hookd/internal/client"
	"github.com/hookd/hookd/internal/receiver"
)

// cliServer is a running hookd with two sources, github and stripe, and one
// destination, sink, on a receiver in this process. MAX_RETRIES is 0, so a
// delivery the sink refuses is dead at once.
type cliServer struct {
	base     string
	dir      string
	env      []string
	proc     *proc
	adminKey string
	viewKey  string
	password string // of the user admin
	sink     *receiver.Receiver
	// healed makes the sink answer 200 to everything; until then it
	// answers 500 to bodies containing "fail".
	healed atomic.Bool
}

// startCLIServer starts the server; extraEnv is added to its environment.
func startCLIServer(t *testing.T, extraEnv ...string) *cliServer {
	t.Helper()
	s := &cliServer{dir: t.TempDir(), password: "correct horse battery"}
	s.sink = startReceiver(t, func(_ context.Context, a receiver.Arrival) int {
		if !s.healed.Load() && bytes.Contains(a.Body, []byte("fail")) {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	}, nil)
	cfg := fmt.Sprintf(`sources:
  - name: github
  - name: stripe
destinations:
  - name: sink
    url: %s/hook
    sources: [github, stripe]
    secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
    timeout: 5s
`, s.sink.URL())
	config := filepath.Join(s.dir, "hookd.yaml")
	if err := os.WriteFile(config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	s.env = baseEnv(s.dir,
		"HOOKD_CONFIG="+config,
		"DATABASE_URL="+s.databaseURL(),
		"PORT=0",
		"HOOKD_HOST=127.0.0.1",
		"HOOKD_ALLOW_PRIVATE_DESTINATIONS=true",
		"MAX_RETRIES=0",
		"HOOKD_ADMIN_PASSWORD="+s.password,
	)
	s.env = append(s.env, extraEnv...)
	s.proc = startHookd(t, s.dir, s.env, "serve")
	s.base = s.proc.waitReady(t, 20*time.Second)
	// Keys are made as an operator makes them, beside the running server.
	s.adminKey = s.apiKey(t, "cli-admin", "admin")
	s.viewKey = s.apiKey(t, "cli-viewer", "viewer")
	return s
}

func (s *cliServer) databaseURL() string {
	return "sqlite://" + filepath.Join(s.dir, "data", "hookd.db")
}

func (s *cliServer) apiKey(t *testing.T, name, role string) string {
	t.Helper()
	stdout, stderr, err := runHookd(t, "", "apikey", "create", "--name", name, "--role", role,
		"--database-url", s.databaseURL(), "--env-file", filepath.Join(s.dir, "absent.env"))
	if err != nil {
		t.Fatalf("apikey create: %v\n%s", err, stderr)
	}
	return strings.TrimSpace(stdout)
}

// run runs `hookd args...` in-process against the server, presenting key
// (none when empty). --env-file names a file that does not exist, and the
// credential flag is always given, so that nothing in the environment of
// the test can point the command elsewhere.
func (s *cliServer) run(t *testing.T, key, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	args = append(slices.Clone(args), "--server", s.base, "--env-file", filepath.Join(s.dir, "absent.env"), "--api-key="+key)
	return runHookd(t, stdin, args...)
}

// mustRun is run for commands that must succeed; it returns stdout.
func (s *cliServer) mustRun(t *testing.T, key string, args ...string) string {
	t.Helper()
	stdout, stderr, err := s.run(t, key, "", args...)
	if err != nil {
		t.Fatalf("hookd %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout, stderr)
	}
	return stdout
}

// mustFail runs a command that must fail, and checks that its error
// mentions every one of want.
func (s *cliServer) mustFail(t *testing.T, key string, args []string, want ...string) {
	t.Helper()
	_, _, err := s.run(t, key, "", args...)
	if err == nil {
		t.Fatalf("hookd %s succeeded; want an error", strings.Join(args, " "))
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("hookd %s: error %q does not mention %q", strings.Join(args, " "), err, w)
		}
	}
}

// send posts body to a source with headers and returns the event id.
func (s *cliServer) send(t *testing.T, source, body string, headers ...string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.base+"/webhook/"+source, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST /webhook/%s: %v", source, err)
	}
	defer resp.Body.Close()
	var out struct{ ID string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /webhook/%s: %d, %v", source, resp.StatusCode, err)
	}
	return out.ID
}

func (s *cliServer) client(t *testing.T, key string) *client.Client {
	t.Helper()
	c, err := client.New(client.Options{BaseURL: s.base, Token: key})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// waitStatus polls the event until its status is want, and returns it.
// The server gives no other signal to tests run against the binary.
func (s *cliServer) waitStatus(t *testing.T, id, want string) api.EventDetail {
	t.Helper()
	c := s.client(t, s.adminKey)
	deadline := time.Now().Add(10 * time.Second)
	for {
		ev, err := c.Event(t.Context(), id)
		if err != nil {
			t.Fatalf("GET event %s: %v", id, err)
		}
		if string(ev.Status) == want {
			return ev
		}
		if time.Now().After(deadline) {
			t.Fatalf("event %s is %s after 10s; want %s", id, ev.Status, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// mustMatch fails unless text matches every pattern (multi-line mode).
func mustMatch(t *testing.T, what, text string, patterns ...string) {
	t.Helper()
	for _, p := range patterns {
		if !regexp.MustCompile("(?m)" + p).MatchString(text) {
			t.Errorf("%s does not match %q:\n%s", what, p, text)
		}
	}
}

func TestCLIStatus(t *testing.T) {
	t.Parallel()
	// One failure opens the circuit, so that status has one to show.
	s := startCLIServer(t, "HOOKD_BREAKER_FAILURES=1", "HOOKD_BREAKER_COOLDOWN=10m")
	ok := s.send(t, "github", `{"n":1}`)
	s.waitStatus(t, ok, "success")
	dead := s.send(t, "stripe", `{"fail":true}`)
	s.waitStatus(t, dead, "permanent_failure")

	out := s.mustRun(t, s.viewKey, "status")
	mustMatch(t, "status", out,
		`^server\s+`+regexp.QuoteMeta(s.base)+` \(ready\)$`,
		`^queue length\s+0$`, `^scheduled retries\s+0$`, `^in flight\s+0$`, `^dead\s+1$`,
		`^DESTINATION\s+URL\s+CIRCUIT\s+SUCCEEDED\s+FAILED\s+LAST ATTEMPT\s+LAST RESULT$`,
		`^sink\s+`+regexp.QuoteMeta(s.sink.URL())+`/hook\s+open until \d\d:\d\d:\d\dZ\s+1\s+1\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\s+HTTP 500$`)

	// --json, for scripts; secrets are never in it, even for an admin.
	raw := s.mustRun(t, s.adminKey, "status", "--json")
	var st statusJSON
	if err := json.Unmarshal([]byte(raw), &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, raw)
	}
	if !st.Ready || st.Queue.Dead != 1 || st.Destinations == nil || len(*st.Destinations) != 1 {
		t.Fatalf("status --json: %+v", st)
	}
	if d := (*st.Destinations)[0]; d.Name != "sink" || d.Health == nil || d.Health.Successes != 1 || d.Health.Failures != 1 ||
		d.Circuit == nil || d.Circuit.Circuit != "open" || d.Circuit.ConsecutiveFailures != 1 {
		t.Errorf("status --json destination: %+v", d)
	}
	if strings.Contains(raw, "whsec_") {
		t.Errorf("status --json shows a secret:\n%s", raw)
	}

	// Without credentials: the queue only, and a word on why.
	stdout, stderr, err := s.run(t, "", "", "status")
	if err != nil || !strings.Contains(stdout, "dead") || strings.Contains(stdout, "DESTINATION") || !strings.Contains(stderr, "HOOKD_API_KEY") {
		t.Errorf("status without credentials: %v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}
	// A login token works as well as a key.
	login, err := s.client(t, "").Login(t.Context(), "admin", s.password)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	stdout, stderr, err = runHookd(t, "", "status", "--server", s.base, "--env-file", filepath.Join(s.dir, "absent.env"), "--token", login.Token)
	if err != nil || !strings.Contains(stdout, "sink") {
		t.Errorf("status --token: %v\n%s%s", err, stdout, stderr)
	}

	s.mustFail(t, "hk_not_a_key", []string{"status"}, "401", "hookd apikey create")
	_, _, err = runHookd(t, "", "status", "--server", "http://127.0.0.1:1", "--env-file", filepath.Join(s.dir, "absent.env"))
	if err == nil || !strings.Contains(err.Error(), "cannot reach hookd at http://127.0.0.1:1") {
		t.Errorf("status of a server that is not there: %v", err)
	}
	s.mustFail(t, s.viewKey, []string{"status", "--token", "x"}, "--api-key or --token, not both")

	// The binary, configured by the environment as an operator would.
	p := startHookd(t, s.dir, baseEnv(s.dir, "HOOKD_SERVER="+s.base, "HOOKD_API_KEY="+s.viewKey), "status")
	if code := p.waitExit(t, 10*time.Second); code != 0 || !strings.Contains(p.stdout.String(), "sink") {
		t.Errorf("hookd status with HOOKD_SERVER and HOOKD_API_KEY: exit %d\n%s%s", code, p.stdout.String(), p.stderr.String())
	}
}

func TestCLIEvents(t *testing.T) {
	t.Parallel()
	s := startCLIServer(t)
	pushBody := `{"ref": "refs/heads/main",   "commits": [1, 2]}` // spacing kept by --payload
	push := s.send(t, "github", pushBody, "X-GitHub-Event", "push")
	issue := s.send(t, "github", `{"action":"opened"}`, "X-GitHub-Event", "issues")
	dead1 := s.send(t, "stripe", `{"fail":1}`)
	dead2 := s.send(t, "stripe", `{"fail":2}`)
	s.waitStatus(t, push, "success")
	s.waitStatus(t, issue, "success")
	s.waitStatus(t, dead1, "permanent_failure")
	s.waitStatus(t, dead2, "permanent_failure")
	newestFirst := []string{dead2, dead1, issue, push}

	t.Run("ls", func(t *testing.T) {
		out := s.mustRun(t, s.viewKey, "events", "ls")
		mustMatch(t, "events ls", out,
			`^ID\s+RECEIVED\s+SOURCE\s+TYPE\s+STATUS\s+DELIVERIES\s+ATTEMPTS\s+LAST ERROR$`,
			`^`+push+`\s+\S+ \S+\s+github\s+push\s+success\s+1\s+1$`,
			`^`+dead1+`\s+\S+ \S+\s+stripe\s+-\s+permanent_failure\s+1\s+1\s+HTTP 500$`)
		if got := strings.Count(out, "\n"); got != 5 {
			t.Errorf("events ls printed %d lines; want a header and 4 rows:\n%s", got, out)
		}

		if got := s.mustRun(t, s.viewKey, "events", "ls", "--status", "permanent_failure", "--ids"); got != dead2+"\n"+dead1+"\n" {
			t.Errorf("ls --status permanent_failure --ids = %q; want the two dead events, newest first", got)
		}
		var page api.EventPage
		if err := json.Unmarshal([]byte(s.mustRun(t, s.viewKey, "events", "ls", "--source", "github", "--type", "push", "--json")), &page); err != nil {
			t.Fatal(err)
		}
		if len(page.Items) != 1 || page.Items[0].ID != push || page.Total != 1 {
			t.Errorf("ls --source github --type push --json: %+v", page)
		}
		if got := s.mustRun(t, s.viewKey, "events", "ls", "--q", "refs/heads", "--ids", "--since", "1h"); got != push+"\n" {
			t.Errorf("ls --q refs/heads --since 1h = %q; want the push", got)
		}

		// One page at a time, then every page.
		stdout, stderr, err := s.run(t, s.viewKey, "", "events", "ls", "--limit", "1")
		if err != nil || strings.Count(stdout, "\n") != 2 || !strings.Contains(stderr, "1 of 4 shown; next page: add --cursor "+dead2) {
			t.Errorf("ls --limit 1: %v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
		}
		if got := s.mustRun(t, s.viewKey, "events", "ls", "--limit", "1", "--cursor", dead2, "--ids"); got != dead1+"\n" {
			t.Errorf("ls --cursor = %q; want the next event, %s", got, dead1)
		}
		stdout, stderr, err = s.run(t, s.viewKey, "", "events", "ls", "--all", "--limit", "1", "--ids")
		if err != nil || stdout != strings.Join(newestFirst, "\n")+"\n" || !strings.Contains(stderr, "4 of 4 events") {
			t.Errorf("ls --all --limit 1 --ids: %v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
		}
		lines := strings.Split(strings.TrimSpace(s.mustRun(t, s.viewKey, "events", "ls", "--all", "--limit", "3", "--json")), "\n")
		var ids []string
		for _, l := range lines {
			var e api.EventView
			if err := json.Unmarshal([]byte(l), &e); err != nil {
				t.Fatalf("ls --all --json line %q: %v", l, err)
			}
			ids = append(ids, e.ID)
		}
		if !slices.Equal(ids, newestFirst) {
			t.Errorf("ls --all --json ids %v; want %v", ids, newestFirst)
		}
		stdout, stderr, err = s.run(t, s.viewKey, "", "events", "ls", "--until", "2000-01-01")
		if err != nil || stdout != "" || !strings.Contains(stderr, "no events match") {
			t.Errorf("ls --until 2000-01-01: %v %q %q", err, stdout, stderr)
		}

		s.mustFail(t, s.viewKey, []string{"events", "ls", "--since", "yesterday"}, "--since", `"yesterday"`)
		s.mustFail(t, s.viewKey, []string{"events", "ls", "--status", "lost"}, "status", "400 invalid")
		s.mustFail(t, "", []string{"events", "ls"}, "no credentials", "hookd apikey create")
	})

	t.Run("show", func(t *testing.T) {
		out := s.mustRun(t, s.viewKey, "events", "show", push)
		mustMatch(t, "events show", out,
			`^id\s+`+push+`$`, `^source\s+github$`, `^type\s+push$`, `^status\s+success$`,
			`^content type\s+application/json$`, fmt.Sprintf(`^size\s+%d bytes$`, len(pushBody)),
			`^  X-Github-Event: push$`,
			`^  {\n    "ref": "refs/heads/main",\n    "commits": \[\n      1,\n      2\n    \]\n  }$`,
			`^  dlv_\w{26} to sink: success after 1 attempt$`,
			`^    #1  \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z  \S+  HTTP 200`)
		if got := s.mustRun(t, s.viewKey, "events", "show", push, "--payload"); got != pushBody {
			t.Errorf("show --payload = %q; want the raw body %q", got, pushBody)
		}
		out = s.mustRun(t, s.viewKey, "events", "show", dead1)
		mustMatch(t, "events show of a dead event", out, `^  dlv_\w{26} to sink: permanent_failure after 1 attempt$`, `HTTP 500`)
		var ev api.EventDetail
		if err := json.Unmarshal([]byte(s.mustRun(t, s.viewKey, "events", "show", dead1, "--json")), &ev); err != nil || ev.ID != dead1 || len(ev.DeliveryList) != 1 {
			t.Errorf("show --json: %+v, %v", ev, err)
		}
		s.mustFail(t, s.viewKey, []string{"events", "show", "evt_01M8HQRNBNC8DHDG1A16NV2J96"}, "no event evt_01M8HQRNBNC8DHDG1A16NV2J96", "404")
	})

	t.Run("retry and replay", func(t *testing.T) {
		// A viewer may not; the error says what would do.
		s.mustFail(t, s.viewKey, []string{"events", "retry", dead1}, "forbidden", "--role admin")
		s.healed.Store(true)

		before := s.waitStatus(t, dead1, "permanent_failure").DeliveryList[0].ID
		if out := s.mustRun(t, s.adminKey, "events", "retry", dead1); out != dead1+": requeued 1 delivery\n" {
			t.Errorf("retry printed %q", out)
		}
		after := s.waitStatus(t, dead1, "success")
		// A retry keeps the delivery and gives it a fresh budget: its
		// attempt count starts again, its attempt list grows.
		if len(after.DeliveryList) != 1 || after.DeliveryList[0].ID != before || len(after.DeliveryList[0].AttemptList) != 2 {
			t.Errorf("after retry: deliveries %+v; want the same delivery %s with a second attempt", after.DeliveryList, before)
		}
		if n := s.sink.Tries()[before]; n != 2 {
			t.Errorf("the sink saw webhook-id %s %d times; want 2 (same id on retry)", before, n)
		}

		out := s.mustRun(t, s.adminKey, "events", "replay", push)
		m := regexp.MustCompile(`^` + push + `: replayed as 1 new delivery: (dlv_\w{26})\n$`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("replay printed %q", out)
		}
		ev := s.waitStatus(t, push, "success")
		if len(ev.DeliveryList) != 2 {
			t.Fatalf("after replay: %d deliveries; want 2", len(ev.DeliveryList))
		}
		waitTries(t, s.sink, m[1], 1)

		// Several ids from standard input: a line each, then a summary.
		stdout, stderr, err := s.run(t, s.adminKey, push+"\n"+issue+"\n", "events", "retry", "-")
		want := push + ": nothing to retry: no failed or dead delivery to retry (deliveries in flight, pending or succeeded are left alone; use replay to send again)\n" +
			issue + ": nothing to retry: no failed or dead delivery to retry (deliveries in flight, pending or succeeded are left alone; use replay to send again)\n" +
			"retried 0 of 2 events (0 deliveries)\n"
		if err != nil || stdout != want {
			t.Errorf("retry -: %v\nstdout:\n%s\nwant:\n%s\nstderr:\n%s", err, stdout, want, stderr)
		}
		// One bad id among good ones: the others are done, the exit says so.
		stdout, _, err = s.run(t, s.adminKey, "", "events", "replay", issue, "evt_01M8HQRNBNC8DHDG1A16NV2J96")
		if err == nil || !strings.Contains(err.Error(), "1 of 2 events failed: evt_01M8HQRNBNC8DHDG1A16NV2J96") ||
			!strings.Contains(stdout, issue+": replayed as 1 new delivery") || !strings.Contains(stdout, "replayed 1 of 2 events (1 delivery)") {
			t.Errorf("replay with an unknown id: %v\n%s", err, stdout)
		}
	})

	t.Run("bulk retry", func(t *testing.T) {
		s.healed.Store(false)
		dead3 := s.send(t, "stripe", `{"fail":3}`)
		s.waitStatus(t, dead3, "permanent_failure")
		s.waitStatus(t, dead2, "permanent_failure")
		s.healed.Store(true)

		out := s.mustRun(t, s.adminKey, "events", "retry", "--dead", "--source", "stripe", "--since", "1h", "--dry-run")
		mustMatch(t, "retry --dead --dry-run", out, `^dry run: 2 dead deliveries match \(source stripe, received since \S+\); nothing was re-queued$`)
		s.waitStatus(t, dead2, "permanent_failure") // a dry run changes nothing
		out = s.mustRun(t, s.adminKey, "events", "retry", "--dead", "--source", "github", "--dry-run")
		mustMatch(t, "retry --dead --source github --dry-run", out, `^dry run: 0 dead deliveries match \(source github\)`)
		out = s.mustRun(t, s.adminKey, "events", "retry", "--dead", "--reason", "http_5xx", "--dry-run")
		mustMatch(t, "retry --dead --reason http_5xx --dry-run", out, `^dry run: 2 dead deliveries match \(failed last of http_5xx\)`)
		out = s.mustRun(t, s.adminKey, "events", "retry", "--dead", "--reason", "dns", "--dry-run")
		mustMatch(t, "retry --dead --reason dns --dry-run", out, `^dry run: 0 dead deliveries match \(failed last of dns\)`)

		// Not on a terminal: no question asked.
		out = s.mustRun(t, s.adminKey, "events", "retry", "--dead", "--source", "stripe")
		if out != "re-queued 2 dead deliveries (source stripe)\n" {
			t.Errorf("retry --dead printed %q", out)
		}
		s.waitStatus(t, dead2, "success")
		s.waitStatus(t, dead3, "success")

		var res api.BulkRetryResponse
		if err := json.Unmarshal([]byte(s.mustRun(t, s.adminKey, "events", "retry", "--dead", "--dry-run", "--json")), &res); err != nil || res.Matched != 0 || !res.DryRun {
			t.Errorf("retry --dead --dry-run --json: %+v, %v", res, err)
		}
		s.mustFail(t, s.adminKey, []string{"events", "retry", dead2, "--source", "stripe"}, "go with --dead")
		s.mustFail(t, s.adminKey, []string{"events", "retry", "--dead", dead2}, "not event ids")
		s.mustFail(t, s.viewKey, []string{"events", "retry", "--dead", "--dry-run"}, "forbidden")
	})
}

// waitTries waits until the receiver has seen webhookID n times.
func waitTries(t *testing.T, r *receiver.Receiver, webhookID string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for r.Tries()[webhookID] < n {
		if time.Now().After(deadline) {
			t.Fatalf("webhook-id %s arrived %d times; want %d", webhookID, r.Tries()[webhookID], n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// listenRun is a `hookd listen` running in-process.
type listenRun struct {
	stdout, stderr *notifyBuffer
	cancel         context.CancelFunc
	done           chan error
}

func (s *cliServer) listen(t *testing.T, key string, args ...string) *listenRun {
	t.Helper()
	l := &listenRun{stdout: newNotifyBuffer(), stderr: newNotifyBuffer(), done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(t.Context())
	l.cancel = cancel
	root := newRoot()
	root.SetArgs(append(append([]string{"listen"}, args...), "--server", s.base, "--env-file", filepath.Join(s.dir, "absent.env"), "--api-key="+key))
	root.SetOut(l.stdout)
	root.SetErr(l.stderr)
	go func() { l.done <- root.ExecuteContext(ctx) }()
	t.Cleanup(func() { l.stop(t) })
	return l
}

// stop cancels listen, as Ctrl-C does, and checks that it ends cleanly.
func (l *listenRun) stop(t *testing.T) {
	t.Helper()
	l.cancel()
	select {
	case err, ok := <-l.done:
		if ok && err != nil {
			t.Errorf("listen ended with %v\n%s", err, l.stderr.String())
		}
		close(l.done)
	case <-time.After(10 * time.Second):
		t.Errorf("listen did not stop within 10s of its cancellation")
	}
}

// waitOutput waits until b matches pattern, and returns the match.
func waitOutput(t *testing.T, b *notifyBuffer, pattern string) []string {
	t.Helper()
	re := regexp.MustCompile("(?m)" + pattern)
	deadline := time.NewTimer(15 * time.Second)
	defer deadline.Stop()
	for {
		changed := b.changed()
		if m := re.FindStringSubmatch(b.String()); m != nil {
			return m
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("no output matching %q within 15s:\n%s", pattern, b.String())
		}
	}
}

// arrivals collects what reaches a local receiver.
type arrivals struct {
	mu  sync.Mutex
	got []receiver.Arrival
}

func (a *arrivals) add(r receiver.Arrival) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.got = append(a.got, r)
}

func (a *arrivals) all() []receiver.Arrival {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.got)
}

func TestCLIListen(t *testing.T) {
	t.Parallel()
	s := startCLIServer(t)

	// API keys work on the stream's access_token too (for EventSource);
	// listen itself sends the Authorization header.
	resp, err := http.Get(s.base + "/api/stream?access_token=" + s.viewKey)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Errorf("GET /api/stream?access_token=<API key>: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}

	t.Run("with headers", func(t *testing.T) {
		var got arrivals
		local := startReceiver(t, receiver.Always(http.StatusOK), got.add)
		l := s.listen(t, s.viewKey, "--source", "github", "--headers", "--forward-to", local.URL()+"/hooks")
		waitOutput(t, l.stderr, `^Ready: forwarding events of source github from `+regexp.QuoteMeta(s.base)+` to `+regexp.QuoteMeta(local.URL())+`/hooks`)

		first := s.send(t, "github", `{"action": "opened"}`, "X-GitHub-Event", "issues", "X-Hub-Signature-256", "sha256=abc")
		s.send(t, "stripe", `{"not":"forwarded"}`)
		second := s.send(t, "github", `{"n":2}`, "X-GitHub-Event", "push")
		waitOutput(t, l.stdout, `^\d\d:\d\d:\d\d  `+second+`  push  -> 200 OK \(\S+\)$`)
		mustMatch(t, "listen output", l.stdout.String(), `^\d\d:\d\d:\d\d  `+first+`  issues\.opened  -> 200 OK \(\S+\)$`)

		// Forwards are sequential: the second arrived last, so anything
		// forwarded before it is here.
		all := got.all()
		if len(all) != 2 {
			t.Fatalf("%d requests reached the local receiver; want the 2 github events", len(all))
		}
		a := all[0]
		if string(a.Body) != `{"action": "opened"}` || a.Header.Get("Content-Type") != "application/json" ||
			a.Header.Get("X-Github-Event") != "issues" || a.Header.Get("X-Hub-Signature-256") != "sha256=abc" {
			t.Errorf("forwarded request: body %q, headers %v", a.Body, a.Header)
		}
		if a.Header.Get("webhook-signature") != "" {
			t.Errorf("listen forwarded a hookd signature: %v", a.Header)
		}
	})

	t.Run("without headers, a failing receiver and a type filter", func(t *testing.T) {
		var got arrivals
		local := startReceiver(t, receiver.Always(http.StatusServiceUnavailable), got.add)
		l := s.listen(t, s.adminKey, "--type", "pu*", "--forward-to", local.URL())
		waitOutput(t, l.stderr, `^Ready: forwarding events of every source of type pu\*`)
		s.send(t, "stripe", `{"type":"skipped"}`, "X-GitHub-Event", "issues")
		push := s.send(t, "github", `{"n":3}`, "X-GitHub-Event", "push")
		waitOutput(t, l.stdout, `^\d\d:\d\d:\d\d  `+push+`  push  -> 503 Service Unavailable \(\S+\)$`)
		sentinel := s.send(t, "stripe", `{"n":4}`, "X-GitHub-Event", "push")
		waitOutput(t, l.stdout, sentinel)
		all := got.all()
		if len(all) != 2 || string(all[0].Body) != `{"n":3}` {
			t.Fatalf("the local receiver got %d requests; want the push once (never retried) and the sentinel", len(all))
		}
		if h := all[0].Header; h.Get("X-Github-Event") != "" || h.Get("Content-Type") != "application/json" || !strings.HasPrefix(h.Get("User-Agent"), "hookd/") {
			t.Errorf("without --headers: %v; want the content type and hookd's agent only", h)
		}
	})

	t.Run("receiver down", func(t *testing.T) {
		gone := startReceiver(t, receiver.Always(http.StatusOK), nil)
		gone.Close() // nothing listens on its port any more
		l := s.listen(t, s.viewKey, "--source", "stripe", "--forward-to", gone.URL()+"/hooks")
		waitOutput(t, l.stderr, `^Ready:`)
		id := s.send(t, "stripe", `{"n":5}`)
		waitOutput(t, l.stdout, `^\d\d:\d\d:\d\d  `+id+`  -  -> failed: dial tcp \S+: connect: connection refused \(\S+\)$`)
	})

	t.Run("refusals", func(t *testing.T) {
		s.mustFail(t, "hk_not_a_key", []string{"listen", "--forward-to", "http://127.0.0.1:9/x"}, "401")
		s.mustFail(t, s.viewKey, []string{"listen", "--source", "bad name!", "--forward-to", "http://127.0.0.1:9/x"}, "400 invalid")
		s.mustFail(t, s.viewKey, []string{"listen", "--forward-to", "localhost:3000"}, "--forward-to", "absolute")
		s.mustFail(t, s.viewKey, []string{"listen"}, "forward-to")
	})
}

// TestCLIListenReconnects restarts hookd under a running listen: listen
// reconnects and forwards what arrived while it was away.
func TestCLIListenReconnects(t *testing.T) {
	t.Parallel()
	s := startCLIServer(t)
	var got arrivals
	local := startReceiver(t, receiver.Always(http.StatusOK), got.add)
	l := s.listen(t, s.viewKey, "--source", "github", "--forward-to", local.URL())
	waitOutput(t, l.stderr, `^Ready:`)
	before := s.send(t, "github", `{"n":"before"}`)
	waitOutput(t, l.stdout, before+`  -  -> 200 OK`)

	s.proc.signal(t, syscall.SIGTERM)
	if code := s.proc.waitExit(t, 15*time.Second); code != 0 {
		t.Fatalf("hookd exited with %d", code)
	}
	waitOutput(t, l.stderr, `^stream lost`)
	port := s.base[strings.LastIndex(s.base, ":")+1:]
	env := append(slices.Clone(s.env), "PORT="+port) // later values win
	s.proc = startHookd(t, s.dir, env, "serve")
	if base := s.proc.waitReady(t, 20*time.Second); base != s.base {
		t.Fatalf("restarted on %s; want %s", base, s.base)
	}
	// Sent at once, most likely before listen's next try: it comes by
	// catching up if so, by the stream if not.
	during := s.send(t, "github", `{"n":"after restart"}`)
	waitOutput(t, l.stdout, during+`  -  -> 200 OK`)
	waitOutput(t, l.stderr, `^reconnected to `+regexp.QuoteMeta(s.base)+`; catching up on events since`)
	after := s.send(t, "github", `{"n":"later"}`)
	waitOutput(t, l.stdout, after+`  -  -> 200 OK`)

	counts := map[string]int{}
	for _, a := range got.all() {
		counts[string(a.Body)]++
	}
	want := map[string]int{`{"n":"before"}`: 1, `{"n":"after restart"}`: 1, `{"n":"later"}`: 1}
	if fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Errorf("forwarded bodies %v; want each once: %v", counts, want)
	}
}

func TestParseTimeFlag(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{"", time.Time{}, false},
		{"2026-11-01T10:00:00Z", time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC), false},
		{"2026-11-01T10:00:00+02:00", time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC), false},
		{"2026-11-01", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), false},
		{"90m", now.Add(-90 * time.Minute), false},
		{"36h", now.Add(-36 * time.Hour), false},
		{"7d", now.Add(-7 * 24 * time.Hour), false},
		{" 1h ", now.Add(-time.Hour), false},
		{"-1h", time.Time{}, true},
		{"d", time.Time{}, true},
		{"1.5d", time.Time{}, true},
		{"99999999d", time.Time{}, true},
		{"yesterday", time.Time{}, true},
	}
	for _, tc := range cases {
		got, err := parseTimeFlag("since", tc.in, now)
		if (err != nil) != tc.wantErr || !got.Equal(tc.want) {
			t.Errorf("parseTimeFlag(%q) = %v, %v; want %v (error: %v)", tc.in, got, err, tc.want, tc.wantErr)
		}
		if err != nil && !strings.Contains(err.Error(), "--since") {
			t.Errorf("parseTimeFlag(%q): error %q does not name the flag", tc.in, err)
		}
	}
}

// FuzzParseTimeFlag: any value gives a time or an error naming the flag,
// never a panic, and an age never gives a time after now.
func FuzzParseTimeFlag(f *testing.F) {
	for _, seed := range []string{"", "2026-11-01T10:00:00Z", "2026-11-01", "90m", "7d", "-1h", "1e9d", "9223372036854775807ns", "0d"} {
		f.Add(seed)
	}
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		got, err := parseTimeFlag("until", v, now)
		if err != nil {
			if !strings.Contains(err.Error(), "--until") {
				t.Errorf("error %q does not name the flag", err)
			}
			return
		}
		_, rfcErr := time.Parse(time.RFC3339Nano, strings.TrimSpace(v))
		_, dateErr := time.Parse(time.DateOnly, strings.TrimSpace(v))
		if rfcErr != nil && dateErr != nil && got.After(now) {
			t.Errorf("the age %q gave %v, after now", v, got)
		}
	})
}

func TestSafeText(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{"plain\ttext\nline", "plain\ttext\nline"},
		{"\x1b[31mred\x1b[0m", `\x1b[31mred\x1b[0m`},
		{"bell\a and CR\r", `bell\x07 and CR\x0d`},
		{"C1 \u009b2J", `C1 \u009b2J`},
		{"bad \xff byte", `bad \ufffd byte`},
		{"ünïcödé ✓", "ünïcödé ✓"},
	}
	for _, tc := range cases {
		if got := safeText(tc.in); got != tc.want {
			t.Errorf("safeText(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}

func TestTableWidthsOnlyGrow(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	tb := newTable(&b)
	tb.row("ID", "NAME", "LAST")
	tb.row("a", "x", "")
	if err := tb.flush(); err != nil {
		t.Fatal(err)
	}
	tb.row("bbbb", "yy", "end")
	tb.row("c", "z", "\x1b")
	if err := tb.flush(); err != nil {
		t.Fatal(err)
	}
	want := "ID  NAME  LAST\na   x\nbbbb  yy    end\nc     z     \\x1b\n"
	if b.String() != want {
		t.Errorf("table:\n%q\nwant\n%q", b.String(), want)
	}
}
