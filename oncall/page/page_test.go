package page

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

type fakePager struct {
	name  string
	mu    sync.Mutex
	calls int
	page  func(n int, m Message) (bool, error)
}

func (f *fakePager) Name() string { return f.name }
func (f *fakePager) Page(_ context.Context, m Message) (bool, error) {
	f.mu.Lock()
	f.calls++
	n := f.calls
	f.mu.Unlock()
	return f.page(n, m)
}

type memLog struct {
	mu   sync.Mutex
	rows map[string]string
}

func (l *memLog) ClaimPage(_ context.Context, r Record) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.rows[r.Key]; ok {
		return false, nil
	}
	l.rows[r.Key] = "pending"
	return true, nil
}
func (l *memLog) FinishPage(_ context.Context, key, result string, _ int, _ string, _ time.Time) error {
	l.mu.Lock()
	l.rows[key] = result
	l.mu.Unlock()
	return nil
}

func TestPipelineRetryDedupFanOut(t *testing.T) {
	flaky := &fakePager{name: "slack", page: func(n int, _ Message) (bool, error) {
		if n < 3 {
			return true, errors.New("rate limited")
		}
		return false, nil
	}}
	broken := &fakePager{name: "email", page: func(int, Message) (bool, error) { return false, errors.New("550 no such user") }}
	log := &memLog{rows: map[string]string{}}
	var slept []time.Duration
	p, err := NewPipeline(Options{Pagers: []Pager{flaky, broken}, Log: log, Backoff: Backoff{Attempts: 5, Initial: time.Second, Max: 3 * time.Second},
		Sleep: func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	m := Message{Key: "incident/1/page/r0/s0/ana", Kind: KindPage, To: Recipient{ID: "ana"}}
	err = p.Send(context.Background(), m)
	if err == nil {
		t.Fatal("the permanent e-mail failure is not reported")
	}
	if flaky.calls != 3 || broken.calls != 1 {
		t.Fatalf("calls slack=%d email=%d, want 3 and 1 (no retry of a permanent failure)", flaky.calls, broken.calls)
	}
	if len(slept) != 2 || slept[0] != time.Second || slept[1] != 2*time.Second {
		t.Fatalf("backoff %v", slept)
	}
	if log.rows[m.Key+"/slack"] != ResultSent || log.rows[m.Key+"/email"] != ResultFailed {
		t.Fatalf("log %v", log.rows)
	}
	// The same key again: deduplicated, no call.
	_ = p.Send(context.Background(), m)
	if flaky.calls != 3 || broken.calls != 1 {
		t.Fatalf("duplicate sent: slack=%d email=%d", flaky.calls, broken.calls)
	}
	if d := (Backoff{Initial: time.Second, Max: 30 * time.Second}).Delay(10); d != 30*time.Second {
		t.Fatalf("delay cap %v", d)
	}
}

func TestSignedLinks(t *testing.T) {
	now := time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC)
	s := Signer{Key: []byte("0123456789abcdef0123456789abcdef"), TTL: time.Hour, Now: func() time.Time { return now }}
	tok := s.Sign(Claims{Action: "ack", IncidentID: 42, Member: "ana"})
	c, err := s.Verify(tok)
	if err != nil || c.IncidentID != 42 || c.Member != "ana" {
		t.Fatalf("%+v %v", c, err)
	}
	if _, err := s.Verify(tok[:len(tok)-2] + "xx"); !errors.Is(err, ErrBadLink) {
		t.Fatalf("tampered: %v", err)
	}
	other := s
	other.Key = []byte("another-key-another-key-another-key")
	if _, err := other.Verify(tok); !errors.Is(err, ErrBadLink) {
		t.Fatalf("other key: %v", err)
	}
	later := s
	later.Now = func() time.Time { return now.Add(2 * time.Hour) }
	if _, err := later.Verify(tok); !errors.Is(err, ErrExpiredLink) {
		t.Fatalf("expired: %v", err)
	}
}

// TestPagedAckedAt: a page is answered by the incident's acknowledgement
// at or after it, not by one that came before it.
func TestPagedAckedAt(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 10, 8, 13, 21, 0, 0, time.UTC)
	for _, c := range []struct {
		acked, want time.Time
	}{
		{time.Time{}, time.Time{}},
		{at.Add(4 * time.Minute), at.Add(4 * time.Minute)},
		{at, at},
		{at.Add(-time.Minute), time.Time{}},
	} {
		if got := (Paged{IncidentID: 7, Member: "kari", At: at, IncidentAckedAt: c.acked}).AckedAt(); !got.Equal(c.want) {
			t.Errorf("acked %v: AckedAt() = %v, want %v", c.acked, got, c.want)
		}
	}
}
