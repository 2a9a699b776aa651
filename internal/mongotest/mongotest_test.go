package mongotest

import (
	"net"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestServer builds (or finds cached) FerretDB, starts it and checks that
// it accepts connections. `.ci/run` runs it first so that the build is not
// paid by whichever MongoDB test comes first.
func TestServer(t *testing.T) {
	u, err := url.Parse(Database(t, "mongotest"))
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "mongodb" || !strings.HasPrefix(u.Path, "/mongotest_") {
		t.Fatalf("Database = %s", u)
	}
	c, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", u.Host, err)
	}
	c.Close()
}
