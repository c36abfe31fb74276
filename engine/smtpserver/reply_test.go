package smtpserver

import (
	"testing"
)

// Every reason has a reply whose RFC 3463 class matches its RFC 5321 code
// class, and Reply returns a fresh value each time.
func TestReplies(t *testing.T) {
	t.Parallel()
	reasons := Reasons()
	if len(reasons) != len(replies) {
		t.Fatalf("Reasons() lists %d, table has %d", len(reasons), len(replies))
	}
	for _, r := range reasons {
		rep := Reply(Reason(r))
		if rep.Code < 400 || rep.Code > 599 || rep.EnhancedCode[0] != rep.Code/100 || rep.Message == "" {
			t.Errorf("%s: %d %v %q", r, rep.Code, rep.EnhancedCode, rep.Message)
		}
		if Reply(Reason(r)) == rep {
			t.Errorf("%s: Reply is not fresh", r)
		}
	}
	if got := Reply("no such reason"); got.Code != 451 {
		t.Errorf("unknown reason = %d", got.Code)
	}
}

func TestLoginServer(t *testing.T) {
	t.Parallel()
	var gotU, gotP string
	l := &loginServer{auth: func(u, p string) error { gotU, gotP = u, p; return nil }}
	if ch, done, err := l.Next(nil); string(ch) != "Username:" || done || err != nil {
		t.Fatalf("step 1: %q %v %v", ch, done, err)
	}
	if ch, done, err := l.Next([]byte("anna")); string(ch) != "Password:" || done || err != nil {
		t.Fatalf("step 2: %q %v %v", ch, done, err)
	}
	if _, done, err := l.Next([]byte("pw")); !done || err != nil || gotU != "anna" || gotP != "pw" {
		t.Fatalf("step 3: %v %v %q %q", done, err, gotU, gotP)
	}
	// Initial response carries the user name.
	l = &loginServer{auth: func(u, p string) error { gotU = u; return nil }}
	if ch, _, _ := l.Next([]byte("bert")); string(ch) != "Password:" {
		t.Fatalf("with initial response: %q", ch)
	}
}
