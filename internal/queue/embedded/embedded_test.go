package embedded_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/hookd/hookd/internal/queue"
	"github.com/hookd/hookd/internal/queue/embedded"
	"github.com/hookd/hookd/internal/queue/queuetest"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/store/sqlite"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	queuetest.Run(t, func(t *testing.T) (queue.Queue, store.Store) {
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hookd.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return embedded.New(s, nil), s
	})
}
