package abusedetect

import (
	"bytes"
	"context"
	"encoding/gob"
	"fmt"
	"time"

	"github.com/uni-mail/postvakt/collectors/logparse"
	"github.com/uni-mail/postvakt/collectors/txlog"
)

// Stream is the Detector as the collectors' pipeline drives it: it
// implements ingest.Detector (collectors/ingest/detect.go states the
// contract: every line's event in merged time order, then every login,
// message and transaction-log record, each once, in import and serve
// alike). It turns the records into the Detector's Login and Message
// observations; Line and Outcome are where single-line signals (policy and
// rate-limit rejects, warnings) enter the rules.
type Stream struct{ D *Detector }

// Line observes one parsed log line.
func (s Stream) Line(context.Context, logparse.Event) {}

// Login observes one login record.
func (s Stream) Login(ctx context.Context, l *txlog.Login) {
	if l.Source == txlog.SourceDovecotAuth {
		return // Postfix logs the outcome of the same attempt itself
	}
	s.D.Login(ctx, Login{At: l.Time, Node: l.Node, User: l.User, IP: l.RemoteIP, OK: l.OK})
}

// Message observes one message record: messages that entered from a
// client, sent by an account or to recipients.
func (s Stream) Message(ctx context.Context, m *txlog.MessageRow) {
	if m.Received > 0 && (m.AuthUser != "" || m.NRcpt > 0) {
		s.D.Message(ctx, Message{At: m.FirstSeen, Node: m.Node, User: m.AuthUser, MessageID: m.MessageID, Recipients: m.NRcpt})
	}
}

// Outcome observes one transaction-log row.
func (s Stream) Outcome(context.Context, *txlog.Row) {}

// detState is the Detector's state as MarshalState writes it.
type detState struct {
	Last    time.Time
	Windows []detWindow
}

type detWindow struct {
	Kind    Kind
	Key     string
	Times   []time.Time
	Weights []int
	Sum     int
	IPs     map[string]time.Time
	Quiet   time.Time
}

// MarshalState returns the Detector's windows, so that a restart of
// `serve` keeps counting where it stopped (ingest.DetectorState).
func (s Stream) MarshalState() ([]byte, error) {
	st := detState{Last: s.D.last}
	for k, m := range s.D.state {
		for key, w := range m {
			st.Windows = append(st.Windows, detWindow{Kind: k, Key: key, Times: w.times, Weights: w.weights, Sum: w.sum,
				IPs: w.ips, Quiet: w.quiet})
		}
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(&st); err != nil {
		return nil, fmt.Errorf("abusedetect: state: %w", err)
	}
	return buf.Bytes(), nil
}

// UnmarshalState replaces the Detector's windows with those MarshalState
// returned.
func (s Stream) UnmarshalState(data []byte) error {
	var st detState
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&st); err != nil {
		return fmt.Errorf("abusedetect: state: %w", err)
	}
	state := map[Kind]map[string]*window{}
	for _, k := range Kinds() {
		state[k] = map[string]*window{}
	}
	for _, w := range st.Windows {
		if state[w.Kind] == nil {
			continue // a kind this version does not know
		}
		state[w.Kind][w.Key] = &window{times: w.Times, weights: w.Weights, sum: w.Sum, ips: w.IPs, quiet: w.Quiet}
	}
	s.D.state, s.D.last = state, st.Last
	return nil
}
