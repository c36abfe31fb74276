package page

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/oncall/incident"
)

// pagedLog is the page log in memory: ClaimPage's records give each
// member's first page per incident, as the stored log's MemberPages does.
type pagedLog struct {
	memLog
	mu2   sync.Mutex
	first map[[2]any]time.Time
	now   func() time.Time
}

func (l *pagedLog) ClaimPage(ctx context.Context, r Record) (bool, error) {
	fresh, err := l.memLog.ClaimPage(ctx, r)
	if fresh && r.Kind == KindPage && r.Member != "" {
		l.mu2.Lock()
		k := [2]any{r.IncidentID, r.Member}
		if _, ok := l.first[k]; !ok {
			l.first[k] = r.CreatedAt
		}
		l.mu2.Unlock()
	}
	return fresh, err
}

func (l *pagedLog) MemberPages(_ context.Context, from, to time.Time) ([]Paged, error) {
	l.mu2.Lock()
	defer l.mu2.Unlock()
	var out []Paged
	for k, at := range l.first {
		if !at.Before(from) && at.Before(to) {
			out = append(out, Paged{IncidentID: k[0].(int64), Member: k[1].(string), At: at})
		}
	}
	return out, nil
}

type openList []incident.Incident

func (o *openList) List(context.Context, incident.Filter) ([]incident.Incident, error) {
	return *o, nil
}

// TestContactRules (GoAlert's notification rules): a member's first page
// goes only to the channels of rules with after 0; FollowUp sends a later
// rule's channel once, when its time since the member's first page has
// passed and only while the incident is unacknowledged; a member without
// rules is paged on every channel at once.
func TestContactRules(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	sent := map[string][]string{} // channel → member IDs
	pager := func(name string) Pager {
		return &fakePager{name: name, page: func(_ int, m Message) (bool, error) {
			mu.Lock()
			sent[name] = append(sent[name], m.To.ID)
			mu.Unlock()
			return false, nil
		}}
	}
	t0 := time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC) // the night of the change to summer time in Europe
	now := t0
	clock := func() time.Time { return now }
	log := &pagedLog{memLog: memLog{rows: map[string]string{}}, first: map[[2]any]time.Time{}}
	p, err := NewPipeline(Options{Pagers: []Pager{pager("slack"), pager("sms"), pager("email")}, Log: log, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	inc := incident.Incident{ID: 7, Title: "Queue stuck", Severity: "critical", Status: incident.StatusTriggered, OpenedAt: t0}
	open := &openList{inc}
	d := &Dispatcher{Pipeline: p, Directory: DirectoryFunc(func(id string) (Recipient, bool) { return Recipient{ID: id, Phone: "+47900"}, true }),
		ContactRules: ContactRules{"ana": {{Channel: "slack"}, {Channel: "sms", After: 5 * time.Minute}}},
		Open:         open, Paged: log, Now: clock}
	count := func(ch, member string) int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, m := range sent[ch] {
			if m == member {
				n++
			}
		}
		return n
	}
	if err := d.Notify(context.Background(), incident.Notification{Kind: incident.NotifyPage, Incident: inc, Members: []string{"ana", "bjorn"}}); err != nil {
		t.Fatal(err)
	}
	if count("slack", "ana") != 1 || count("sms", "ana") != 0 || count("email", "ana") != 0 {
		t.Fatalf("ana's first page: %v", sent)
	}
	if count("slack", "bjorn") != 1 || count("sms", "bjorn") != 1 || count("email", "bjorn") != 1 {
		t.Fatalf("bjorn (no rules) paged on %v", sent)
	}
	for _, step := range []time.Duration{time.Minute, 4*time.Minute + 59*time.Second} {
		now = t0.Add(step)
		if err := d.FollowUp(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n := count("sms", "ana"); n != 0 {
			t.Fatalf("SMS to ana %s after the page", step)
		}
	}
	for _, step := range []time.Duration{5 * time.Minute, 6 * time.Minute, time.Hour} {
		now = t0.Add(step)
		if err := d.FollowUp(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n := count("sms", "ana"); n != 1 {
			t.Fatalf("%d SMS to ana at +%s, want 1", n, step)
		}
	}
	if count("slack", "bjorn") != 1 || count("sms", "bjorn") != 1 {
		t.Fatalf("bjorn paged again by FollowUp: %v", sent)
	}
	// An acknowledged incident (no longer listed as triggered) gets none.
	inc2 := incident.Incident{ID: 8, Title: "Disk", Severity: "warning", Status: incident.StatusTriggered, OpenedAt: now}
	*open = openList{inc2}
	if err := d.Notify(context.Background(), incident.Notification{Kind: incident.NotifyPage, Incident: inc2, Members: []string{"ana"}}); err != nil {
		t.Fatal(err)
	}
	*open = nil
	now = now.Add(10 * time.Minute)
	if err := d.FollowUp(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := count("sms", "ana"); n != 1 {
		t.Fatalf("%d SMS to ana after the second incident was acknowledged, want still 1", n)
	}
}
