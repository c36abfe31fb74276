package integration

import (
	"strings"
	"testing"
)

// FuzzDecode: whatever Decode accepts has a summary and a dedup key
// within their limits, a known status and severity, and an http(s) link
// or none.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"summary":"IMAP down","dedup_key":"imap","severity":"critical","service":"imap","status":"firing","details":{"host":"imap2"},"link":"https://x"}`))
	f.Add([]byte(`{"summary":"x","dedup_key":"k","status":"resolved"}`))
	f.Add([]byte(`{"summary":"x","dedup_key":"k"} {}`))
	f.Add([]byte(`{"summary":"x","dedup_key":"k","extra":1}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := Decode(data)
		if err != nil {
			return
		}
		if strings.TrimSpace(e.Summary) == "" || len(e.Summary) > MaxSummary || e.DedupKey == "" || len(e.DedupKey) > MaxDedupKey ||
			(e.Status != StatusFiring && e.Status != StatusResolved) || len(e.Details) > MaxDetails {
			t.Fatalf("accepted an invalid event: %+v", e)
		}
		switch e.Severity {
		case "critical", "warning", "info":
		default:
			t.Fatalf("severity %q", e.Severity)
		}
		if e.Link != "" && !strings.HasPrefix(e.Link, "http://") && !strings.HasPrefix(e.Link, "https://") {
			t.Fatalf("link %q", e.Link)
		}
		_ = Key("n", e)
	})
}
