package sla

import (
	"errors"
	"fmt"
	"time"

	"github.com/uni-mail/postvakt/oncall/calendar"
)

// ErrNoPauseStates is returned by Explain when pauses are given but the
// policy has no pause states.
var ErrNoPauseStates = errors.New("policy has no pause_states, so nothing can pause its clocks")

// Explain answers "when is a fault notified at notified due, and why" for
// the policy, with the given pauses (each spent in the policy's first pause
// state). It is Evaluate at the end of the last pause, with no response
// yet: the same calculation the tickets run.
func (c *Compiled) Explain(notified time.Time, pauses []calendar.Interval) (Result, error) {
	in := Input{Notified: notified, States: []Transition{{At: notified, State: "new"}}}
	now := notified
	if len(pauses) > 0 {
		if len(c.p.PauseStates) == 0 {
			return Result{}, ErrNoPauseStates
		}
		for _, p := range pauses {
			if !p.End.After(p.Start) || p.Start.Before(notified) {
				return Result{}, fmt.Errorf("pause %s–%s: must start at or after the notification and end after it starts",
					p.Start.Format(time.RFC3339), p.End.Format(time.RFC3339))
			}
			in.States = append(in.States,
				Transition{At: p.Start, State: c.p.PauseStates[0]},
				Transition{At: p.End, State: "new"})
			now = later(now, p.End)
		}
	}
	return c.Evaluate(in, now), nil
}
