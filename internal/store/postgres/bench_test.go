package postgres_test

import (
	"testing"

	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/store/postgres"
	"github.com/hookd/hookd/internal/store/storetest"
)

// The benchmarks mirror the SQLite store's (internal/store/sqlite/bench_test.go)
// so that the two drivers' figures can be set side by side.

func benchStore(b *testing.B) *postgres.Store {
	b.Helper()
	dbURL, _ := freshSchema(b)
	return openAt(b, dbURL)
}

// BenchmarkEventInsertMany measures committed event inserts per batch size;
// ns/op is per event.
func BenchmarkEventInsertMany(b *testing.B) {
	storetest.BenchEventInsertMany(b, func(b *testing.B) store.Store { return benchStore(b) })
}

// BenchmarkClaimAndRecord measures the delivery path's store work; ns/op is
// per delivery.
func BenchmarkClaimAndRecord(b *testing.B) {
	storetest.BenchClaimAndRecord(b, func(b *testing.B) store.Store { return benchStore(b) })
}

// BenchmarkClaimAndRecordOrdered is BenchmarkClaimAndRecord on deliveries
// unordered, ordered over 64 keys, and ordered as one sequence.
func BenchmarkClaimAndRecordOrdered(b *testing.B) {
	storetest.BenchClaimAndRecordOrdered(b, func(b *testing.B) store.Store { return benchStore(b) })
}
