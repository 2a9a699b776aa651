package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/pgtest"
	"github.com/hookd/hookd/internal/receiver"
)

// orderLog is the receiver's log of (key, sequence) in arrival order.
type orderLog struct {
	mu      sync.Mutex
	entries []orderEntry
	changed chan struct{}
}

type orderEntry struct {
	key string
	seq int
}

func newOrderLog() *orderLog { return &orderLog{changed: make(chan struct{}, 1)} }

func (l *orderLog) add(a receiver.Arrival) {
	var m struct {
		K string `json:"k"`
		S int    `json:"s"`
	}
	if err := json.Unmarshal(a.Body, &m); err != nil {
		return
	}
	l.mu.Lock()
	l.entries = append(l.entries, orderEntry{m.K, m.S})
	l.mu.Unlock()
	select {
	case l.changed <- struct{}{}:
	default:
	}
}

// check reads the log per key: a sequence may arrive only once every
// earlier one of its key has arrived (its first arrival is the next one
// expected), or again after it arrived (an at-least-once repeat). It
// returns the violations, and per key how many sequences have arrived.
func (l *orderLog) check() (violations []string, delivered map[string]int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delivered = map[string]int{} // key -> next sequence expected
	for i, e := range l.entries {
		next := delivered[e.key]
		switch {
		case e.seq == next:
			delivered[e.key] = next + 1
		case e.seq > next:
			violations = append(violations, fmt.Sprintf("arrival %d: %s#%d before %s#%d", i, e.key, e.seq, e.key, next))
		}
	}
	return violations, delivered
}

// TestOrderingWorkersKilled runs ordered delivery on PostgreSQL and Redis
// with three delivering processes (one `hookd serve`, two `hookd worker`):
// 50 keys × 20 events, each key's events sent one after another (each
// after the previous one's 202), all keys at once. One worker is killed
// with SIGKILL mid-burst and another started. From the receiver's log, no
// key may ever see a sequence before every earlier one of that key arrived
// (a repeat of one already delivered is allowed: at least once), and every
// event must arrive. The killed worker's leases run out after the
// destination timeout + 30 s, which bounds this test's length.
func TestOrderingWorkersKilled(t *testing.T) {
	t.Parallel()
	const (
		keys      = 50
		perKey    = 20
		killAfter = 300
	)
	dir := t.TempDir()
	log := newOrderLog()
	rcv := startReceiver(t, slowOK(2*time.Millisecond), log.add)

	dbURL, schema := pgtest.Schema(t, "hookd_ordering_test")
	env, _ := serveSetup(t, dir, rcv.URL(), "ordering: {key: .payload.k}\n    max_in_flight: 32", false)
	prefix := schema + ":"
	env = append(env, "DATABASE_URL="+dbURL, "HOOKD_MIGRATE=false",
		"REDIS_URL="+redisURL(), "HOOKD_REDIS_PREFIX="+prefix,
		"HOOKD_WORKERS="+strconv.Itoa(workersPerProcess), "HOOKD_ADMIN_PASSWORD=ordering-test-pw")
	t.Cleanup(func() { deleteRedisKeys(t, prefix) })
	if code := startHookd(t, dir, env, "migrate").waitExit(t, 30*time.Second); code != 0 {
		t.Fatalf("hookd migrate exited %d", code)
	}
	base := startHookd(t, dir, env, "serve").waitReady(t, 20*time.Second)
	victim := startHookd(t, dir, env, "worker")
	victim.waitReady(t, 20*time.Second)
	startHookd(t, dir, env, "worker").waitReady(t, 20*time.Second)

	client := newClient(t, false)
	var (
		mu       sync.Mutex
		accepted int
		failures []string
		killOnce sync.Once
		wg       sync.WaitGroup
	)
	killed := make(chan struct{})
	for k := range keys {
		wg.Go(func() {
			key := fmt.Sprintf("key-%02d", k)
			for s := range perKey {
				body := fmt.Appendf(nil, `{"k":%q,"s":%d}`, key, s)
				resp, err := client.Post(base+"/webhook/burst", "application/json", bytes.NewReader(body))
				if err == nil {
					resp.Body.Close()
				}
				mu.Lock()
				if err != nil || resp.StatusCode != http.StatusAccepted {
					failures = append(failures, fmt.Sprintf("%s#%d: %v %v", key, s, err, resp))
					mu.Unlock()
					return // the next of this key would have no predecessor
				}
				accepted++
				n := accepted
				mu.Unlock()
				if n >= killAfter {
					killOnce.Do(func() {
						if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
							t.Errorf("SIGKILL the worker: %v", err)
						}
						close(killed)
					})
				}
			}
		})
	}
	<-killed
	_, delivered := log.check()
	sum := 0
	for _, n := range delivered {
		sum += n
	}
	t.Logf("a worker killed after %d webhooks were accepted, when %d had arrived in order", killAfter, sum)
	startHookd(t, dir, env, "worker").waitReady(t, 20*time.Second)
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d webhooks not accepted: %v", len(failures), failures[:min(len(failures), 10)])
	}
	if code := victim.waitExit(t, 10*time.Second); code != -1 {
		t.Errorf("killed worker exited with code %d; want death by signal", code)
	}

	deadline := time.After(90 * time.Second)
	for {
		violations, delivered := log.check()
		if len(violations) > 0 {
			t.Fatalf("%d arrivals out of order, first: %v", len(violations), violations[:min(len(violations), 10)])
		}
		complete := 0
		for _, n := range delivered {
			if n == perKey {
				complete++
			}
		}
		if complete == keys {
			break
		}
		select {
		case <-log.changed:
		case <-time.After(time.Second):
		case <-deadline:
			t.Fatalf("after 90 s, %d of %d keys got all %d events in order: %v", complete, keys, perKey, delivered)
		}
	}
	waitDrained(t, base, 30*time.Second)
	violations, _ := log.check()
	if len(violations) > 0 {
		t.Fatalf("%d arrivals out of order, first: %v", len(violations), violations[:min(len(violations), 10)])
	}
	log.mu.Lock()
	repeats := len(log.entries) - keys*perKey
	log.mu.Unlock()
	t.Logf("%d events of %d keys delivered in order; %d arrivals repeated one already delivered", keys*perKey, keys, repeats)
	checkStoreSettled(t, dbURL, keys*perKey)
}
