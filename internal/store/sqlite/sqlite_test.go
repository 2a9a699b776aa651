package sqlite_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/store/sqlite"
	"github.com/hookd/hookd/internal/store/storetest"
)

func open(t *testing.T) store.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hookd.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, open)
}

func TestSecondOpenIsRefused(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "hookd.db")
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = sqlite.Open(context.Background(), path)
	if err == nil || !strings.Contains(err.Error(), "in use by another hookd process") {
		t.Fatalf("second Open = %v, want an in-use error", err)
	}
}

func TestReopenKeepsDataAndMigrationsAreIdempotent(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "hookd.db")
	ctx := context.Background()
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SettingPutIfAbsent(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	if v, err := s.SettingGet(ctx, "k"); err != nil || v != "v" {
		t.Fatalf("after reopen SettingGet = %q, %v", v, err)
	}
}

func TestSharedOpenBesideExclusive(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "hookd.db")
	ctx := context.Background()
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	shared, err := sqlite.OpenShared(ctx, path)
	if err != nil {
		t.Fatalf("OpenShared beside a serving store: %v", err)
	}
	if _, err := shared.SettingPutIfAbsent(ctx, "from", "cli"); err != nil {
		t.Fatalf("write through the shared store: %v", err)
	}
	if err := shared.Close(); err != nil {
		t.Fatal(err)
	}
	if v, err := s.SettingGet(ctx, "from"); err != nil || v != "cli" {
		t.Fatalf("serving store reads %q, %v; want the shared store's write", v, err)
	}
}
