package tickets

import (
	"errors"
	"strings"
	"testing"
)

func TestStateMachine(t *testing.T) {
	t.Parallel()
	cases := []struct {
		from, action, to string
		err              error
	}{
		{StateNew, ActAck, StateAcknowledged, nil},
		{StateNew, ActStart, StateInvestigating, nil},
		{StateAcknowledged, ActWait, StateWaiting, nil},
		{StateWaiting, ActStart, StateInvestigating, nil},
		{StateInvestigating, ActResolve, StateResolved, nil},
		{StateResolved, ActClose, StateClosed, nil},
		{StateClosed, ActReopen, StateInvestigating, nil},
		{StateResolved, ActReopen, StateInvestigating, nil},
		{StateInvestigating, ActAck, "", ErrTransition},
		{StateNew, ActClose, "", ErrTransition},
		{StateClosed, ActResolve, "", ErrTransition},
		{StateNew, "explode", "", ErrUnknownAction},
	}
	for _, c := range cases {
		to, err := Next(c.from, c.action)
		if to != c.to || !errors.Is(err, c.err) {
			t.Errorf("%s %s: %q %v; want %q %v", c.from, c.action, to, err, c.to, c.err)
		}
	}
}

func TestParseInbound(t *testing.T) {
	t.Parallel()
	raw := "From: =?utf-8?q?Kj=C3=A6rsti?= <KJAERSTI@uni.example>\r\n" +
		"Subject: =?iso-8859-1?q?F=E5r_ikke_sendt_e-post?=\r\n" +
		"Message-ID: <a@b>\r\nIn-Reply-To: <x@y>\r\nReferences: <w@y> <x@y>\r\n" +
		"Auto-Submitted: auto-replied\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=B\r\n\r\n" +
		"--B\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Hei &amp; hallo</p>\r\n" +
		"--B\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nF=E5r ikke sendt.\r\n--B--\r\n"
	in, err := parseInbound(strings.NewReader(raw), 0)
	if err != nil {
		t.Fatal(err)
	}
	if in.fromName != "Kjærsti" || in.fromAddr != "kjaersti@uni.example" || in.subject != "Får ikke sendt e-post" ||
		in.messageID != "a@b" || strings.Join(in.refs, " ") != "x@y w@y x@y" || !in.auto || in.body != "Får ikke sendt." {
		t.Fatalf("%+v", in)
	}
	if got := newText("New info.\n\nOn Tue, 24 Nov 2026, feil@uni.example wrote:\n> old\n"); got != "New info." {
		t.Fatalf("newText %q", got)
	}
	if subjectTag.FindStringSubmatch("Re: [#42] Mottatt: x")[1] != "42" {
		t.Fatal("subject tag")
	}
}

func FuzzParseInbound(f *testing.F) {
	f.Add("From: a@b\r\nSubject: x [#1]\r\n\r\nbody")
	f.Add("Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\r\n--x--")
	f.Fuzz(func(t *testing.T, raw string) {
		in, err := parseInbound(strings.NewReader(raw), 0)
		if err == nil && len(in.body) > 2*maxBody {
			t.Fatalf("body of %d bytes", len(in.body))
		}
		_ = newText(in.body)
	})
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	c := DefaultConfig()
	c.DefaultSeverity, c.IntakeService, c.Language = "urgent", "fax", "de"
	err := c.Validate()
	for _, want := range []string{`default_severity: "urgent"`, `intake_service: "fax"`, `language: "de"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v lacks %s", err, want)
		}
	}
}
