package main

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"

	"github.com/hookd/hookd/internal/pgtest"
	"github.com/hookd/hookd/internal/receiver"
)

// workersPerProcess is HOOKD_WORKERS of every process in these tests: it
// bounds what one killed process can have in flight, and so the duplicates
// its death may cause.
const workersPerProcess = 16

// slowOK answers 200 after d, so that deliveries are in flight when a
// process dies.
func slowOK(d time.Duration) receiver.Behavior {
	return func(ctx context.Context, _ receiver.Arrival) int {
		select {
		case <-ctx.Done():
			return http.StatusServiceUnavailable
		case <-time.After(d):
			return http.StatusOK
		}
	}
}

// scaledEnv returns the environment of hookd processes sharing a fresh
// PostgreSQL schema and the Redis at redis under a fresh prefix,
// delivering to url, after running `hookd migrate` in it.
func scaledEnv(t *testing.T, dir, url, redis string) (env []string, dbURL string) {
	t.Helper()
	dbURL, schema := pgtest.Schema(t, "hookd_scale_test")
	env, _ = serveSetup(t, dir, url, "max_in_flight: 8", false)
	prefix := schema + ":"
	env = append(env, "DATABASE_URL="+dbURL, "HOOKD_MIGRATE=false",
		"REDIS_URL="+redis, "HOOKD_REDIS_PREFIX="+prefix,
		"HOOKD_WORKERS="+strconv.Itoa(workersPerProcess), "HOOKD_ADMIN_PASSWORD=scale-test-pw")
	if redis == redisURL() {
		t.Cleanup(func() { deleteRedisKeys(t, prefix) })
	}
	if code := startHookd(t, dir, env, "migrate").waitExit(t, 30*time.Second); code != 0 {
		t.Fatalf("hookd migrate exited %d", code)
	}
	return env, dbURL
}

// burst sends webhooks {"n": 0…total-1} with senders goroutines, spread
// over bases by n, calling each(count) after every acceptance with how many
// were accepted so far. It returns the accepted ns and event ids, and the ns
// that were refused or failed.
func burst(c *http.Client, bases []string, total, senders int, each func(accepted int)) (accepted map[int]string, refused []int) {
	var (
		mu   sync.Mutex
		next atomic.Int64
		wg   sync.WaitGroup
	)
	accepted = map[int]string{}
	for range senders {
		wg.Go(func() {
			for {
				n := int(next.Add(1) - 1)
				if n >= total {
					return
				}
				id, ok := postAccepted(c, bases[n%len(bases)], n)
				mu.Lock()
				if !ok {
					refused = append(refused, n)
					mu.Unlock()
					continue
				}
				accepted[n] = id
				count := len(accepted)
				mu.Unlock()
				each(count)
			}
		})
	}
	wg.Wait()
	slices.Sort(refused)
	return accepted, refused
}

// checkStoreSettled fails unless every delivery in the store succeeded and
// there is exactly one per accepted event.
func checkStoreSettled(t *testing.T, dbURL string, accepted int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT status, count(*) FROM deliveries GROUP BY status`)
	if err != nil {
		t.Fatal(err)
	}
	byStatus := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			t.Fatal(err)
		}
		byStatus[s] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if want := map[string]int{"success": accepted}; !maps.Equal(byStatus, want) {
		t.Errorf("deliveries by status in the store: %v; want %v", byStatus, want)
	}
}

// TestScaleOutWorkerKilledMidBurst runs three processes on one PostgreSQL
// schema and one Redis prefix: two `hookd serve` (ingest, API and
// delivery) and one `hookd worker`. 5,000 webhooks are sent across both
// serving processes; once 1,500 are accepted the worker is killed with
// SIGKILL and another worker started. Every webhook must be accepted
// (ingest does not depend on any worker), every accepted one delivered at
// least once, and duplicates at most what the killed worker could have had
// in flight. The killed worker's leased deliveries come back when their
// lease runs out (destination timeout + 30 s), which bounds this test's
// length.
func TestScaleOutWorkerKilledMidBurst(t *testing.T) {
	t.Parallel()
	const (
		total     = 5000
		killAfter = 1500
		senders   = 24
	)
	dir := t.TempDir()
	arrived := newArrivedSet()
	rcv := startReceiver(t, slowOK(3*time.Millisecond), arrived.add)
	env, dbURL := scaledEnv(t, dir, rcv.URL(), redisURL())

	bases := []string{
		startHookd(t, dir, env, "serve").waitReady(t, 20*time.Second),
		startHookd(t, dir, env, "serve").waitReady(t, 20*time.Second),
	}
	victim := startHookd(t, dir, env, "worker")
	victim.waitReady(t, 20*time.Second)

	killed := make(chan int)
	var killOnce sync.Once
	client := newClient(t, false)
	type outcome struct {
		accepted map[int]string
		refused  []int
	}
	done := make(chan outcome)
	go func() {
		acc, ref := burst(client, bases, total, senders, func(count int) {
			if count >= killAfter {
				killOnce.Do(func() {
					if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
						t.Errorf("SIGKILL the worker: %v", err)
					}
					killed <- arrived.len()
				})
			}
		})
		done <- outcome{acc, ref}
	}()
	var out outcome
	select {
	case arrivedAtKill := <-killed:
		t.Logf("worker killed after %d webhooks were accepted, when %d had arrived", killAfter, arrivedAtKill)
		// A new worker joins while the burst goes on.
		startHookd(t, dir, env, "worker").waitReady(t, 20*time.Second)
		out = <-done
	case out = <-done:
		t.Fatalf("the burst ended with %d accepted before the kill threshold %d", len(out.accepted), killAfter)
	}
	if code := victim.waitExit(t, 10*time.Second); code != -1 {
		t.Errorf("killed worker exited with code %d; want death by signal", code)
	}
	if len(out.refused) > 0 {
		t.Errorf("%d webhooks refused while only a worker died: %v", len(out.refused), out.refused[:min(len(out.refused), 20)])
	}

	if missing := arrived.waitAll(t, slices.Collect(maps.Keys(out.accepted)), 90*time.Second); len(missing) > 0 {
		t.Fatalf("%d accepted webhooks never arrived: %v", len(missing), missing[:min(len(missing), 20)])
	}
	waitDrained(t, bases[0], 60*time.Second)
	dups := arrived.duplicates()
	t.Logf("%d accepted, all delivered; %d delivered twice or more (the killed worker had up to %d in flight)",
		len(out.accepted), len(dups), workersPerProcess)
	if len(dups) > workersPerProcess {
		t.Errorf("%d webhooks delivered more than once, more than the killed worker could have had in flight (%d): %v",
			len(dups), workersPerProcess, dups)
	}
	if unstable := arrived.unstableIDs(); len(unstable) > 0 {
		t.Errorf("deliveries that arrived under several webhook-ids: %v", unstable)
	}
	checkStoreSettled(t, dbURL, len(out.accepted))
}

// TestRedisLosesEverythingMidBurst runs `hookd serve` and `hookd worker`
// on PostgreSQL and a Redis of their own, and makes that Redis lose all its
// data in the middle of a burst: by FLUSHALL, and by a restart without
// persistence (the connection drops too). Ingest must go on answering 202
// (the store is the source of truth), and every accepted webhook must be
// delivered, with duplicates no more than the work in flight.
func TestRedisLosesEverythingMidBurst(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		lose func(t *testing.T, r *redisServer)
	}{
		{"FLUSHALL", func(t *testing.T, r *redisServer) {
			c := r.client()
			defer c.Close()
			if err := c.FlushAll(context.Background()).Err(); err != nil {
				t.Errorf("FLUSHALL: %v", err)
			}
		}},
		{"restart without persistence", func(t *testing.T, r *redisServer) {
			if err := r.restart(t.TempDir()); err != nil {
				t.Error(err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const (
				total     = 2000
				loseAfter = 700
				senders   = 16
			)
			dir := t.TempDir()
			rs := startRedisServer(t)
			arrived := newArrivedSet()
			rcv := startReceiver(t, slowOK(2*time.Millisecond), arrived.add)
			env, dbURL := scaledEnv(t, dir, rcv.URL(), rs.url())
			base := startHookd(t, dir, env, "serve").waitReady(t, 20*time.Second)
			startHookd(t, dir, env, "worker").waitReady(t, 20*time.Second)

			var loseOnce sync.Once
			lost := make(chan struct{})
			accepted, refused := burst(newClient(t, false), []string{base}, total, senders, func(count int) {
				if count >= loseAfter {
					loseOnce.Do(func() {
						go func() { // keep this sender sending meanwhile
							defer close(lost)
							t.Logf("Redis loses its data after %d accepted, %d arrived", count, arrived.len())
							tc.lose(t, rs)
						}()
					})
				}
			})
			<-lost
			if len(refused) > 0 {
				t.Errorf("%d webhooks refused while Redis lost its data: %v", len(refused), refused[:min(len(refused), 20)])
			}
			if missing := arrived.waitAll(t, slices.Collect(maps.Keys(accepted)), 60*time.Second); len(missing) > 0 {
				t.Fatalf("%d accepted webhooks never arrived: %v", len(missing), missing[:min(len(missing), 20)])
			}
			waitDrained(t, base, 30*time.Second)
			dups := arrived.duplicates()
			t.Logf("%d accepted, all delivered; %d delivered more than once", len(accepted), len(dups))
			if len(dups) > 2*workersPerProcess {
				t.Errorf("%d webhooks delivered more than once, more than two processes have in flight: %v", len(dups), dups)
			}
			checkStoreSettled(t, dbURL, len(accepted))
		})
	}
}

// redisServer is a redis-server of one test's own, on a loopback port,
// without persistence, so that the test may flush or restart it.
type redisServer struct {
	port int
	cmd  *exec.Cmd
	done chan struct{}
}

func startRedisServer(t *testing.T) *redisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("redis-server is not installed (apt-get install redis-server): %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	r := &redisServer{port: port}
	if err := r.start(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.stop)
	return r
}

func (r *redisServer) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

func (r *redisServer) client() *goredis.Client {
	return goredis.NewClient(&goredis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", r.port)})
}

// start runs redis-server in dir and waits until it answers.
func (r *redisServer) start(dir string) error {
	r.cmd = exec.Command("redis-server", "--bind", "127.0.0.1", "--port", strconv.Itoa(r.port),
		"--save", "", "--appendonly", "no", "--dir", dir)
	if err := r.cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	r.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) {
		_ = cmd.Wait()
		close(done)
	}(r.cmd, r.done)
	c := r.client()
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for c.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server on port %d did not answer within 10 s", r.port)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

func (r *redisServer) stop() {
	_ = r.cmd.Process.Kill()
	<-r.done
}

// restart kills the server and starts an empty one on the same port.
func (r *redisServer) restart(dir string) error {
	r.stop()
	return r.start(dir)
}
