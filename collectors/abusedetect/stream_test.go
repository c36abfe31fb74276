package abusedetect

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/collectors/logparse"
	"github.com/uni-mail/postvakt/collectors/txlog"
)

// TestStateCoversEveryField: a field added to the Detector or what it
// holds must be kept by MarshalState and UnmarshalState (stream.go), or a
// restart of `serve` forgets it; say here why a field is left out.
func TestStateCoversEveryField(t *testing.T) {
	t.Parallel()
	kept := map[string]map[string]bool{
		"Detector": {"o": true /* configuration */, "alerts": true /* metrics */, "allow": true /* configuration */, "mu": true,
			"quiet": true /* set by the pipeline */, "last": true, "swept": true, "windows": true, "fails": true,
			"known": true /* the History, and the dirty entries */, "obs": true},
		"window":     {"times": true, "weights": true, "addrs": true, "sum": true, "quiet": true, "head": true, "tail": true, "firstAt": true, "seenAddrs": true, "also": true},
		"failMemory": {"times": true, "addrs": true, "evidence": true, "guessed": true, "raised": true},
		"observeState": {"sessions": true, "byIP": true, "queued": true, "dovecot": true,
			"stampSec": true, "stampLoc": true, "stampStr": true /* a cache of the last evidence stamp */},
		"sessionInfo": {"user": true, "at": true, "counted": true},
		"ipInfo":      {"user": true, "at": true},
		"queuedInfo":  {"user": true, "ip": true, "at": true, "held": true},
		"dovecotInfo": {"failures": true, "at": true},
	}
	for _, typ := range []reflect.Type{reflect.TypeOf(Detector{}), reflect.TypeOf(window{}), reflect.TypeOf(failMemory{}),
		reflect.TypeOf(observeState{}), reflect.TypeOf(sessionInfo{}), reflect.TypeOf(ipInfo{}), reflect.TypeOf(queuedInfo{}), reflect.TypeOf(dovecotInfo{})} {
		for i := range typ.NumField() {
			if f := typ.Field(i).Name; !kept[typ.Name()][f] {
				t.Errorf("%s.%s: keep it in MarshalState/UnmarshalState (stream.go) and list it here", typ.Name(), f)
			}
		}
	}
}

// events frames and parses lines for Stream.Line.
func events(t *testing.T, lines ...string) []logparse.Event {
	t.Helper()
	fr := logparse.NewFramer(t0, time.UTC)
	var out []logparse.Event
	for _, l := range lines {
		ev, err := logparse.ParseLine(fr, l)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

// TestStateSurvivesRestart: failures and a session's account counted
// before a restart count after it: a guessing run and a rate-limit run
// across a restart are found.
func TestStateSurvivesRestart(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	ctx := context.Background()
	d1, c1, _ := newDetector(t, cfg)
	s1 := Stream{D: d1}
	var lines []string
	for i := range cfg.AuthFailuresPerUser - 1 {
		lines = append(lines, imapFail(time.Duration(i)*time.Second, "192.0.2.24", "rita@uni.example", "s"))
	}
	lines = append(lines, submit(20*time.Second, 77, "AAAAA11111", "203.0.113.50", "rita@uni.example"))
	for _, ev := range events(t, lines...) {
		s1.Line(ctx, ev)
	}
	state, err := s1.MarshalState()
	if err != nil {
		t.Fatal(err)
	}
	d2, c2, _ := newDetector(t, cfg)
	s2 := Stream{D: d2}
	if err := s2.UnmarshalState(state); err != nil {
		t.Fatal(err)
	}
	after := []string{imapFail(30*time.Second, "192.0.2.25", "rita@uni.example", "t")}
	for i := range cfg.PolicyRejects {
		// the same smtpd process: its session's account names the warnings
		after = append(after, fmt.Sprintf("%s mx postfix/submission/smtpd[77]: warning: Message delivery request rate limit exceeded: %d from unknown[203.0.113.50] for service submission", at(40*time.Second), i))
	}
	for _, ev := range events(t, after...) {
		s2.Line(ctx, ev)
	}
	if len(c1.alerts) != 0 || len(c2.of(KindGuessingAccount)) != 1 || len(c2.of(KindPolicyRejects)) != 1 || c2.of(KindPolicyRejects)[0].Account != "rita@uni.example" {
		t.Fatalf("before %+v after %+v", c1.alerts, c2.alerts)
	}
	// the known addresses not yet saved come along
	if !d2.known.known("rita@uni.example", "203.0.113.50", t0.Add(time.Hour), 0) {
		t.Error("known address lost")
	}
}

// TestStreamRecords: the records built from log lines are not counted
// again (their lines were); the engine's own records are.
func TestStreamRecords(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	ctx := context.Background()
	d, c, _ := newDetector(t, cfg)
	s := Stream{D: d}
	for i := range cfg.AuthFailuresPerUser {
		at := t0.Add(time.Duration(i) * time.Second)
		s.Login(ctx, &txlog.Login{Time: at, Node: "mx", Source: "dovecot", Service: "imap", User: "a@uni.example", RemoteIP: "192.0.2.1"})
		s.Login(ctx, &txlog.Login{Time: at, Node: "mx", Source: "engine", Service: "submission", User: "b@uni.example", RemoteIP: "192.0.2.2"})
	}
	s.Message(ctx, &txlog.MessageRow{FirstSeen: t0, Node: "mx", Source: "postfix", AuthUser: "c@uni.example", NRcpt: 30, Received: 1})
	s.Message(ctx, &txlog.MessageRow{FirstSeen: t0, Node: "mx", Source: "engine", AuthUser: "d@uni.example", ClientIP: "192.0.2.4", NRcpt: 30, Received: 1})
	for i := range cfg.PolicyRejects {
		s.Outcome(ctx, &txlog.Row{Time: t0.Add(time.Duration(i) * time.Second), Node: "mx", Source: "engine", Status: txlog.StatusRejected,
			Stage: "MAIL", Code: 450, AuthUser: "e@uni.example", ClientIP: "192.0.2.5", Reply: "4.7.1 sending rate limit exceeded"})
	}
	g, m, p := c.of(KindGuessingAccount), c.of(KindMassMailing), c.of(KindPolicyRejects)
	if len(g) != 1 || g[0].Account != "b@uni.example" || len(m) != 1 || m[0].Account != "d@uni.example" || len(p) != 1 || p[0].Account != "e@uni.example" {
		t.Fatalf("%+v", c.alerts)
	}
}
