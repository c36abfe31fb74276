package alertmanager

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

const group = `{"version":"4","groupKey":"{}:{alertname=\"X\"}","status":"firing","receiver":"postvakt",` +
	`"alerts":[{"status":"firing","labels":{"alertname":"X"},"startsAt":"2026-03-29T01:30:00Z","fingerprint":"abc"}]}`

// memInbox is an Inbox in memory for the receiver's own logic; the stored
// inbox (internal/store/oncallstore) has its conformance tests on both
// databases, and the whole path runs against a real Alertmanager and a
// PostgreSQL that goes down (internal/app, make e2e).
type memInbox struct {
	mu    sync.Mutex
	items []Item
	done  map[int64]bool
	down  bool // every call fails, as with the database down
}

var errDown = errors.New("database unreachable")

func (b *memInbox) AddInboxItem(_ context.Context, it Item) (int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.down {
		return 0, errDown
	}
	it.ID = int64(len(b.items) + 1)
	b.items = append(b.items, it)
	return it.ID, nil
}

func (b *memInbox) PendingInboxItems(_ context.Context, limit int) ([]Item, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.down {
		return nil, errDown
	}
	var out []Item
	for _, it := range b.items {
		if !b.done[it.ID] && len(out) < limit {
			out = append(out, it)
		}
	}
	return out, nil
}

func (b *memInbox) InboxItemDone(_ context.Context, id int64, _ time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.down {
		return errDown
	}
	b.done[id] = true
	return nil
}

func (b *memInbox) InboxItemFailed(_ context.Context, id int64, attempts int, next time.Time, _ string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.down {
		return errDown
	}
	b.items[id-1].Attempts, b.items[id-1].NextAt = attempts, next
	return nil
}

func (b *memInbox) PruneInbox(context.Context, time.Time) (int64, error) { return 0, nil }

func (b *memInbox) setDown(v bool) { b.mu.Lock(); b.down = v; b.mu.Unlock() }

// TestReceiverAnswers checks each answer of the webhook endpoint: its
// status and its body, the API's error envelope for a refusal; 202 only
// once the group is stored, 503 when it cannot be (so that Alertmanager
// sends it again).
func TestReceiverAnswers(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []Message
	inbox := &memInbox{done: map[int64]bool{}}
	recv, err := NewReceiver(Options{Token: "secret", MaxBodyBytes: 2048, Inbox: inbox, Poll: 20 * time.Millisecond,
		Sink: SinkFunc(func(_ context.Context, m Message) error { mu.Lock(); got = append(got, m); mu.Unlock(); return nil })})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(recv)
	t.Cleanup(srv.Close)
	post := func(method, token, body string) (int, http.Header, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, b
	}
	refused := func(name string, status int, h http.Header, b []byte, wantStatus int, wantCode string) {
		t.Helper()
		var e ErrorReply
		if err := json.Unmarshal(b, &e); err != nil || status != wantStatus || e.Error.Code != wantCode || e.Error.Message == "" ||
			h.Get("Content-Type") != "application/json; charset=utf-8" {
			t.Errorf("%s: %d %s, want %d with code %s", name, status, b, wantStatus, wantCode)
		}
		var keys map[string]json.RawMessage
		_ = json.Unmarshal(b, &keys)
		if len(keys) != 1 || keys["error"] == nil {
			t.Errorf("%s: body %s is not {\"error\":{…}}", name, b)
		}
	}

	s, h, b := post("GET", "secret", "")
	refused("GET", s, h, b, http.StatusMethodNotAllowed, "method_not_allowed")
	if h.Get("Allow") != "POST" {
		t.Errorf("GET: Allow %q", h.Get("Allow"))
	}
	s, h, b = post("POST", "", group)
	refused("no token", s, h, b, http.StatusUnauthorized, "unauthorized")
	if !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("no token: WWW-Authenticate %q", h.Get("WWW-Authenticate"))
	}
	s, h, b = post("POST", "wrong", group)
	refused("wrong token", s, h, b, http.StatusUnauthorized, "unauthorized")
	s, h, b = post("POST", "secret", strings.Repeat(" ", 4096)+group)
	refused("too large", s, h, b, http.StatusRequestEntityTooLarge, "too_large")
	s, h, b = post("POST", "secret", `{"version":"3"}`)
	refused("version 3", s, h, b, http.StatusBadRequest, "bad_request")

	// The database is down: 503, nothing stored, Alertmanager retries.
	inbox.setDown(true)
	s, h, b = post("POST", "secret", group)
	refused("inbox down", s, h, b, http.StatusServiceUnavailable, "unavailable")
	if h.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	inbox.setDown(false)
	if len(inbox.items) != 0 {
		t.Fatalf("a refused group was stored: %+v", inbox.items)
	}

	// Stored before the answer, handled once the worker runs.
	s, _, b = post("POST", "secret", group)
	var ok Reply
	if err := json.Unmarshal(b, &ok); err != nil || s != http.StatusAccepted || ok.Status != "stored" {
		t.Fatalf("accepted: %d %s", s, b)
	}
	if len(inbox.items) != 1 || inbox.items[0].Key != `alertmanager/postvakt/{}:{alertname="X"}` {
		t.Fatalf("inbox after 202: %+v", inbox.items)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- recv.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the stored group was not handed to the sink")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got[0].Receiver != "postvakt" || len(got[0].Alerts) != 1 || Key(got[0]) != `alertmanager/postvakt/{}:{alertname="X"}` {
		t.Fatalf("sink got %+v", got[0])
	}
}

// TestReceiverRetriesInOrder: a group the sink fails on is tried again
// with a growing wait and never dropped; a later group of the same key
// waits for it, a group of another key does not.
func TestReceiverRetriesInOrder(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 29, 10, 0, 0, 0, time.UTC)
	var clockMu sync.Mutex
	clock := func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return now }
	advance := func(d time.Duration) { clockMu.Lock(); now = now.Add(d); clockMu.Unlock() }
	inbox := &memInbox{done: map[int64]bool{}}
	var handled []string
	failing := true
	recv, err := NewReceiver(Options{Token: "secret", Inbox: inbox, Now: clock,
		Sink: SinkFunc(func(_ context.Context, m Message) error {
			if m.GroupKey == "a" && m.Status == "firing" && failing {
				return errors.New("incident store unreachable")
			}
			handled = append(handled, m.GroupKey+"/"+m.Status)
			return nil
		})})
	if err != nil {
		t.Fatal(err)
	}
	add := func(key, status string) {
		m := Message{Version: "4", GroupKey: key, Status: status, Receiver: "r"}
		b, _ := json.Marshal(m)
		if _, err := inbox.AddInboxItem(context.Background(), Item{Key: Key(m), Body: b, ReceivedAt: clock(), NextAt: clock()}); err != nil {
			t.Fatal(err)
		}
	}
	add("a", "firing")
	add("b", "firing")
	add("a", "resolved")
	ctx := context.Background()
	_ = recv.Round(ctx)
	if strings.Join(handled, " ") != "b/firing" || inbox.items[0].Attempts != 1 || !inbox.items[0].NextAt.Equal(clock().Add(2*time.Second)) {
		t.Fatalf("first round: handled %v, item %+v", handled, inbox.items[0])
	}
	_ = recv.Round(ctx) // not due yet: a's resolved still waits
	if len(handled) != 1 || inbox.items[0].Attempts != 1 {
		t.Fatalf("second round before the retry is due: %v %+v", handled, inbox.items[0])
	}
	advance(2 * time.Second)
	_ = recv.Round(ctx)
	if inbox.items[0].Attempts != 2 || !inbox.items[0].NextAt.Equal(clock().Add(4*time.Second)) {
		t.Fatalf("third round: %+v", inbox.items[0])
	}
	// The database is down for a round: nothing is lost.
	inbox.setDown(true)
	if err := recv.Round(ctx); err == nil {
		t.Fatal("a round with the inbox down reported no error")
	}
	inbox.setDown(false)
	failing = false
	advance(4 * time.Second)
	_ = recv.Round(ctx)
	if got := strings.Join(handled, " "); got != "b/firing a/firing a/resolved" {
		t.Fatalf("handled %q, want b/firing a/firing a/resolved", got)
	}
	if pending, _ := inbox.PendingInboxItems(ctx, 10); len(pending) != 0 {
		t.Fatalf("still pending: %+v", pending)
	}
}
