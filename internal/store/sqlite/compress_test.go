package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/store/sqlite"
	"github.com/hookd/hookd/internal/webhook"
)

// TestBodiesAreStoredCompressed looks at the file itself: the conformance
// suite proves bodies read back unchanged, this proves they were stored
// compressed at all.
func TestBodiesAreStoredCompressed(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "hookd.db")
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.SetBodyCompression(64)
	body := []byte(`{"items":[` + strings.Repeat(`{"sku":"w-1","qty":2},`, 200) + `{}]}`)
	for _, b := range [][]byte{body, []byte(`{"small":1}`)} {
		ev := webhook.Event{ID: ids.New(ids.Event), Source: "s", Body: b,
			ReceivedAt: time.Now(), Status: webhook.StatusSuccess, ContentType: "application/json"}
		if _, err := s.EventInsertMany(context.Background(), []store.EventInsertParams{{Event: ev}}); err != nil {
			t.Fatal(err)
		}
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT body_size, length(body) FROM events ORDER BY length(body) DESC`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got [][2]sql.NullInt64
	for rows.Next() {
		var size, stored sql.NullInt64
		if err := rows.Scan(&size, &stored); err != nil {
			t.Fatal(err)
		}
		got = append(got, [2]sql.NullInt64{size, stored})
	}
	if len(got) != 2 {
		t.Fatalf("%d rows", len(got))
	}
	if big := got[0]; !big[0].Valid || big[0].Int64 != int64(len(body)) || big[1].Int64 >= int64(len(body))/4 {
		t.Errorf("large body stored as %d bytes with body_size %v; want compressed with its size %d", big[1].Int64, big[0], len(body))
	}
	if small := got[1]; small[0].Valid || small[1].Int64 != int64(len(`{"small":1}`)) {
		t.Errorf("small body: body_size %v, %d bytes; want NULL and as received", small[0], small[1].Int64)
	}
}
