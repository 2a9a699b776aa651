package store

import (
	"bytes"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestCompressBodyRoundTrip(t *testing.T) {
	json := []byte(`{"items":[` + strings.Repeat(`{"id":1,"name":"widget","price":"9.99"},`, 200) + `{}]}`)
	random := make([]byte, 4096)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range random {
		random[i] = byte(r.Uint32())
	}
	tests := []struct {
		name       string
		body       []byte
		over       int
		compressed bool
	}{
		{"off", json, 0, false},
		{"under the size", json, len(json), false},
		{"over the size", json, 100, true},
		{"empty", []byte{}, 1, false},
		{"does not shrink", random, 10, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stored, size := CompressBody(tt.body, tt.over)
			if size.Valid != tt.compressed {
				t.Fatalf("compressed = %v, want %v", size.Valid, tt.compressed)
			}
			if tt.compressed && len(stored) >= len(tt.body) {
				t.Errorf("stored %d bytes for a %d-byte body", len(stored), len(tt.body))
			}
			got, err := ExpandBody(stored, size)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.body) {
				t.Fatal("expanded body differs from the original")
			}
		})
	}
}

func TestExpandBodyRefusesDamage(t *testing.T) {
	body := []byte(strings.Repeat("abc", 1000))
	stored, size := CompressBody(body, 1)
	for name, tc := range map[string]struct {
		stored []byte
		size   sql.NullInt64
	}{
		"not gzip":       {[]byte("plain"), size},
		"truncated":      {stored[:len(stored)/2], size},
		"size too big":   {stored, sql.NullInt64{Int64: size.Int64 + 1, Valid: true}},
		"size too small": {stored, sql.NullInt64{Int64: size.Int64 - 1, Valid: true}},
	} {
		if _, err := ExpandBody(tc.stored, tc.size); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// BenchmarkCompressBody measures compression of a 16 KiB JSON body of
// varied records (ids, names, amounts, times drawn at random), closer to a
// real webhook than a repeated one.
func BenchmarkCompressBody(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	var sb strings.Builder
	sb.WriteString(`{"type":"order.updated","items":[`)
	for sb.Len() < 16<<10 {
		fmt.Fprintf(&sb, `{"id":"ord_%016x","customer":"cus_%08x","amount":%d,"currency":"eur","created":"2026-%02d-%02dT%02d:%02d:%02dZ","note":"%s"},`,
			r.Uint64(), r.Uint32(), r.IntN(100000), 1+r.IntN(12), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60),
			[]string{"gift wrap", "", "leave at door", "call on arrival"}[r.IntN(4)])
	}
	sb.WriteString(`{}]}`)
	body := []byte(sb.String())
	b.SetBytes(int64(len(body)))
	var stored []byte
	for b.Loop() {
		stored, _ = CompressBody(body, 1024)
	}
	b.ReportMetric(float64(len(body))/float64(len(stored)), "ratio")
}
