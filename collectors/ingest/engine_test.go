package ingest

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/uni-mail/postvakt/collectors/logparse"
	"github.com/uni-mail/postvakt/collectors/txlog"
	"github.com/uni-mail/postvakt/engine/event"
)

func rowsText(b txlog.Batch) string {
	var out []string
	for _, m := range b.Messages {
		out = append(out, fmt.Sprintf("M %s %s %s received=%d", m.MsgKey, m.State, m.Direction, m.Received))
	}
	for _, r := range b.Rows {
		s := fmt.Sprintf("R %s %s %s %s", r.MsgKey, r.Status, r.Rcpt, r.Direction)
		if r.OrigRcpt != "" {
			s += " for " + r.OrigRcpt
		}
		if r.Reply != "" {
			s += " (" + r.Reply + ")"
		}
		out = append(out, s)
	}
	return strings.Join(out, "\n")
}

// TestEngineRecordsSteps: the relay queue's and the quarantine's steps
// become transaction-log rows under the message's key, with the state
// each says (docs/collectors.md, "The engine").
func TestEngineRecordsSteps(t *testing.T) {
	t.Parallel()
	c := NewEngineRecords([]netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")})
	at := time.Date(2026, 11, 22, 11, 0, 0, 0, time.UTC)
	fwd := func(step event.RelayStep, reply string) event.Event {
		return &event.Relay{At: at, Node: "mx1", QueueID: "Q1", Listener: "mx", ClientIP: "192.0.2.7", MailFrom: "a@partner.example",
			Rcpt: "kari@uni.example", Target: "kari@home.example", Step: step, Reply: reply}
	}
	b := c.Records([]event.Event{
		fwd(event.RelayQueued, ""), fwd(event.RelayHeld, "mass_mailing_held"), fwd(event.RelayReleased, ""),
		fwd(event.RelayDeferred, "451 4.7.1 later"), fwd(event.RelayDelivered, "250 2.0.0 Ok"),
		&event.Relay{At: at, Node: "mx1", QueueID: "D1", DSNFor: "Q2", Target: "a@uni.example", Rcpt: "a@uni.example", Step: event.RelayQueued},
		&event.Relay{At: at, Node: "mx1", QueueID: "D1", Target: "a@uni.example", Rcpt: "a@uni.example", Step: event.RelayExpired, Reply: "4.4.7"},
		&event.Quarantine{At: at, Node: "mx1", QueueID: "V1", Step: event.QuarantineAdded, Reason: "virus", Detail: "Eicar", Listener: "mx",
			ClientIP: "192.0.2.7", MailFrom: "e@ext.example", Rcpts: []string{"ola@uni.example"}, MessageID: "<v@ext>"},
		&event.Quarantine{At: at, Node: "mx1", QueueID: "V1", Step: event.QuarantineReleased, Listener: "mx", ClientIP: "192.0.2.7",
			Rcpts: []string{"ola@uni.example"}, Mailboxes: []string{"ola@uni.example"}},
		&event.Quarantine{At: at, Node: "mx1", QueueID: "V2", Step: event.QuarantineDeleted, Rcpts: []string{"per@uni.example"}},
	})
	want := strings.Join([]string{
		"M mx1/D1 accepted outbound received=0",
		"M mx1/V1 quarantined inbound received=1",
		"R mx1/Q1 queued kari@home.example relayed for kari@uni.example",
		"R mx1/Q1 held kari@home.example relayed for kari@uni.example (mass_mailing_held)",
		"R mx1/Q1 released kari@home.example relayed for kari@uni.example",
		"R mx1/Q1 deferred kari@home.example relayed for kari@uni.example (451 4.7.1 later)",
		"R mx1/Q1 sent kari@home.example relayed for kari@uni.example (250 2.0.0 Ok)",
		"R mx1/D1 queued a@uni.example outbound (delivery status notification for Q2)",
		"R mx1/D1 expired a@uni.example outbound (4.4.7)",
		"R mx1/V1 quarantined ola@uni.example inbound (virus: Eicar)",
		"R mx1/V1 released ola@uni.example inbound (released from the quarantine)",
		"R mx1/V1 sent ola@uni.example inbound (released from the quarantine)",
		"R mx1/V2 deleted per@uni.example inbound (deleted from the quarantine)",
	}, "\n")
	if got := rowsText(b); got != want {
		t.Errorf("records:\n%s\nwant:\n%s", got, want)
	}
}

// TestEngineJournalMode: with the engine's journal, the events of what it
// journals move the metrics and the detector but are not written again;
// refusals and logins are written from the events.
func TestEngineJournalMode(t *testing.T) {
	t.Parallel()
	st := &memStore{}
	seen := &countDetector{}
	p := New(Options{Store: st, EngineJournal: true, Detector: seen})
	s := event.Session{ID: "s1", Node: "mx1", Listener: "mx", ClientIP: "192.0.2.1"}
	at := time.Date(2026, 11, 22, 11, 0, 0, 0, time.UTC)
	for _, ev := range []event.Event{
		&event.Recipient{At: at, Session: s, Rcpt: "nobody@uni.example", Outcome: event.OutcomeRefused, Code: 550},
		&event.Transaction{At: at, Session: s, QueueID: "Q1", Rcpts: []string{"x@uni.example"}, Size: 10, Code: 250, Disposition: event.Stored},
		&event.Recipient{At: at, Session: s, QueueID: "Q1", Rcpt: "x@uni.example", Target: "x@uni.example", Outcome: event.OutcomeDelivered, Code: 250},
		&event.Transaction{At: at, Session: s, QueueID: "Q2", Rcpts: []string{"y@uni.example"}, Size: 10, Code: 250, Disposition: event.Discarded},
		&event.Auth{At: at, Session: s, Username: "u", Success: true},
	} {
		p.Engine(ev)
	}
	if err := p.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, want := rowsText(st.b), "M mx1/Q2 discarded inbound received=1\nR  rejected nobody@uni.example inbound\nR mx1/Q2 discarded y@uni.example inbound (accepted and discarded by the content filter)"; got != want {
		t.Errorf("written:\n%s\nwant:\n%s", got, want)
	}
	if len(st.b.Logins) != 1 {
		t.Errorf("logins %d", len(st.b.Logins))
	}
	if seen.messages != 2 || seen.rows != 3 || seen.logins != 1 {
		t.Errorf("the detector saw %+v", seen)
	}
	if n := testutil.ToFloat64(p.Metrics().Messages.WithLabelValues("inbound")); n != 2 {
		t.Errorf("messages counted %v", n)
	}
}

type countDetector struct{ messages, rows, logins int }

func (d *countDetector) Line(context.Context, logparse.Event)       {}
func (d *countDetector) Login(context.Context, *txlog.Login)        { d.logins++ }
func (d *countDetector) Message(context.Context, *txlog.MessageRow) { d.messages++ }
func (d *countDetector) Outcome(context.Context, *txlog.Row)        { d.rows++ }

// TestEngineRecordsDirection: the listener and authentication decide the
// direction, not the client address. Mail from 127.0.0.1 (a local
// network) received unauthenticated on the MX listener is inbound; the
// same client on submission, or authenticated, is outbound; only without
// a listener does the local address count (docs/collectors.md, "The
// engine").
func TestEngineRecordsDirection(t *testing.T) {
	t.Parallel()
	c := NewEngineRecords([]netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")})
	at := time.Date(2026, 11, 22, 11, 0, 0, 0, time.UTC)
	msg := func(qid, listener, ip, auth string) []event.Event {
		s := event.Session{Node: "mx1", Listener: listener, ClientIP: ip, AuthUser: auth}
		return []event.Event{
			&event.Transaction{At: at, Session: s, QueueID: qid, MailFrom: "a@ext.example", Rcpts: []string{"ola@uni.example"},
				Code: 250, Disposition: event.Stored},
			&event.Recipient{At: at, Session: s, QueueID: qid, MailFrom: "a@ext.example", Rcpt: "ola@uni.example", Outcome: event.OutcomeDelivered, Code: 250},
			&event.Recipient{At: at, Session: s, MailFrom: "a@ext.example", Rcpt: "kari@uni.example", Outcome: event.OutcomeRefused,
				Code: 450, Reason: "greylisted"},
		}
	}
	var evs []event.Event
	evs = append(evs, msg("L1", "mx", "127.0.0.1", "")...)
	evs = append(evs, msg("L2", "submission", "127.0.0.1", "")...)
	evs = append(evs, msg("L3", "mx", "192.0.2.7", "ola@uni.example")...)
	evs = append(evs, msg("L4", "", "127.0.0.1", "")...)
	evs = append(evs, msg("L5", "mx", "192.0.2.7", "")...)
	want := strings.Join([]string{
		"M mx1/L1 accepted inbound received=1",
		"M mx1/L2 accepted outbound received=1",
		"M mx1/L3 accepted outbound received=1",
		"M mx1/L4 accepted outbound received=1",
		"M mx1/L5 accepted inbound received=1",
		"R mx1/L1 sent ola@uni.example inbound",
		"R  greylisted kari@uni.example inbound (greylisted)",
		"R mx1/L2 sent ola@uni.example internal",
		"R  greylisted kari@uni.example outbound (greylisted)",
		"R mx1/L3 sent ola@uni.example internal",
		"R  greylisted kari@uni.example outbound (greylisted)",
		"R mx1/L4 sent ola@uni.example internal",
		"R  greylisted kari@uni.example outbound (greylisted)",
		"R mx1/L5 sent ola@uni.example inbound",
		"R  greylisted kari@uni.example inbound (greylisted)",
	}, "\n")
	if got := rowsText(c.Records(evs)); got != want {
		t.Errorf("records:\n%s\nwant:\n%s", got, want)
	}
}

// TestEngineRecordsDMARCRefusal: a message the MX refused for DMARC shows
// the check results beside the reason in the transaction log.
func TestEngineRecordsDMARCRefusal(t *testing.T) {
	t.Parallel()
	c := NewEngineRecords(nil)
	at := time.Date(2026, 12, 7, 11, 0, 0, 0, time.UTC)
	s := event.Session{ID: "S1", Node: "mx1", Listener: "mx", ClientIP: "192.0.2.7", HELO: "forger.example"}
	b := c.Records([]event.Event{&event.Transaction{At: at, Session: s, MailFrom: "ceo@forged.example", Rcpts: []string{"anna@uni.example"},
		Code: 550, Enhanced: "5.7.1", Reason: "dmarc_reject", AuthResults: "spf=fail dkim=none dmarc=fail (p=reject disposition=reject)"}})
	want := "R  rejected anna@uni.example inbound (dmarc_reject (spf=fail dkim=none dmarc=fail (p=reject disposition=reject)))"
	if got := rowsText(b); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}
