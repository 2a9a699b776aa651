//go:build !unix

package sqlite

import "os"

// lockFile is a no-op where flock does not exist; one process per file is
// then the operator's duty.
func lockFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
}
