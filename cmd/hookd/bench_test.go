package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/pgtest"
)

// TestBenchWorkerProcesses runs `hookd bench --worker-processes`: the
// bench's in-process hookd ingests into a fresh PostgreSQL schema and
// `hookd worker` processes of the built binary deliver everything it
// accepted, with the Redis queue and with the store's own queue (there
// with the workers started only once sending ends).
func TestBenchWorkerProcesses(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		redis     bool
		processes int
		extra     []string
	}{
		{name: "redis queue", redis: true, processes: 2},
		{name: "store queue, deferred delivery", processes: 1, extra: []string{"--defer-delivery"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dbURL, schema := pgtest.Schema(t, "hookd_bench_test")
			args := []string{"bench", "--database-url", dbURL, "--worker-processes", strconv.Itoa(tc.processes),
				"--hookd-binary", hookdBin, "-d", "2s", "-r", "200", "--json"}
			if tc.redis {
				prefix := schema + ":"
				args = append(args, "--redis-url", redisURL(), "--redis-prefix", prefix)
				t.Cleanup(func() { deleteRedisKeys(t, prefix) })
			}
			args = append(args, tc.extra...)

			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, hookdBin, args...)
			cmd.Dir = t.TempDir()
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("hookd %v: %v\nstdout:\n%s\nstderr:\n%s", args, err, stdout.String(), stderr.String())
			}
			var res struct {
				Accepted        int64 `json:"accepted"`
				Delivered       int64 `json:"delivered"`
				Lost            int64 `json:"lost"`
				WorkerProcesses int   `json:"worker_processes"`
			}
			if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
				t.Fatalf("bench output is not JSON: %v\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
			}
			if res.Accepted == 0 || res.Delivered != res.Accepted || res.Lost != 0 || res.WorkerProcesses != tc.processes {
				t.Errorf("accepted %d, delivered %d, lost %d, worker processes %d; want all accepted delivered by %d processes\nstderr:\n%s",
					res.Accepted, res.Delivered, res.Lost, res.WorkerProcesses, tc.processes, stderr.String())
			}
		})
	}
}
