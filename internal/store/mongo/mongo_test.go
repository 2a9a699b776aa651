package mongo_test

import (
	"context"
	"testing"

	"github.com/hookd/hookd/internal/mongotest"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/store/mongo"
	"github.com/hookd/hookd/internal/store/storetest"
)

// The tests run against a real MongoDB wire-protocol server (FerretDB from
// tools/ferretdb, or HOOKD_TEST_MONGODB_URL), each store in a database of
// its own.

func open(t *testing.T) store.Store {
	t.Helper()
	s, err := mongo.Open(context.Background(), mongotest.Database(t, "hookd_test"))
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

func TestOpenTwiceMigratesOnce(t *testing.T) {
	t.Parallel()
	url := mongotest.Database(t, "hookd_test")
	for range 2 {
		s, err := mongo.Open(context.Background(), url)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if err := s.Ping(context.Background()); err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
}

func TestStoreIsNotExclusive(t *testing.T) {
	t.Parallel()
	var s store.Store = open(t)
	if _, ok := s.(store.Exclusive); ok {
		t.Fatal("the MongoDB store is shared by processes: it must not release every lease at start")
	}
}
