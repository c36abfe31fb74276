package app

import (
	"context"
	"time"

	"github.com/uni-mail/postvakt/collectors/probe"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/oncall/notice"
)

// statusHealth connects the status page (notice.Health) to the probes'
// store: each service's state now by probe.ServiceStatuses, and its daily
// availability as `postvakt probe availability --daily` computes it.
func statusHealth(db *storage.DB) notice.Health {
	st := NewProbeStore(db)
	return notice.HealthFuncs{
		States: func(ctx context.Context) ([]notice.ServiceHealth, error) {
			states, err := st.ProbeStates(ctx)
			if err != nil {
				return nil, err
			}
			var out []notice.ServiceHealth
			for _, s := range probe.ServiceStatuses(states) {
				out = append(out, notice.ServiceHealth{Service: s.Service, Status: string(s.Status), Degraded: s.Degraded, Since: s.Since})
			}
			return out, nil
		},
		Daily: func(ctx context.Context, from, to time.Time, loc *time.Location) ([]notice.DayFigures, error) {
			fs, err := st.ServiceAvailabilityDaily(ctx, from, to, loc)
			if err != nil {
				return nil, err
			}
			out := make([]notice.DayFigures, 0, len(fs))
			for _, f := range fs {
				out = append(out, notice.DayFigures{Service: f.Service, Day: f.From, Known: f.Known, Availability: f.Availability,
					Measured: time.Duration(f.Measured), Down: time.Duration(f.Down), Planned: time.Duration(f.Planned)})
			}
			return out, nil
		},
	}
}
