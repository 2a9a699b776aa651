package app

import (
	"context"
	"sync"
	"testing"

	"github.com/hookd/hookd/internal/config"
	"github.com/hookd/hookd/internal/pgtest"
	"github.com/hookd/hookd/internal/store/postgres"
)

// TestBootstrapAdminConcurrentStarts: processes starting together on a new
// shared database all start; exactly one admin is created.
func TestBootstrapAdminConcurrentStarts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbURL, _ := pgtest.Schema(t, "hookd_app_test")
	st, err := postgres.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := config.Default()
	cfg.AdminPassword = "bootstrap-pw"
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() { errs <- bootstrapAdmin(ctx, cfg, st, nil) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("bootstrapAdmin: %v", err)
		}
	}
	if n, err := st.UserCount(ctx); err != nil || n != 1 {
		t.Fatalf("users = %d, %v; want 1", n, err)
	}
}
