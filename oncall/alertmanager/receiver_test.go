package alertmanager

import (
	"context"
	"encoding/json"
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

// TestReceiverAnswers checks each answer of the webhook endpoint: its
// status and its body, the API's error envelope for a refusal.
func TestReceiverAnswers(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []Message
	recv, err := NewReceiver(Options{Token: "secret", MaxBodyBytes: 2048, QueueSize: 1,
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

	s, _, b = post("POST", "secret", group)
	var ok Reply
	if err := json.Unmarshal(b, &ok); err != nil || s != http.StatusAccepted || ok.Status != "queued" {
		t.Fatalf("accepted: %d %s", s, b)
	}
	// The queue holds one group and nobody works it yet.
	s, h, b = post("POST", "secret", group)
	refused("queue full", s, h, b, http.StatusServiceUnavailable, "unavailable")

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
			t.Fatal("the queued group was not handed to the sink")
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
