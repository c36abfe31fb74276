package accessstore_test

import (
	"testing"

	"github.com/uni-mail/postvakt/internal/storage/pgtest"
)

// The conformance cases of the access store: every case runs against
// SQLite and PostgreSQL (storagetest.ForEach).
func TestMain(m *testing.M) { pgtest.Main(m) }
