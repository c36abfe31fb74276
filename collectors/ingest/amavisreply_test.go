package ingest

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestAmavisReply: an amavis line's row says its detail, its recipient
// count and the queue IDs the filter queued the message as, in one text.
func TestAmavisReply(t *testing.T) {
	t.Parallel()
	log := "" +
		"Nov 22 10:53:48 mx amavis[27921]: (27921-05) Passed CLEAN {RelayedInternal,RelayedOutbound}, ORIGINATING LOCAL [127.0.2.14]:38509 <u.mensah@dept.uni.example> -> <nora.fernandez@bigmail.example>,<omar.tanaka@bigmail.example>,<emma.schulz@uni.example>, Queue-ID: 8A884BA147, Message-ID: <20261122105348.ab5509545c32@dept.uni.example>, mail_id: qVZ6NSpbM7gu, Hits: 2.199, size: 3473, queued_as: D9A67BA149/DBC05BA14A, 338 ms\n" +
		"Nov 22 10:54:45 mx amavis[28219]: (28219-10) Blocked SPAM {DiscardedInbound,Quarantined}, [127.0.1.11]:41569 <rafael.walsh@research-lab.example> -> <rita.haddad@uni.example>, quarantine: G/spam-G810SgcFNhYt.gz, Queue-ID: 91B03BA191, Message-ID: <20261122105409.bf65393c8c3b@research-lab.example>, mail_id: G810SgcFNhYt, Hits: 999, size: 919, 326 ms\n" +
		"Nov 22 10:55:01 mx amavis[28219]: (28219-11) Passed CLEAN {RelayedInbound}, [127.0.1.12]:41570 <a@partner.example> -> <rita.haddad@uni.example>, Queue-ID: 91B03BA192, Message-ID: <x@partner.example>, mail_id: G810SgcFNhYu, Hits: -, size: 919, queued_as: 91B03BA193, 326 ms\n" +
		"Nov 22 10:55:12 mx amavis[28218]: (28218-19) Blocked INFECTED (Eicar-Test-Signature.UNOFFICIAL) {DiscardedInbound,Quarantined}, [127.0.1.23]:47109 <petra.walsh@library-consortium.example> -> <l.romero@dept.uni.example>, quarantine: I/virus-Id2jhBhsHJYb, Queue-ID: 6EF39BA1A2, Message-ID: <20261122105345.50cb3a168817@library-consortium.example>, mail_id: Id2jhBhsHJYb, Hits: -, size: 1803, 145 ms\n" +
		"Nov 22 10:55:13 mx amavis[28218]: (28218-20) Passed BAD-HEADER (Improper use of control character) {RelayedInbound}, [127.0.1.23]:47110 <p@library-consortium.example> -> <l.romero@dept.uni.example>,<n@uni.example>, Queue-ID: 6EF39BA1A3, Message-ID: <y@library-consortium.example>, mail_id: Id2jhBhsHJYc, Hits: 1.2, size: 1803, queued_as: 6EF39BA1A4/6EF39BA1A5/6EF39BA1A6, 145 ms\n"
	f := filepath.Join(t.TempDir(), "mail.log")
	if err := os.WriteFile(f, []byte(log), 0o600); err != nil {
		t.Fatal(err)
	}
	st := &memStore{}
	if _, err := Import(context.Background(), New(Options{Store: st}), ImportOptions{Files: []string{f}}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range st.b.Rows {
		if r.Source == "amavis" {
			got = append(got, r.Reply)
		}
	}
	want := []string{"3 recipient(s); queued_as D9A67BA149/DBC05BA14A", "1 recipient(s)", "1 recipient(s); queued_as 91B03BA193",
		"Eicar-Test-Signature.UNOFFICIAL; 1 recipient(s)",
		"Improper use of control character; 2 recipient(s); queued_as 6EF39BA1A4/6EF39BA1A5/6EF39BA1A6"}
	if len(got) != len(want) {
		t.Fatalf("amavis rows' replies %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("amavis row %d: reply %q, want %q", i, got[i], want[i])
		}
	}
}
