package abusedetect

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/collectors/txlog"
)

// TestStateCoversEveryField: a field added to the Detector or its window
// must be kept by MarshalState and UnmarshalState (stream.go), or a
// restart of `serve` forgets it; say here why a field is left out.
func TestStateCoversEveryField(t *testing.T) {
	known := map[string]map[string]bool{
		"Detector": {"o": true /* configuration */, "state": true, "alerts": true /* metrics */, "last": true},
		"window":   {"times": true, "weights": true, "sum": true, "ips": true, "quiet": true},
	}
	for _, typ := range []reflect.Type{reflect.TypeOf(Detector{}), reflect.TypeOf(window{})} {
		for i := range typ.NumField() {
			if f := typ.Field(i).Name; !known[typ.Name()][f] {
				t.Errorf("%s.%s: keep it in MarshalState/UnmarshalState (stream.go) and list it here", typ.Name(), f)
			}
		}
	}
}

// TestStateSurvivesRestart: failures counted before a restart count after
// it, so a guessing run across a restart is found.
func TestStateSurvivesRestart(t *testing.T) {
	cfg := DefaultConfig()
	var got []Alert
	sink := AlertSinkFunc(func(_ context.Context, a Alert) error { got = append(got, a); return nil })
	d1, _ := New(Options{Config: cfg, Sink: sink})
	s1 := Stream{D: d1}
	at := time.Date(2026, 12, 7, 5, 38, 0, 0, time.UTC)
	fail := func(s Stream, i int) {
		s.Login(context.Background(), &txlog.Login{Time: at.Add(time.Duration(i) * time.Second), Source: "dovecot", Service: "imap",
			User: "rita@uni.example", RemoteIP: "192.0.2.24"})
	}
	for i := range cfg.AuthFailuresPerUser {
		fail(s1, i)
	}
	state, err := s1.MarshalState()
	if err != nil {
		t.Fatal(err)
	}
	d2, _ := New(Options{Config: cfg, Sink: sink})
	s2 := Stream{D: d2}
	if err := s2.UnmarshalState(state); err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Fatalf("alerted before the threshold: %+v", got)
	}
	fail(s2, cfg.AuthFailuresPerUser)
	if len(got) != 1 || got[0].Kind != KindAuthFailuresUser {
		t.Errorf("after the restart: %+v", got)
	}
}
