package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hookd/hookd/internal/pgtest"
	"github.com/hookd/hookd/internal/receiver"
)

// TestSplitRolesOnPostgres runs `hookd migrate`, then `hookd serve --role
// api` and two `hookd worker` processes sharing one PostgreSQL schema, with
// the store's own queue and with Redis: everything sent to the api process
// is delivered by the workers. With Redis, workers hear of new work at once
// through Pub/Sub; without it, within their one-second poll.
func TestSplitRolesOnPostgres(t *testing.T) {
	t.Parallel()
	for _, withRedis := range []bool{false, true} {
		name := "store queue"
		if withRedis {
			name = "redis queue"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			splitRoles(t, withRedis)
		})
	}
}

func splitRoles(t *testing.T, withRedis bool) {
	dir := t.TempDir()
	dbURL, schema := pgtest.Schema(t, "hookd_cmd_test")
	arrived := newArrivedSet()
	rcv := startReceiver(t, receiver.Always(http.StatusOK), arrived.add)
	env, _ := serveSetup(t, dir, rcv.URL(), "", false)
	env = append(env, "DATABASE_URL="+dbURL, "HOOKD_MIGRATE=false", "HOOKD_ADMIN_PASSWORD=split-roles-pw") // later values win
	if withRedis {
		prefix := schema + ":"
		env = append(env, "REDIS_URL="+redisURL(), "HOOKD_REDIS_PREFIX="+prefix)
		t.Cleanup(func() { deleteRedisKeys(t, prefix) })
	}

	migrate := startHookd(t, dir, env, "migrate")
	if code := migrate.waitExit(t, 30*time.Second); code != 0 {
		t.Fatalf("hookd migrate exited %d", code)
	}
	api := startHookd(t, dir, env, "serve", "--role", "api")
	base := api.waitReady(t, 20*time.Second)
	var workerBase string
	for range 2 {
		workerBase = startHookd(t, dir, env, "worker").waitReady(t, 20*time.Second)
	}

	client := newClient(t, false)
	var ns []int
	for n := range 50 {
		if _, ok := postAccepted(client, base, n); !ok {
			t.Fatalf("webhook %d not accepted", n)
		}
		ns = append(ns, n)
	}
	if missing := arrived.waitAll(t, ns, 30*time.Second); len(missing) > 0 {
		t.Fatalf("not delivered: %v", missing)
	}
	// A destination created through the api process reaches the workers,
	// which started before it existed: they must not dead-letter its
	// deliveries as "no longer configured".
	late := newArrivedSet()
	rcv2 := startReceiver(t, receiver.Always(http.StatusOK), late.add)
	status, raw, err := post(client, base+"/api/auth/login", []byte(`{"username":"admin","password":"split-roles-pw"}`))
	if err != nil || status != http.StatusOK {
		t.Fatalf("login: %d %s, %v", status, raw, err)
	}
	var login struct{ Token string }
	if err := json.Unmarshal(raw, &login); err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, base+"/api/destinations",
		strings.NewReader(`{"name":"late","url":"`+rcv2.URL()+`/late","sources":["burst"]}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+login.Token)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		t.Fatalf("create destination: %d", resp.StatusCode)
	}
	var lateNs []int
	for n := 100; n < 110; n++ {
		if _, ok := postAccepted(client, base, n); !ok {
			t.Fatalf("webhook %d not accepted", n)
		}
		lateNs = append(lateNs, n)
	}
	t.Logf("%s: first batch delivered", time.Now().Format(time.StampMilli))
	if missing := late.waitAll(t, lateNs, 30*time.Second); len(missing) > 0 {
		t.Fatalf("not delivered to the destination created at run time: %v", missing)
	}

	t.Logf("%s: late batch delivered", time.Now().Format(time.StampMilli))
	// A worker serves no webhooks, and says where to send them.
	status, raw, err = post(client, workerBase+"/webhook/burst", []byte(`{"n":999}`))
	if err != nil || status != http.StatusNotFound || !strings.Contains(string(raw), "not_served_here") {
		t.Fatalf("webhook to a worker: %d %s, %v; want 404 not_served_here", status, raw, err)
	}
}

// redisURL is the test Redis (HOOKD_TEST_REDIS_URL, default the local one).
func redisURL() string {
	if u := os.Getenv("HOOKD_TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// deleteRedisKeys removes every key under prefix.
func deleteRedisKeys(t *testing.T, prefix string) {
	opts, err := goredis.ParseURL(redisURL())
	if err != nil {
		t.Error(err)
		return
	}
	client := goredis.NewClient(opts)
	defer client.Close()
	ctx := context.Background()
	iter := client.Scan(ctx, 0, prefix+"*", 100).Iterator()
	for iter.Next(ctx) {
		client.Del(ctx, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Errorf("clean redis keys: %v", err)
	}
}
