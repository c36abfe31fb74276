package telemetry

import "time"

func durationOf(v interface{ Seconds() float64 }) time.Duration {
	if d, ok := v.(time.Duration); ok {
		return d
	}
	return time.Duration(v.Seconds() * float64(time.Second))
}
