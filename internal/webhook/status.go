package webhook

import "fmt"

// Status is the state of a delivery, and (derived) of an event.
type Status string

// The statuses, in the order a delivery can move through them.
const (
	// StatusPending waits for its first or next try.
	StatusPending Status = "pending"
	// StatusSuccess means a 2xx answer arrived.
	StatusSuccess Status = "success"
	// StatusFailed means the last try failed and a retry is scheduled.
	StatusFailed Status = "failed"
	// StatusPermanentFailure is the dead-letter state: retries are exhausted
	// and only a person's replay moves it on.
	StatusPermanentFailure Status = "permanent_failure"
)

// Valid reports whether s is one of the four statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusPending, StatusSuccess, StatusFailed, StatusPermanentFailure:
		return true
	}
	return false
}

// ParseStatus returns the status named s, or an error wrapping ErrInvalid.
func ParseStatus(s string) (Status, error) {
	st := Status(s)
	if !st.Valid() {
		return "", fmt.Errorf("%w: unknown status %q", ErrInvalid, s)
	}
	return st, nil
}

// Terminal reports whether no more attempts will be made without a replay.
func (s Status) Terminal() bool {
	return s == StatusSuccess || s == StatusPermanentFailure
}

// DeriveEventStatus computes an event's status from its deliveries' counts:
// success when all succeeded, permanent_failure when any is dead and none is
// still going, failed when any is retrying, else pending. An event with no
// deliveries (no destination subscribed) has nothing left to do: success.
func DeriveEventStatus(counts map[Status]int) Status {
	total := 0
	for _, n := range counts {
		total += n
	}
	switch {
	case counts[StatusSuccess] == total:
		return StatusSuccess
	case counts[StatusPermanentFailure] > 0 && counts[StatusPending] == 0 && counts[StatusFailed] == 0:
		return StatusPermanentFailure
	case counts[StatusFailed] > 0:
		return StatusFailed
	default:
		return StatusPending
	}
}
