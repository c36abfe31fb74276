// Package logattr owns how postvakt's log records write values that
// log/slog would otherwise write in a form a reader cannot use: a
// time.Duration, which slog's JSON handler writes as integer nanoseconds
// and its text handler as Go's "1m2.5s", is written as float seconds
// under a key ending in "_seconds" (the unit rule of docs/metrics.md,
// applied to logs).
package logattr

import (
	"log/slog"
	"strings"
	"time"
)

// Seconds is a slog.HandlerOptions.ReplaceAttr: an attribute whose value
// is a time.Duration becomes "<key>_seconds" (the key unchanged when it
// already ends so) with the duration in seconds as a float64. Other
// attributes pass unchanged.
func Seconds(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() != slog.KindDuration {
		return a
	}
	key := a.Key
	if !strings.HasSuffix(key, "_seconds") {
		key += "_seconds"
	}
	return slog.Float64(key, a.Value.Duration().Seconds())
}

// Duration is the attribute "<key>_seconds" with d in seconds, for a
// call site that says the unit itself.
func Duration(key string, d time.Duration) slog.Attr {
	return slog.Float64(key+"_seconds", d.Seconds())
}
