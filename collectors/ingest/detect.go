package ingest

import (
	"context"

	"github.com/uni-mail/postvakt/collectors/logparse"
	"github.com/uni-mail/postvakt/collectors/txlog"
)

// Detector is detection on the collectors' stream (abuse detection,
// docs/collectors.md "Abuse detection"), as the pipeline drives it. It is
// the seam between the pipeline, which owns the order and the exactly-once
// delivery of what it sees, and collectors/abusedetect, which owns the
// rules; internal/app hands the detector to Options.Detector for
// `postvakt serve` and `postvakt import` alike.
//
// The contract:
//
//   - Line sees the event of every log line that framed, in the merged time
//     order of all sources (the order the correlator sees), before the
//     correlator: single-line signals such as policy and rate-limit
//     rejects and Postfix's "rate limit exceeded" warnings.
//   - Login sees every login record, Message every message record, Outcome
//     every transaction-log row (deliveries, rejects, greylisting,
//     verdicts), from the logs and from the engine's events alike — also
//     the engine's records that its own commit writes (docs/collectors.md,
//     "The engine"), so the detector sees engine mail once.
//   - Every line and record is seen exactly once across restarts of
//     `serve` (the pipeline resumes from its committed state and never
//     re-reads what it has processed), and import and tailing the same
//     files show the detector the same sequence.
//   - The calls come from the pipeline's one goroutine, on the ingestion
//     path: they must not block for long. The pointers and events are
//     only valid during the call (events come from a reused arena, records
//     from a reused batch): copy what is kept, and never change them.
//
// A Detector whose state should survive a restart of `serve` (its windows)
// also implements DetectorState; the pipeline then keeps that state in its
// checkpoint.
type Detector interface {
	Line(ctx context.Context, ev logparse.Event)
	Login(ctx context.Context, l *txlog.Login)
	Message(ctx context.Context, m *txlog.MessageRow)
	Outcome(ctx context.Context, r *txlog.Row)
}

// DetectorState is implemented by a Detector that keeps state across a
// restart: MarshalState is called with every checkpoint the pipeline
// commits, UnmarshalState once, before the first event, with the state of
// the last committed checkpoint.
type DetectorState interface {
	MarshalState() ([]byte, error)
	UnmarshalState([]byte) error
}
