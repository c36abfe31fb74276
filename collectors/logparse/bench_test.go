package logparse

import (
	"testing"
	"time"
)

// BenchmarkParsePostfix frames and parses every line of the sample
// postfix.log per iteration; lines/s is reported as a custom metric.
func BenchmarkParsePostfix(b *testing.B) {
	lines := sampleLines(b, "postfix.log")
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		fr := NewFramer(sampleRef, time.UTC)
		for _, l := range lines {
			ev, err := ParseLine(fr, l)
			if err != nil || ev == nil {
				b.Fatal(err)
			}
		}
		n += len(lines)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "lines/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/line")
}
