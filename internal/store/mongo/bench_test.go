package mongo_test

import (
	"testing"

	"github.com/hookd/hookd/internal/mongotest"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/store/mongo"
	"github.com/hookd/hookd/internal/store/storetest"
)

// The benchmarks mirror the SQLite and PostgreSQL stores' so that the
// drivers' figures can be set side by side. On FerretDB (the default test
// server) they measure FerretDB over SQLite, not MongoDB.

func benchStore(b *testing.B) store.Store {
	b.Helper()
	s, err := mongo.Open(b.Context(), mongotest.Database(b, "hookd_bench"))
	if err != nil {
		b.Fatalf("Open: %v", err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkEventInsertMany measures acknowledged event inserts per batch
// size; ns/op is per event.
func BenchmarkEventInsertMany(b *testing.B) {
	storetest.BenchEventInsertMany(b, benchStore)
}

// BenchmarkClaimAndRecord measures the delivery path's store work; ns/op is
// per delivery.
func BenchmarkClaimAndRecord(b *testing.B) {
	storetest.BenchClaimAndRecord(b, benchStore)
}
