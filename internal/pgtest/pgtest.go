// Package pgtest gives tests a PostgreSQL schema of their own on the test
// server, so that tests of every package run in parallel on one database
// and leave nothing behind. It is imported only by tests.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultURL is the PostgreSQL on the development and CI machines.
const DefaultURL = "postgres://root@127.0.0.1:5432/test?sslmode=disable"

// URL is HOOKD_TEST_POSTGRES_URL, or DefaultURL.
func URL() string {
	if u := os.Getenv("HOOKD_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// Schema creates an empty schema named prefix_<random>, drops it when the
// test ends, and returns a URL whose connections work in it. An unreachable
// server fails the test with how to start it; it is never skipped.
func Schema(tb testing.TB, prefix string) (dbURL, schema string) {
	tb.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	schema = prefix + "_" + hex.EncodeToString(b[:])
	if err := exec(URL(), "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("PostgreSQL at %s: %v\n"+
			"Start the local server with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\n"+
			"or point HOOKD_TEST_POSTGRES_URL at another one.", URL(), err)
	}
	tb.Cleanup(func() {
		if err := exec(URL(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return WithSearchPath(URL(), schema), schema
}

// WithSearchPath sets the search_path runtime parameter, which pgx passes
// to the server for every connection it opens.
func WithSearchPath(raw, schema string) string {
	if u, err := url.Parse(raw); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return raw + " search_path=" + schema // a key=value DSN
}

func exec(dbURL, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}
