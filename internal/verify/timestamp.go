package verify

import (
	"fmt"
	"strconv"
	"time"
)

// maxTimestampDigits bounds a Unix-seconds timestamp so that parsing never
// overflows (18 digits is far beyond any real clock).
const maxTimestampDigits = 18

// parseUnix parses a signed timestamp: decimal Unix seconds, digits only
// (no sign, space or fraction), as every timestamped scheme sends it.
func parseUnix(s string) (int64, bool) {
	if s == "" || len(s) > maxTimestampDigits {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// checkWindow refuses a timestamp further than tolerance from now, either
// way: an old one is a replay, a future one a replay prepared in advance
// (or a clock far off). part names the header for the error.
func checkWindow(part string, ts int64, now time.Time, tolerance time.Duration) error {
	d := now.Sub(time.Unix(ts, 0))
	switch {
	case d > tolerance:
		return fail(part, ErrExpired, fmt.Sprintf("timestamp is %s old, beyond the %s tolerance", d.Truncate(time.Second), tolerance))
	case d < -tolerance:
		return fail(part, ErrExpired, fmt.Sprintf("timestamp is %s in the future, beyond the %s tolerance", (-d).Truncate(time.Second), tolerance))
	}
	return nil
}
