package tickets

import (
	"testing"
	"time"

	"github.com/uni-mail/postvakt/oncall/sla"
)

// TestClockBreached: a clock missed its target when its status says so or
// when a breach was recorded while it ran.
func TestClockBreached(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 10, 12, 11, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		clock Clock
		want  bool
	}{
		{Clock{Status: string(sla.Met)}, false},
		{Clock{Status: string(sla.Running)}, false},
		{Clock{Status: string(sla.Breached)}, true},
		{Clock{Status: string(sla.Met), BreachedAt: at}, true},
	} {
		if got := c.clock.Breached(); got != c.want {
			t.Errorf("%+v: Breached() = %v, want %v", c.clock, got, c.want)
		}
	}
}
