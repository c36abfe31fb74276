package storage

import (
	"errors"

	"modernc.org/sqlite"
)

// IsBusy reports whether err is SQLite's "database is locked" after its
// busy timeout (SQLITE_BUSY, SQLITE_LOCKED and their extended codes): a
// writer held the database longer than the timeout, and the same request
// may succeed when tried again. Callers answer such errors as temporary
// (503 with Retry-After), not as a server fault.
func IsBusy(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff {
	case 5, 6: // SQLITE_BUSY, SQLITE_LOCKED
		return true
	}
	return false
}
