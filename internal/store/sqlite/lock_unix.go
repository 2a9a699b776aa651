//go:build unix

package sqlite

import (
	"fmt"
	"os"
	"syscall"
)

// lockFile takes an exclusive, non-blocking advisory lock beside the
// database so that a second hookd on the same file fails at once with a
// clear message instead of fighting over leases.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("database %s is in use by another hookd process (lock %s): %w", path[:len(path)-len(".lock")], path, err)
	}
	return f, nil
}
