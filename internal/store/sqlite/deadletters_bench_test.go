package sqlite_test

import (
	"testing"

	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/store/storetest"
)

// BenchmarkRequeueDeadBatch measures one page of a bulk replay; ns/op is
// per batch, the time it holds the one writer.
func BenchmarkRequeueDeadBatch(b *testing.B) {
	storetest.BenchRequeueDeadBatch(b, func(b *testing.B) store.Store { return benchStore(b) })
}
