package web_test

// The dashboard's own test suites run as part of `go test ./...`:
// TestDashboardComponents runs the Vitest component tests, and
// TestDashboardEndToEnd starts the real hookd binary (embedded SQLite, a
// temporary store, a YAML file of sources and destinations) beside a
// receiver in this process, then drives the dashboard in headless Chromium
// with Playwright (web/e2e/run.mjs). Both need `npm ci` in web/; the second
// needs Debian's chromium at /usr/bin/chromium. They fail, never skip,
// when those are missing: a green run must mean the dashboard was tested.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// chromiumPath is Debian's chromium; CHROMIUM_PATH overrides it.
func chromiumPath() string {
	if p := os.Getenv("CHROMIUM_PATH"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// webDir returns the dashboard's source folder and checks that its npm
// packages are installed.
func webDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "web"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node is not installed: the dashboard's tests need Node 20 and npm (then run npm ci in web/)")
	}
	for _, pkg := range []string{"vitest", "playwright-core", "react"} {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", pkg, "package.json")); err != nil {
			t.Fatalf("web/node_modules/%s is missing: run npm ci in web/ (make web-deps)", pkg)
		}
	}
	return dir
}

// run runs cmd, streaming its output into the test log when it fails or
// with -v, and fails the test if it exits non-zero.
func run(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	start := time.Now()
	err := cmd.Run()
	if err != nil || testing.Verbose() {
		t.Logf("%s (%s):\n%s", strings.Join(cmd.Args, " "), time.Since(start).Round(time.Millisecond), out.String())
	}
	if err != nil {
		t.Fatalf("%s: %v", strings.Join(cmd.Args, " "), err)
	}
}

func TestDashboardComponents(t *testing.T) {
	t.Parallel()
	dir := webDir(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join("node_modules", "vitest", "vitest.mjs"), "run", "--reporter=dot")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CI=true", "NO_COLOR=1", "FORCE_COLOR=0")
	run(t, cmd)
}

// receiver answers deliveries: /ok always with 200, /flaky with 500 until
// POST /control/heal, then with 200 (the browser test heals it before
// retrying dead letters).
type receiver struct {
	failing  atomic.Bool
	received atomic.Int64
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	switch r.URL.Path {
	case "/control/heal":
		rc.failing.Store(false)
		w.WriteHeader(http.StatusNoContent)
	case "/control/break":
		rc.failing.Store(true)
		w.WriteHeader(http.StatusNoContent)
	case "/flaky":
		rc.received.Add(1)
		if rc.failing.Load() {
			http.Error(w, `{"error":"billing is down for maintenance"}`, http.StatusInternalServerError)
			return
		}
		io.WriteString(w, `{"ok":true}`)
	default:
		rc.received.Add(1)
		io.WriteString(w, `{"ok":true}`)
	}
}

func buildHookd(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "hookd")
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "./cmd/hookd")
	cmd.Dir = root
	run(t, cmd)
	return bin
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func waitReady(t *testing.T, base string, exited <-chan struct{}, logs *lockedBuffer) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			t.Fatalf("hookd exited before it was ready:\n%s", logs)
		default:
		}
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("hookd at %s was not ready within 30 s\n%s", base, logs)
}

// lockedBuffer collects a process's output while the test may read it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestDashboardEndToEnd(t *testing.T) {
	t.Parallel()
	dir := webDir(t)
	if _, err := os.Stat(chromiumPath()); err != nil {
		t.Fatalf("%s is missing: apt-get install -y --no-install-recommends chromium (or set CHROMIUM_PATH)", chromiumPath())
	}
	bin := buildHookd(t)

	rc := &receiver{}
	rc.failing.Store(true)
	rcv := httptest.NewServer(rc)
	t.Cleanup(rcv.Close)

	tmp := t.TempDir()
	config := fmt.Sprintf(`sources:
  - name: github
  - name: stripe
destinations:
  - name: ci
    url: %[1]s/ok
    sources: [github]
    timeout: 5s
  - name: billing
    url: %[1]s/flaky
    sources: [stripe]
    timeout: 5s
`, rcv.URL)
	if err := os.WriteFile(filepath.Join(tmp, "hookd.yaml"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	const adminPassword = "correct horse battery staple"
	const viewerPassword = "viewer password 1"
	port := freePort(t)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	env := append(os.Environ(),
		"PORT="+strconv.Itoa(port),
		"HOOKD_HOST=127.0.0.1",
		"DATABASE_URL=sqlite://"+filepath.Join(tmp, "hookd.db"),
		"HOOKD_CONFIG="+filepath.Join(tmp, "hookd.yaml"),
		"HOOKD_ADMIN_PASSWORD="+adminPassword,
		"HOOKD_ALLOW_PRIVATE_DESTINATIONS=true",
		"MAX_RETRIES=0",
		"RETRY_BASE_DELAY=200",
		"REDIS_URL=",
	)

	logs := &lockedBuffer{}
	serve := exec.Command(bin, "serve")
	serve.Dir, serve.Env = tmp, env
	serve.Stdout, serve.Stderr = logs, logs
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { serve.Wait(); close(exited) }()
	t.Cleanup(func() {
		serve.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			serve.Process.Kill()
			<-exited
		}
	})
	waitReady(t, base, exited, logs)

	// The viewer is added with the CLI beside the running server, as an
	// operator would (before the first start there would be no admin:
	// HOOKD_ADMIN_PASSWORD creates one only in an empty user table).
	add := exec.CommandContext(t.Context(), bin, "user", "add", "viewer", "--role", "viewer", "--password-stdin")
	add.Dir, add.Env, add.Stdin = tmp, env, strings.NewReader(viewerPassword+"\n")
	run(t, add)

	artifacts := filepath.Join(dir, "artifacts")
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	// About 30 s on an idle machine with two cores; the bound leaves room
	// for a loaded one.
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	e2e := exec.CommandContext(ctx, "node", filepath.Join("e2e", "run.mjs"))
	e2e.Dir = dir
	e2e.Env = append(os.Environ(),
		"HOOKD_URL="+base,
		"RECEIVER_URL="+rcv.URL,
		"ADMIN_USER=admin", "ADMIN_PASSWORD="+adminPassword,
		"VIEWER_USER=viewer", "VIEWER_PASSWORD="+viewerPassword,
		"ARTIFACTS="+artifacts,
		"CHROMIUM_PATH="+chromiumPath(),
	)
	if os.Getenv("HOOKD_UPDATE_SCREENSHOTS") != "" {
		e2e.Env = append(e2e.Env, "README_SCREENSHOTS="+filepath.Join(dir, "..", "docs", "screenshots"))
	}
	var out bytes.Buffer
	e2e.Stdout, e2e.Stderr = &out, &out
	start := time.Now()
	err := e2e.Run()
	t.Logf("node e2e/run.mjs (%s):\n%s", time.Since(start).Round(time.Millisecond), out.String())
	if err != nil {
		t.Fatalf("browser tests failed: %v (screenshots of the failure in %s)\nhookd's log:\n%s", err, artifacts, logs.String())
	}
}
