package main

// These tests run the real binary, built once in TestMain, as an operator
// would: configured by environment variables and a YAML file, stopped by
// signals, killed with SIGKILL. Deliveries go to receivers in this test
// process, on loopback.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/app"
	"github.com/hookd/hookd/internal/config"
	"github.com/hookd/hookd/internal/mongotest"
	"github.com/hookd/hookd/internal/receiver"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/webhook"
)

// hookdBin is the binary under test, built by TestMain.
var hookdBin string

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "hookd-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "temp dir:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(gomod)) == "" {
		fmt.Fprintf(os.Stderr, "go env GOMOD: %q, %v\n", gomod, err)
		return 1
	}
	hookdBin = filepath.Join(dir, "hookd")
	build := exec.Command("go", "build", "-o", hookdBin, "./cmd/hookd")
	build.Dir = filepath.Dir(strings.TrimSpace(string(gomod)))
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build ./cmd/hookd: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// TestKillDashNineMidBurst kills hookd with SIGKILL while a burst of
// webhooks is arriving and deliveries are in flight (and, in the second
// case, retries are scheduled), restarts it on the same database, and
// checks that every webhook that got 202 reaches the receiver and ends in
// success in the store, and that a provider delivery id sent again, before
// or after the crash, answers with the first event's id and stores nothing.
func TestKillDashNineMidBurst(t *testing.T) {
	t.Parallel()
	for _, tc := range burstReceivers() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			killMidBurst(t, tc.behavior, burstStore{killAfter: 300, wait: 30 * time.Second})
		})
	}
}

// TestKillDashNineMidBurstMongo is TestKillDashNineMidBurst on the MongoDB
// store (FerretDB from internal/mongotest, or HOOKD_TEST_MONGODB_URL), a
// database per case. The burst is smaller because FerretDB over SQLite
// scans the collection for every claim. MongoDB is a store several
// processes may share, so the restarted process does not release the
// killed one's leases at start: they run out (the destination's 5 s
// timeout plus 30 s), and the waits allow for that.
func TestKillDashNineMidBurstMongo(t *testing.T) {
	t.Parallel()
	for _, tc := range burstReceivers() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			killMidBurst(t, tc.behavior, burstStore{url: mongotest.Database(t, "hookd_crash"), killAfter: 100, wait: 90 * time.Second})
		})
	}
}

// burstReceivers are the receivers a crash test delivers to.
func burstReceivers() []struct {
	name     string
	behavior receiver.Behavior
} {
	// Slow enough that a backlog builds and attempts are in flight when
	// the process dies.
	slowly := func(ctx context.Context, status int) int {
		select {
		case <-ctx.Done():
			return http.StatusServiceUnavailable
		case <-time.After(10 * time.Millisecond):
			return status
		}
	}
	return []struct {
		name     string
		behavior receiver.Behavior
	}{
		{"slow receiver", func(ctx context.Context, _ receiver.Arrival) int { return slowly(ctx, http.StatusOK) }},
		{"receiver failing every first try", func(ctx context.Context, a receiver.Arrival) int {
			if a.Try == 1 {
				return slowly(ctx, http.StatusInternalServerError)
			}
			return slowly(ctx, http.StatusOK)
		}},
	}
}

// burstStore is the store a crash test runs hookd on, and the burst's
// size and waits there.
type burstStore struct {
	// url is the DATABASE_URL; empty is a SQLite file in the test's
	// directory.
	url string
	// killAfter is how many accepted webhooks trigger the SIGKILL.
	killAfter int
	// wait bounds each wait for deliveries after the restart.
	wait time.Duration
}

// resendEvery picks the webhooks of a burst that are sent again with the
// same provider delivery id: at once, and after the restart.
const resendEvery = 5

func killMidBurst(t *testing.T, behavior receiver.Behavior, db burstStore) {
	const (
		total   = 3000 // at most; the senders stop at the kill
		senders = 24
	)
	dir := t.TempDir()
	arrived := newArrivedSet()
	rcv := startReceiver(t, behavior, arrived.add)
	env, args := serveSetup(t, dir, rcv.URL(), "max_in_flight: 4", false)
	database := sqliteURL(dir)
	if db.url != "" {
		database = db.url
		env = append(env, "DATABASE_URL="+database) // the last one wins
	}
	// A receiver failing every first try would open the circuit breaker
	// (every probe is a first try) and hold the backlog past the test's
	// wait; this test is about crashes, not the breaker.
	env = append(env, "HOOKD_BREAKER_FAILURES=0")

	first := startHookd(t, dir, env, args...)
	base := first.waitReady(t, 20*time.Second)

	var (
		mu            sync.Mutex
		accepted      = map[int]string{} // n → event id
		badResends    []string
		next          atomic.Int64
		killOnce      sync.Once
		killed        = make(chan struct{})
		arrivedAtKill int
	)
	client := newClient(t, false)
	var wg sync.WaitGroup
	for range senders {
		wg.Go(func() {
			for {
				n := int(next.Add(1) - 1)
				if n >= total {
					return
				}
				select {
				case <-killed:
					return
				default:
				}
				r, ok := postBurst(client, base, n)
				if !ok {
					continue // refused or cut off by the kill: no promise was made
				}
				mu.Lock()
				accepted[n] = r.ID
				count := len(accepted)
				if r.Duplicate {
					badResends = append(badResends, fmt.Sprintf("webhook %d: first send answered duplicate", n))
				}
				mu.Unlock()
				if n%resendEvery == 0 {
					// The same provider delivery id again, while the
					// burst goes on.
					if again, ok := postBurst(client, base, n); ok && (again.ID != r.ID || !again.Duplicate) {
						mu.Lock()
						badResends = append(badResends, fmt.Sprintf("webhook %d sent again: %+v; want id %s, duplicate", n, again, r.ID))
						mu.Unlock()
					}
				}
				if count >= db.killAfter {
					killOnce.Do(func() {
						arrivedAtKill = arrived.len()
						first.signal(t, syscall.SIGKILL)
						close(killed)
					})
				}
			}
		})
	}
	wg.Wait()
	select {
	case <-killed:
	default:
		t.Fatalf("the burst ended with %d accepted, below the kill threshold %d", len(accepted), db.killAfter)
	}
	if code := first.waitExit(t, 10*time.Second); code != -1 {
		t.Errorf("killed hookd exited with code %d; want death by signal", code)
	}
	t.Logf("killed after %d webhooks were accepted, when %d had arrived", len(accepted), arrivedAtKill)

	second := startHookd(t, dir, env, args...)
	base = second.waitReady(t, 20*time.Second)
	// Provider delivery ids accepted before the kill are still known.
	resent := 0
	for n, id := range accepted {
		if n%resendEvery != 1 {
			continue
		}
		resent++
		if r, ok := postBurst(client, base, n); !ok || r.ID != id || !r.Duplicate {
			badResends = append(badResends, fmt.Sprintf("webhook %d sent again after the restart: %+v (accepted %v); want id %s, duplicate", n, r, ok, id))
		}
	}
	if resent == 0 {
		t.Errorf("no accepted webhook to send again after the restart among %d", len(accepted))
	}
	if missing := arrived.waitAll(t, slices.Collect(maps.Keys(accepted)), db.wait); len(missing) > 0 {
		t.Errorf("%d accepted webhooks never arrived after the restart: %v", len(missing), missing)
	}
	// Webhooks that arrived before the kill but whose attempt was not
	// recorded are sent again: wait for those too.
	waitDrained(t, base, db.wait)
	second.signal(t, syscall.SIGTERM)
	if code := second.waitExit(t, 15*time.Second); code != 0 {
		t.Fatalf("restarted hookd exited with %d after SIGTERM; want 0\n%s", code, second.stderr.String())
	}
	if unstable := arrived.unstableIDs(); len(unstable) > 0 {
		t.Errorf("deliveries that arrived under several webhook-ids across the restart: %v", unstable)
	}
	for _, b := range badResends {
		t.Error(b)
	}
	st := openStore(t, database)
	for n, d := range storedDeliveries(t, st, accepted) {
		if d.Status != webhook.StatusSuccess {
			t.Errorf("webhook %d: delivery %s is %s after %d attempts; want success", n, d.ID, d.Status, d.Attempts)
		}
	}
	checkOneEventPerKey(t, st, accepted)
}

// TestGracefulShutdown sends SIGTERM while deliveries to a slow receiver
// are in flight and webhooks keep arriving. hookd must exit 0 promptly,
// refuse webhooks while it shuts down rather than accept and lose them, and
// either let the attempts in flight finish or, past HOOKD_SHUTDOWN_TIMEOUT,
// cancel them and hand them back without counting an attempt. After a
// restart every accepted webhook is delivered exactly once, each delivery
// having taken one attempt.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		grace    time.Duration // HOOKD_SHUTDOWN_TIMEOUT
		work     time.Duration // how long the receiver takes until the restart
		handBack bool          // the work outlasts the grace
	}{
		{"attempts in flight finish", 5 * time.Second, 500 * time.Millisecond, false},
		{"attempts past the grace are handed back", 200 * time.Millisecond, 5 * time.Second, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const before = 20 // webhooks sent before the signal
			dir := t.TempDir()
			var slow atomic.Bool
			slow.Store(true)
			var cutOff atomic.Int64 // attempts hookd abandoned mid-request
			inFlight := make(chan struct{}, 1)
			arrived := newArrivedSet()
			rcv := startReceiver(t, func(ctx context.Context, _ receiver.Arrival) int {
				select {
				case inFlight <- struct{}{}:
				default:
				}
				if !slow.Load() {
					return http.StatusOK
				}
				select {
				case <-ctx.Done():
					cutOff.Add(1)
					return http.StatusServiceUnavailable
				case <-time.After(tc.work):
					return http.StatusOK
				}
			}, arrived.add)
			env, args := serveSetup(t, dir, rcv.URL(), "max_in_flight: 4", true)
			env = append(env, fmt.Sprintf("HOOKD_SHUTDOWN_TIMEOUT=%d", tc.grace.Milliseconds())) // no flag

			first := startHookd(t, dir, env, args...)
			base := first.waitReady(t, 20*time.Second)
			client := newClient(t, true) // a fresh connection per request: refusals show
			accepted := map[int]string{}
			for n := range before {
				id, ok := postAccepted(client, base, n)
				if !ok {
					t.Fatalf("webhook %d was not accepted", n)
				}
				accepted[n] = id
			}
			select {
			case <-inFlight:
			case <-time.After(10 * time.Second):
				t.Fatal("no delivery reached the receiver")
			}

			// Keep sending, before and while hookd shuts down, paced so as
			// not to starve hookd of CPU.
			var (
				mu                    sync.Mutex
				refusedDuringShutdown int
				unexpected            []string
				signalled             atomic.Bool
				senderDone            = make(chan struct{})
				firstAccepted         = make(chan struct{})
				acceptOnce            sync.Once
			)
			go func() {
				defer close(senderDone)
				pace := time.NewTicker(time.Millisecond)
				defer pace.Stop()
				for n := 1000; ; n++ {
					select {
					case <-first.done:
						return
					case <-pace.C:
					}
					during := signalled.Load()
					status, raw, err := post(client, base+"/webhook/burst", fmt.Appendf(nil, `{"n":%d}`, n))
					mu.Lock()
					switch {
					case err == nil && status == http.StatusAccepted:
						var r struct{ ID string }
						if err := json.Unmarshal(raw, &r); err != nil || r.ID == "" {
							unexpected = append(unexpected, fmt.Sprintf("webhook %d: 202 %s", n, raw))
						}
						accepted[n] = r.ID
						acceptOnce.Do(func() { close(firstAccepted) })
					case err == nil && status == http.StatusServiceUnavailable,
						errors.Is(err, syscall.ECONNREFUSED):
						if during {
							refusedDuringShutdown++
						}
					case err != nil:
						// Cut off mid-request: no 202, so no promise was made.
					default:
						unexpected = append(unexpected, fmt.Sprintf("webhook %d: %d %s", n, status, raw))
					}
					mu.Unlock()
				}
			}()
			select {
			case <-firstAccepted:
			case <-time.After(10 * time.Second):
				t.Fatal("the background sender got no 202")
			}

			signalled.Store(true)
			sent := time.Now()
			first.signal(t, syscall.SIGTERM)
			code := first.waitExit(t, tc.grace+10*time.Second)
			took := time.Since(sent)
			if code != 0 {
				t.Errorf("hookd exited with %d after SIGTERM; want 0\n%s", code, first.stderr.String())
			}
			if bound := tc.grace + 3*time.Second; took > bound {
				t.Errorf("hookd took %s to stop; want at most %s (grace %s)", took, bound, tc.grace)
			}
			<-senderDone
			switch cut := cutOff.Load(); {
			case !tc.handBack && cut > 0:
				t.Errorf("%d attempts in flight were cut off; they take %s and the grace is %s, so they should finish", cut, tc.work, tc.grace)
			case tc.handBack && cut == 0:
				t.Errorf("no attempt was cut off; they take %s and the grace is %s", tc.work, tc.grace)
			}
			mu.Lock()
			if len(unexpected) > 0 {
				t.Errorf("answers other than 202 or 503 during shutdown: %v", unexpected)
			}
			if refusedDuringShutdown == 0 {
				t.Error("no webhook was refused while hookd shut down; want connection refused or 503")
			}
			t.Logf("stopped in %s; %d accepted, %d refused during shutdown, %d arrived and %d cut off before the restart",
				took.Round(time.Millisecond), len(accepted), refusedDuringShutdown, arrived.len(), cutOff.Load())
			mu.Unlock()

			slow.Store(false)
			second := startHookd(t, dir, env, args...)
			base = second.waitReady(t, 20*time.Second)
			if missing := arrived.waitAll(t, slices.Collect(maps.Keys(accepted)), 20*time.Second); len(missing) > 0 {
				t.Errorf("%d accepted webhooks never arrived: %v", len(missing), missing)
			}
			waitDrained(t, base, 20*time.Second)
			second.signal(t, syscall.SIGTERM)
			if code := second.waitExit(t, 15*time.Second); code != 0 {
				t.Fatalf("restarted hookd exited with %d; want 0\n%s", code, second.stderr.String())
			}
			if dups := arrived.duplicates(); len(dups) > 0 {
				t.Errorf("webhooks delivered more than once across a graceful restart (n: times): %v", dups)
			}
			for n, d := range storedDeliveries(t, openStore(t, sqliteURL(dir)), accepted) {
				if d.Status != webhook.StatusSuccess || d.Attempts != 1 {
					t.Errorf("webhook %d: delivery %s is %s after %d attempts; want success after 1 (a handed-back attempt is not counted)",
						n, d.ID, d.Status, d.Attempts)
				}
			}
		})
	}
}

// TestMalformedConfigFile: `hookd serve --config` with a broken file
// exits non-zero with a message naming the file, the line and (when the
// file parsed) the field.
func TestMalformedConfigFile(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		yaml string
		line int
		want []string // in stderr besides path:line:
	}{
		{
			name: "yaml syntax error",
			yaml: "sources:\n  - name: github\n    max_body_bytes: 1024\n   bad indent: 1\ndestinations: []\n",
			line: 4,
		},
		{
			name: "unknown field",
			yaml: "sources:\n  - name: github\ndestinations:\n  - name: ci\n    url: http://127.0.0.1:9/hook\n    sources: [github]\n    retries: 3\n",
			line: 7,
			want: []string{`"retries"`, "unknown field"},
		},
		{
			name: "destination without url",
			yaml: "sources:\n  - name: github\ndestinations:\n  - name: ci\n    sources: [github]\n    timeout: 5s\n",
			line: 4,
			want: []string{"destinations[0].url", "required"},
		},
		{
			name: "undeclared source",
			yaml: "sources:\n  - name: github\ndestinations:\n  - name: ci\n    url: http://127.0.0.1:9/hook\n    sources:\n      - github\n      - stripe\n",
			line: 8,
			want: []string{"destinations[0].sources[1]", `"stripe"`},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "bad.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			env := baseEnv(dir, "DATABASE_URL=sqlite://"+filepath.Join(dir, "hookd.db"), "PORT=0", "HOOKD_HOST=127.0.0.1")
			p := startHookd(t, dir, env, "serve", "--config", path)
			if code := p.waitExit(t, 15*time.Second); code == 0 {
				t.Fatalf("hookd accepted the file; want a non-zero exit")
			}
			stderr := p.stderr.String()
			for _, w := range append([]string{fmt.Sprintf("%s:%d:", path, tc.line)}, tc.want...) {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr does not contain %q:\n%s", w, stderr)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "hookd.db")); err == nil {
				t.Errorf("a database was created despite the bad configuration")
			}
		})
	}
}

// TestSimulate runs `hookd simulate`, which checks end to end that nothing
// accepted is lost, and expects it to pass.
func TestSimulate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := startHookd(t, dir, baseEnv(dir), "simulate", "-n", "30")
	if code := p.waitExit(t, 60*time.Second); code != 0 {
		t.Fatalf("hookd simulate exited with %d\nstdout:\n%s\nstderr:\n%s", code, p.stdout.String(), p.stderr.String())
	}
	if out := p.stdout.String(); !strings.Contains(out, "nothing lost") {
		t.Errorf("simulate output lacks its verdict:\n%s", out)
	}
}

// --- helpers -------------------------------------------------------------

// baseEnv is a minimal environment, so that nothing in the caller's leaks
// into the process under test, plus extra KEY=value pairs.
func baseEnv(dir string, extra ...string) []string {
	return append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "TMPDIR=" + dir}, extra...)
}

// serveSetup writes a configuration file with one source, "burst", and
// one destination at url (destExtra is added to its YAML), and returns the
// environment and arguments that run `hookd serve` on a database in dir.
// viaFlags passes the settings as flags, over an environment that says
// otherwise, so the test also proves that flags win.
func serveSetup(t *testing.T, dir, url, destExtra string, viaFlags bool) (env, args []string) {
	t.Helper()
	cfg := fmt.Sprintf(`sources:
  - name: burst
destinations:
  - name: sink
    url: %s/hook
    sources: [burst]
    secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
    timeout: 5s
    %s
`, url, destExtra)
	path := filepath.Join(dir, "hookd.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	database := sqliteURL(dir)
	if viaFlags {
		env = baseEnv(dir,
			"DATABASE_URL=sqlite://"+filepath.Join(dir, "not-this.db"),
			"HOOKD_ALLOW_PRIVATE_DESTINATIONS=false",
			"MAX_RETRIES=0",
			"RETRY_MAX_DELAY=1000", // no flag
		)
		args = []string{"serve", "--config", path, "--database-url", database,
			"--port", "0", "--host", "127.0.0.1", "--allow-private-destinations",
			"--max-retries", "10", "--retry-base-delay", "100"}
		return env, args
	}
	env = baseEnv(dir,
		"HOOKD_CONFIG="+path,
		"DATABASE_URL="+database,
		// Port 0 and the logged address: no race for a "free" port.
		"PORT=0",
		"HOOKD_HOST=127.0.0.1",
		"HOOKD_ALLOW_PRIVATE_DESTINATIONS=true",
		"MAX_RETRIES=10",
		"RETRY_BASE_DELAY=100",
		"RETRY_MAX_DELAY=1000",
	)
	return env, []string{"serve"}
}

// proc is a running hookd.
type proc struct {
	cmd    *exec.Cmd
	stdout *notifyBuffer
	stderr *notifyBuffer
	done   chan struct{} // closed when the process has exited
	err    error         // from Wait, once done is closed
}

// startHookd runs the binary with args in dir; it is killed when the test
// ends if it is still running.
func startHookd(t *testing.T, dir string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{stdout: newNotifyBuffer(), stderr: newNotifyBuffer(), done: make(chan struct{})}
	p.cmd = exec.Command(hookdBin, args...)
	p.cmd.Dir = dir
	p.cmd.Env = env
	p.cmd.Stdout = p.stdout
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start hookd: %v", err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			if err := p.cmd.Process.Kill(); err != nil {
				t.Errorf("kill hookd: %v", err)
			}
			<-p.done
		}
		if t.Failed() {
			t.Logf("hookd %v stderr:\n%s", args, p.stderr.String())
		}
	})
	return p
}

var listening = regexp.MustCompile(`msg="hookd listening" addr=(\S+)`)

// waitReady waits for hookd to log its address, checks /healthz there and
// returns the base URL.
func (p *proc) waitReady(t *testing.T, timeout time.Duration) string {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		changed := p.stderr.changed()
		if m := listening.FindStringSubmatch(p.stderr.String()); m != nil {
			base := "http://" + m[1]
			resp, err := http.Get(base + "/healthz")
			if err != nil {
				t.Fatalf("GET /healthz: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET /healthz: %d", resp.StatusCode)
			}
			return base
		}
		select {
		case <-changed:
		case <-p.done:
			t.Fatalf("hookd exited before listening (%v):\n%s", p.err, p.stderr.String())
		case <-deadline.C:
			t.Fatalf("hookd did not listen within %s:\n%s", timeout, p.stderr.String())
		}
	}
}

func (p *proc) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Errorf("signal %v: %v", sig, err)
	}
}

// waitExit waits for the process to end and returns its exit code, -1
// when a signal killed it.
func (p *proc) waitExit(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("hookd still running after %s:\n%s", timeout, p.stderr.String())
	}
	var ee *exec.ExitError
	switch {
	case p.err == nil:
		return 0
	case errors.As(p.err, &ee):
		return ee.ExitCode()
	}
	t.Fatalf("wait: %v", p.err)
	return 0
}

// arrivedSet records which {"n":…} bodies reached a receiver with 200,
// and the webhook-ids each came with, whatever the answer.
type arrivedSet struct {
	mu         sync.Mutex
	counts     map[int]int
	webhookIDs map[int]map[string]bool
	notify     chan struct{} // closed and replaced on every arrival
}

func newArrivedSet() *arrivedSet {
	return &arrivedSet{counts: map[int]int{}, webhookIDs: map[int]map[string]bool{}, notify: make(chan struct{})}
}

func (s *arrivedSet) add(a receiver.Arrival) {
	var body struct{ N *int }
	if err := json.Unmarshal(a.Body, &body); err != nil || body.N == nil {
		return // not ours; the missing-n check reports the consequence
	}
	n := *body.N
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.webhookIDs[n] == nil {
		s.webhookIDs[n] = map[string]bool{}
	}
	s.webhookIDs[n][a.WebhookID] = true
	if a.Status != http.StatusOK {
		return
	}
	s.counts[n]++
	close(s.notify)
	s.notify = make(chan struct{})
}

// unstableIDs returns the ns that arrived under more than one webhook-id,
// though each is one delivery.
func (s *arrivedSet) unstableIDs() map[int][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[int][]string{}
	for n, ids := range s.webhookIDs {
		if len(ids) > 1 {
			out[n] = slices.Sorted(maps.Keys(ids))
		}
	}
	return out
}

func (s *arrivedSet) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.counts)
}

// missing returns the ns not arrived yet, and a channel closed at the next
// arrival.
func (s *arrivedSet) missing(ns []int) ([]int, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []int
	for _, n := range ns {
		if s.counts[n] == 0 {
			out = append(out, n)
		}
	}
	return out, s.notify
}

// waitAll waits until every n has arrived and returns those that did not
// within timeout, sorted.
func (s *arrivedSet) waitAll(t *testing.T, ns []int, timeout time.Duration) []int {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		missing, notify := s.missing(ns)
		if len(missing) == 0 {
			return nil
		}
		select {
		case <-notify:
		case <-deadline.C:
			slices.Sort(missing)
			return missing
		}
	}
}

func (s *arrivedSet) duplicates() map[int]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[int]int{}
	for n, c := range s.counts {
		if c > 1 {
			out[n] = c
		}
	}
	return out
}

func startReceiver(t *testing.T, b receiver.Behavior, onArrival func(receiver.Arrival)) *receiver.Receiver {
	t.Helper()
	r, err := receiver.Start(b, receiver.Options{OnArrival: onArrival})
	if err != nil {
		t.Fatalf("receiver.Start: %v", err)
	}
	t.Cleanup(r.Close)
	return r
}

// newClient returns a client closed when the test ends; fresh dials a
// new connection for every request.
func newClient(t *testing.T, fresh bool) *http.Client {
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: fresh, MaxIdleConnsPerHost: 64}, Timeout: 20 * time.Second}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// waitDrained polls /debug/status until no delivery is queued, scheduled
// or in flight. The process gives no other signal, so this polls, with a
// deadline.
func waitDrained(t *testing.T, base string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var last string
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/debug/status")
		if err != nil {
			t.Fatalf("GET /debug/status: %v", err)
		}
		var st struct {
			Ready     int64 `json:"queue_length"`
			Scheduled int64 `json:"scheduled_retries"`
			InFlight  int64 `json:"in_flight"`
		}
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("GET /debug/status: %v", err)
		}
		if st.Ready+st.Scheduled+st.InFlight == 0 {
			return
		}
		last = fmt.Sprintf("%+v", st)
		<-tick.C
	}
	t.Fatalf("deliveries still queued after %s: %s", timeout, last)
}

// postAccepted sends webhook {"n": n} to the source "burst" and returns
// the event id when it was accepted.
func postAccepted(c *http.Client, base string, n int) (string, bool) {
	r, ok := postBurst(c, base, n)
	return r.ID, ok
}

// burstReply is ingest's answer to an accepted webhook.
type burstReply struct {
	ID        string `json:"id"`
	Duplicate bool   `json:"duplicate"`
}

// postBurst sends webhook {"n": n} to the source "burst" with provider
// delivery id (Idempotency-Key) burstKey(n), and returns ingest's answer
// when it was accepted.
func postBurst(c *http.Client, base string, n int) (burstReply, bool) {
	req, err := http.NewRequest(http.MethodPost, base+"/webhook/burst", bytes.NewReader(fmt.Appendf(nil, `{"n":%d}`, n)))
	if err != nil {
		return burstReply{}, false
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", burstKey(n))
	resp, err := c.Do(req)
	if err != nil {
		return burstReply{}, false
	}
	defer resp.Body.Close()
	var r burstReply
	if resp.StatusCode != http.StatusAccepted || json.NewDecoder(resp.Body).Decode(&r) != nil || r.ID == "" {
		return burstReply{}, false
	}
	return r, true
}

func burstKey(n int) string { return fmt.Sprintf("burst-%d", n) }

// sqliteURL is the DATABASE_URL of the SQLite file of a hookd run in dir.
func sqliteURL(dir string) string { return "sqlite://" + filepath.Join(dir, "data", "hookd.db") }

// openStore opens the store of a stopped hookd by its DATABASE_URL, as
// the administrative commands do; it is closed when the test ends.
func openStore(t *testing.T, databaseURL string) store.Store {
	t.Helper()
	st, err := app.OpenShared(context.Background(), config.Config{DatabaseURL: databaseURL})
	if err != nil {
		t.Fatalf("open the store %s: %v", databaseURL, err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("close the store: %v", err)
		}
	})
	return st
}

// checkOneEventPerKey lists every stored event and checks that each holds
// one webhook of the burst under its provider delivery id, that no
// webhook was stored twice, and that each accepted one is stored under
// the id its 202 gave.
func checkOneEventPerKey(t *testing.T, st store.Store, accepted map[int]string) {
	t.Helper()
	ctx := context.Background()
	byN := map[int]string{}
	before := ""
	for {
		page, err := st.EventList(ctx, store.EventListParams{Source: "burst", Before: before, Limit: 500, NoTotal: true})
		if err != nil {
			t.Fatalf("list events: %v", err)
		}
		for _, e := range page.Items {
			var n int
			if _, err := fmt.Sscanf(e.IdempotencyKey, "burst-%d", &n); err != nil || burstKey(n) != e.IdempotencyKey {
				t.Errorf("event %s has idempotency key %q; want burst-<n>", e.ID, e.IdempotencyKey)
				continue
			}
			if other, ok := byN[n]; ok {
				t.Errorf("webhook %d is stored twice: events %s and %s", n, other, e.ID)
			}
			byN[n] = e.ID
		}
		if len(page.Items) < 500 {
			break
		}
		before = page.Items[len(page.Items)-1].ID
	}
	for n, id := range accepted {
		if byN[n] != id {
			t.Errorf("webhook %d: stored as event %q; its 202 said %s", n, byN[n], id)
		}
	}
	t.Logf("%d events stored for %d accepted webhooks (the rest were stored when the kill cut off their answer)", len(byN), len(accepted))
}

// storedDeliveries returns the one delivery of each accepted event, by n.
func storedDeliveries(t *testing.T, st store.Store, accepted map[int]string) map[int]webhook.Delivery {
	t.Helper()
	ctx := context.Background()
	out := make(map[int]webhook.Delivery, len(accepted))
	for n, id := range accepted {
		ds, err := st.DeliveryListByEvent(ctx, id)
		if err != nil || len(ds) != 1 {
			t.Errorf("webhook %d (event %s): deliveries %+v, %v; want one", n, id, ds, err)
			continue
		}
		out[n] = ds[0]
	}
	return out
}

func post(c *http.Client, url string, body []byte) (int, []byte, error) {
	resp, err := c.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, raw, err
}

// notifyBuffer is an output buffer that tells waiters when it grows.
type notifyBuffer struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	notify chan struct{}
}

func newNotifyBuffer() *notifyBuffer { return &notifyBuffer{notify: make(chan struct{})} }

func (b *notifyBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	close(b.notify)
	b.notify = make(chan struct{})
	return b.buf.Write(p)
}

func (b *notifyBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// changed returns a channel closed at the next write.
func (b *notifyBuffer) changed() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.notify
}
