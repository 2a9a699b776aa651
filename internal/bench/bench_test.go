package bench

import "testing"

// TestStoreText checks that the run's header names the store without its
// credentials, for every kind of DATABASE_URL.
func TestStoreText(t *testing.T) {
	t.Parallel()
	cases := []struct {
		url, want string
	}{
		{"sqlite:///tmp/hookd-bench-1/hookd.db", "/tmp/hookd-bench-1/hookd.db"},
		{"postgres://hookd:secret@db.internal:5432/bench?sslmode=require", "postgres://db.internal:5432/bench"},
		{"mongodb://127.0.0.1:27017/bench", "mongodb://127.0.0.1:27017/bench"},
		{"mongodb://u:secret@127.0.0.1:27017/bench?authSource=admin", "mongodb://127.0.0.1:27017/bench"},
		{"mongodb://u:secret@h1:27017,h2:27017/bench?replicaSet=rs0", "mongodb://h1:27017,h2:27017/bench"},
		{"mongodb+srv://u:secret@cluster0.example.net/bench", "mongodb+srv://cluster0.example.net/bench"},
		{"mongodb://u:50%off@h1:27017/bench", "mongodb://h1:27017/bench"}, // a password net/url refuses
		{"postgres://u:50%off@h/db", "(unparsable URL)"},
	}
	for _, tc := range cases {
		if got := storeText(tc.url); got != tc.want {
			t.Errorf("storeText(%q) = %q, want %q", tc.url, got, tc.want)
		}
	}
}
