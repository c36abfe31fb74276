package tickets_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/uni-mail/postvakt/oncall/tickets"
)

// intakeRecorder stands in for Service.Intake, which the ticket store's
// conformance tests cover on both databases: it records the messages it is
// given and answers with err.
type intakeRecorder struct {
	got []string
	err error
}

func (r *intakeRecorder) intake(_ context.Context, msg io.Reader) (string, bool, error) {
	b, err := io.ReadAll(msg)
	if err != nil {
		return "", false, err
	}
	r.got = append(r.got, string(b))
	if r.err != nil {
		return "", false, r.err
	}
	return "FT-1", true, nil
}

// TestFaultIntakeRule checks the rule for mail to tickets.fault_address
// (docs/tickets.md, "Intake"): accepted mail for the address opens or
// threads a ticket; mail for others, mail the content filter refused and
// tagged spam take no ticket; a report that cannot be stored is deferred.
func TestFaultIntakeRule(t *testing.T) {
	t.Parallel()
	const report = "From: kari@else.example\r\nSubject: Webmail down\r\n\r\nSince 10:05.\r\n"
	stored := errors.New("database is locked")
	for _, tc := range []struct {
		name    string
		address string
		mail    tickets.FaultMail
		err     error // the intake's answer
		taken   bool  // the intake got the message
		deferr  bool
	}{
		{name: "report", address: "fault@uni.example",
			mail:  tickets.FaultMail{Rcpts: []string{"<fault@uni.example>"}, Accepted: true, Message: strings.NewReader(report)},
			taken: true},
		{name: "address in another case, among others", address: "fault@uni.example",
			mail:  tickets.FaultMail{Rcpts: []string{"anna@uni.example", "Fault@Uni.Example"}, Accepted: true, Message: strings.NewReader(report)},
			taken: true},
		{name: "clean mail with a header added", address: "fault@uni.example",
			mail:  tickets.FaultMail{Rcpts: []string{"fault@uni.example"}, Accepted: true, Headers: []string{"X-Spam-Flag: NO", "X-Spam-Score: 0.1"}, Message: strings.NewReader(report)},
			taken: true},
		{name: "not for the fault address", address: "fault@uni.example",
			mail: tickets.FaultMail{Rcpts: []string{"anna@uni.example"}, Accepted: true, Message: strings.NewReader(report)}},
		{name: "refused by the content filter", address: "fault@uni.example",
			mail: tickets.FaultMail{Rcpts: []string{"fault@uni.example"}, Accepted: false, Message: strings.NewReader(report)}},
		{name: "tagged spam", address: "fault@uni.example",
			mail: tickets.FaultMail{Rcpts: []string{"fault@uni.example"}, Accepted: true, Headers: []string{" x-spam-flag: yes "}, Message: strings.NewReader(report)}},
		{name: "no fault address", address: "",
			mail: tickets.FaultMail{Rcpts: []string{"<>"}, Accepted: true, Message: strings.NewReader(report)}},
		{name: "ignored on purpose (an automatic reply, a loop): accepted", address: "fault@uni.example",
			mail: tickets.FaultMail{Rcpts: []string{"fault@uni.example"}, Accepted: true, Message: strings.NewReader(report)},
			err:  fmt.Errorf("%w: automatic message", tickets.ErrIgnored), taken: true},
		{name: "unreadable: accepted", address: "fault@uni.example",
			mail: tickets.FaultMail{Rcpts: []string{"fault@uni.example"}, Accepted: true, Message: strings.NewReader(report)},
			err:  fmt.Errorf("%w: no From address", tickets.ErrUnreadable), taken: true},
		{name: "ticket not stored", address: "fault@uni.example",
			mail: tickets.FaultMail{Rcpts: []string{"fault@uni.example"}, Accepted: true, Message: strings.NewReader(report)},
			err:  stored, taken: true, deferr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := &intakeRecorder{err: tc.err}
			r := tickets.FaultIntake{Address: tc.address, Intake: rec.intake}.Take(context.Background(), tc.mail)
			if taken := len(rec.got) == 1; taken != tc.taken || len(rec.got) > 1 {
				t.Fatalf("intake got %d messages, want taken=%v", len(rec.got), tc.taken)
			}
			if tc.taken && rec.got[0] != report {
				t.Errorf("intake got %q, want the delivered message", rec.got[0])
			}
			if r.Defer != tc.deferr {
				t.Fatalf("Defer = %v, want %v (%+v)", r.Defer, tc.deferr, r)
			}
			if tc.deferr && r.Reason != "fault intake: "+stored.Error() {
				t.Errorf("Reason = %q", r.Reason)
			}
		})
	}
}
