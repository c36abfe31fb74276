package tickets

import (
	"fmt"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/oncall/calendar"
	"github.com/uni-mail/postvakt/oncall/sla"
)

// ExplainSLA answers "when is a fault notified at notified due under the
// named policy, and why" (`postvakt sla explain`, GET /api/v1/sla/explain):
// notified and each pause (START/END or START/DURATION) are read in loc,
// the service time zone (config/timezone; nil: the policy's calendar
// zone) unless they carry an offset. A bad policy name, time or pause is
// an error wrapping ErrInvalid.
func ExplainSLA(cfg sla.Config, policy, notified string, pauses []string, loc *time.Location) (sla.Result, error) {
	p, ok := cfg.Policy(policy)
	if !ok {
		var names []string
		for _, q := range cfg.Policies {
			names = append(names, q.Name)
		}
		return sla.Result{}, fmt.Errorf("%w: no SLA policy %q; configured: %s", ErrInvalid, policy, strings.Join(names, ", "))
	}
	c, err := sla.Compile(p)
	if err != nil {
		return sla.Result{}, err
	}
	if loc == nil {
		loc = c.Calendar().Location()
	}
	at, err := calendar.ParseWhen(notified, loc)
	if err != nil {
		return sla.Result{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	var ivs []calendar.Interval
	for _, s := range pauses {
		iv, err := calendar.ParsePause(s, loc)
		if err != nil {
			return sla.Result{}, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		ivs = append(ivs, iv)
	}
	res, err := c.Explain(at, ivs)
	if err != nil {
		return res, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return res, nil
}
