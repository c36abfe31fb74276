package queue_test

import (
	"bytes"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/engine/queue"
)

// TestBackoff checks the retry schedule (RFC 5321 §4.5.4.1): 30 minutes,
// doubled per failure, capped.
func TestBackoff(t *testing.T) {
	t.Parallel()
	c := queue.Default()
	want := []time.Duration{30 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour, 4 * time.Hour, 4 * time.Hour}
	for i, w := range want {
		if got := c.Backoff(i + 1); got != w {
			t.Errorf("Backoff(%d) = %v, want %v", i+1, got, w)
		}
	}
	if c.Backoff(1000) != 4*time.Hour {
		t.Error("no cap for many attempts")
	}
}

// TestBackendBackoff checks the back ends' schedule (relay.backend_retry):
// 1 minute, doubled per failure, capped at 15 minutes.
func TestBackendBackoff(t *testing.T) {
	t.Parallel()
	c := queue.Default().BackendRetry
	want := []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 15 * time.Minute, 15 * time.Minute}
	for i, w := range want {
		if got := c.Backoff(i + 1); got != w {
			t.Errorf("Backoff(%d) = %v, want %v", i+1, got, w)
		}
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	if err := queue.Default().Validate(); err != nil {
		t.Fatal(err)
	}
	c := queue.Default()
	c.Transports = map[string]string{"a.example": "smtp:nohostport", "b.example": "uucp:x:1", "c.example": "lmtp:127.0.0.1:24", "*": "mx"}
	c.MaxBackoff = time.Minute
	c.ConcurrencyPerDestination = 0
	c.BackendRetry.MinBackoff = 0
	c.BackendRetry.MaxBackoff = -time.Second
	err := c.Validate()
	for _, want := range []string{"relay.transports.a.example", "relay.transports.b.example", "relay.max_backoff", "relay.concurrency_per_destination",
		"relay.backend_retry.min_backoff", "relay.backend_retry.max_backoff"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("no error for %s: %v", want, err)
		}
	}
	if err != nil && strings.Contains(err.Error(), "c.example") {
		t.Errorf("lmtp transport refused: %v", err)
	}
}

// TestDSN parses the notification as RFC 3464 / RFC 6522 prescribe.
func TestDSN(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	b := queue.DSN(queue.DSNOptions{ReportingMTA: "mx.uni.example", To: "anna@uni.example", QueueID: "Q1",
		Arrival: now.Add(-5 * 24 * time.Hour), Now: now,
		Header:   []byte("Subject: hello\r\nFrom: anna@uni.example\r\n\r\n"),
		Failures: []queue.Failure{{Rcpt: "bo@ext.example", Target: "bo@ext.example", Status: "4.4.7", Diagnostic: "smtp; 451 4.3.0 try later", RemoteMTA: "10.0.0.1"}}})
	m, err := mail.ReadMessage(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/report" || params["report-type"] != "delivery-status" || m.Header.Get("Auto-Submitted") != "auto-replied" {
		t.Fatalf("content type %q %v %v", mt, params, err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	var types []string
	var status string
	for {
		p, err := mr.NextPart()
		if err != nil {
			break
		}
		types = append(types, p.Header.Get("Content-Type"))
		var buf bytes.Buffer
		buf.ReadFrom(p)
		if p.Header.Get("Content-Type") == "message/delivery-status" {
			status = buf.String()
		}
	}
	if len(types) != 3 || types[1] != "message/delivery-status" || types[2] != "text/rfc822-headers" {
		t.Fatalf("parts = %v", types)
	}
	for _, want := range []string{"Reporting-MTA: dns; mx.uni.example", "Final-Recipient: rfc822; bo@ext.example", "Action: failed", "Status: 4.4.7",
		"Remote-MTA: dns; 10.0.0.1", "Diagnostic-Code: smtp; 451 4.3.0 try later"} {
		if !strings.Contains(status, want) {
			t.Errorf("delivery-status lacks %q:\n%s", want, status)
		}
	}
}
