package collectorsapi_test

import (
	"testing"

	"github.com/uni-mail/postvakt/internal/storage/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }
