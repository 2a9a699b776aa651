package mongo

import (
	"os"
	"testing"

	"github.com/hookd/hookd/internal/mongotest"
)

// TestDetectsFerretDB checks that the test server is recognised as
// FerretDB, which changes how writes name their document.
func TestDetectsFerretDB(t *testing.T) {
	t.Parallel()
	if os.Getenv("HOOKD_TEST_MONGODB_URL") != "" {
		t.Skip("HOOKD_TEST_MONGODB_URL names another server")
	}
	s, err := Open(t.Context(), mongotest.Database(t, "hookd_test"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !s.ferret {
		t.Fatal("FerretDB not detected")
	}
}
