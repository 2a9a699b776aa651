// Package mongotest gives tests a MongoDB database of their own, so that
// tests of every package run in parallel on one server and leave nothing
// behind. It is imported only by tests.
//
// The server is HOOKD_TEST_MONGODB_URL when set (a real MongoDB 6+ works).
// Otherwise the package builds FerretDB, a MongoDB wire-protocol server,
// from tools/ferretdb (its own Go module) with its SQLite backend, once per
// version of that module (cached as /tmp/hookd-ferretdb-<hash>/ferretdb;
// the first build takes minutes, `.ci/run` does it up front), and starts
// one server per test binary on a free loopback port with a temporary data
// directory. The server is stopped by the last test's cleanup.
package mongotest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

var (
	mu      sync.Mutex
	users   int
	server  *proc
	baseURL string
)

// URL returns the base URL of the test server, starting it if need be, and
// keeps it running until the test ends (and no other test uses it).
func URL(tb testing.TB) string {
	tb.Helper()
	if u := os.Getenv("HOOKD_TEST_MONGODB_URL"); u != "" {
		return u
	}
	mu.Lock()
	defer mu.Unlock()
	if server == nil {
		cmd, u, err := start()
		if err != nil {
			tb.Fatalf("mongotest: %v", err)
		}
		server, baseURL = cmd, u
	}
	users++
	tb.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		if users--; users == 0 && server != nil {
			stop(server)
			server = nil
		}
	})
	return baseURL
}

// Database returns a URL naming a fresh database prefix_<random> on the
// test server. The database is not dropped: each test server lives in a
// temporary directory removed when it stops; on a real MongoDB
// (HOOKD_TEST_MONGODB_URL) the caller's store drops nothing either, so use
// a disposable server.
func Database(tb testing.TB, prefix string) string {
	tb.Helper()
	u, err := url.Parse(URL(tb))
	if err != nil {
		tb.Fatalf("mongotest: parse url: %v", err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	u.Path = "/" + prefix + "_" + hex.EncodeToString(b[:])
	return u.String()
}

// Binary builds the FerretDB binary if its cached copy is missing and
// returns its path.
func Binary() (string, error) {
	dir, err := toolDir()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, name := range []string{"go.mod", "go.sum", "main.go"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return "", fmt.Errorf("read tools/ferretdb: %w", err)
		}
		h.Write(b)
	}
	h.Write([]byte(runtime.Version()))
	out := filepath.Join(os.TempDir(), "hookd-ferretdb-"+hex.EncodeToString(h.Sum(nil))[:12], "ferretdb")
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	tmp := out + ".tmp" + hex.EncodeToString(h.Sum(nil))[:4] + fmt.Sprint(os.Getpid())
	cmd := exec.Command("go", "build", "-o", tmp, ".")
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build FerretDB: %w\n%s", err, stderr.String())
	}
	if err := os.Rename(tmp, out); err != nil {
		return "", fmt.Errorf("build FerretDB: %w", err)
	}
	return out, nil
}

// toolDir finds tools/ferretdb above the working directory (tests run in
// their package's directory).
func toolDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "tools", "ferretdb")
		if _, err := os.Stat(filepath.Join(p, "main.go")); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("tools/ferretdb not found above the working directory")
		}
		dir = parent
	}
}

// proc is a running server; done is closed once it exited.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func start() (*proc, string, error) {
	bin, err := Binary()
	if err != nil {
		return nil, "", err
	}
	data, err := os.MkdirTemp("", "hookd-ferretdb-data-")
	if err != nil {
		return nil, "", err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "-listen", addr, "-dir", data)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		os.RemoveAll(data)
		return nil, "", fmt.Errorf("start FerretDB: %w", err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		os.RemoveAll(data)
		close(p.done)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		if err == nil {
			c.Close()
			return p, "mongodb://" + addr + "/", nil
		}
		if ctx.Err() != nil {
			stop(p)
			return nil, "", fmt.Errorf("FerretDB did not listen on %s: %w", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func stop(p *proc) {
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}
