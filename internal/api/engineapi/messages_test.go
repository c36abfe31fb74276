package engineapi_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/engine/store"
	"github.com/uni-mail/postvakt/internal/api/engineapi"
	"github.com/uni-mail/postvakt/internal/auth"
)

// deliver commits body to the mailbox of address as the engine does
// (group committer's MailCommit: the body, the transaction row, the
// mailbox row and its quota usage).
func deliver(t *testing.T, f *fixture, address, qid, sender string, at time.Time, body string) {
	t.Helper()
	m, err := f.dir.Mailbox(context.Background(), address)
	if err != nil {
		t.Fatal(err)
	}
	b := []byte(body)
	if err := f.st.MailCommit(context.Background(), []*store.Message{{QueueID: qid, ReceivedAt: at, MailFrom: sender, Rcpts: []string{address},
		Body: b, BodyHash: store.Hash(b), Deliveries: []store.Delivery{{Rcpt: address, MailboxID: m.ID}}}}); err != nil {
		t.Fatal(err)
	}
}

func newMailboxFixture(t *testing.T) *fixture {
	t.Helper()
	f := newFixture(t, nil)
	ctx := context.Background()
	if err := f.dir.AddDomain(ctx, "uni.example"); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"ola@uni.example", "kari@uni.example"} {
		if _, err := f.dir.AddMailbox(ctx, directory.NewMailbox{Address: a}); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// TestMailboxMessagesAPI: the list pages newest first with headers only
// and masks subjects for helpdesk (collectors.trace.show_subjects_from
// defaults to postmaster); one message's header block; the raw message and
// deletion for postmasters only; bad input answered 400/404 and changing
// nothing; every access audited with the mailbox as target.
func TestMailboxMessagesAPI(t *testing.T) {
	t.Parallel()
	f := newMailboxFixture(t)
	hd, pm := auth.RoleHelpdesk, auth.RolePostmaster
	for i := range 3 {
		deliver(t, f, "ola@uni.example", fmt.Sprintf("Q%d", i), "x@ext.example", testTime.Add(time.Duration(i)*time.Minute),
			fmt.Sprintf("From: X <x@ext.example>\r\nTo: ola@uni.example\r\nSubject: =?utf-8?q?l=C3=B8nn_%d?=\r\n"+
				"Message-ID: <m%d@ext.example>\r\n\r\nsecret body %d\r\n", i, i, i))
	}
	deliver(t, f, "kari@uni.example", "QK", "y@ext.example", testTime, "Subject: kari\r\n\r\nk\r\n")
	base := "/api/v1/directory/mailboxes/ola@uni.example"

	var page engineapi.MessageList
	if code := f.call(t, "GET", base+"/messages?limit=2", pm, nil, &page); code != http.StatusOK || len(page.Messages) != 2 {
		t.Fatalf("postmaster list: %d %+v", code, page)
	}
	first := page.Messages[0]
	if first.Subject != "lønn 2" || first.From != "X <x@ext.example>" || first.To != "ola@uni.example" || first.MessageID != "<m2@ext.example>" ||
		!first.ReceivedAt.Equal(testTime.Add(2*time.Minute)) || page.NextBefore != page.Messages[1].ID {
		t.Errorf("first message: %+v next %d", first, page.NextBefore)
	}
	var rest engineapi.MessageList
	if code := f.call(t, "GET", fmt.Sprintf("%s/messages?limit=2&before=%d", base, page.NextBefore), pm, nil, &rest); code != http.StatusOK ||
		len(rest.Messages) != 1 || rest.Messages[0].MessageID != "<m0@ext.example>" || rest.NextBefore != 0 {
		t.Fatalf("second page: %d %+v", code, rest)
	}
	code, b := f.do(t, "GET", base+"/messages", hd, nil)
	if code != http.StatusOK || strings.Contains(string(b), "lønn") || strings.Contains(string(b), "secret body") {
		t.Fatalf("helpdesk list: %d %s", code, b)
	}
	var hpage engineapi.MessageList
	f.call(t, "GET", base+"/messages", hd, nil, &hpage)
	if len(hpage.Messages) != 3 || hpage.Messages[0].Subject != "(hidden)" || hpage.Messages[0].From != "X <x@ext.example>" {
		t.Errorf("helpdesk list: %+v", hpage)
	}
	if keys(t, b) != "address messages" {
		t.Errorf("list keys: %s", keys(t, b))
	}

	var head engineapi.MessageHeaders
	path := fmt.Sprintf("%s/messages/%d", base, first.ID)
	if code := f.call(t, "GET", path, hd, nil, &head); code != http.StatusOK || head.Subject != "(hidden)" ||
		store.Get(head.Headers, "Subject") != "(hidden)" || store.Get(head.Headers, "Message-ID") != "<m2@ext.example>" || len(head.Headers) != 4 {
		t.Fatalf("helpdesk headers: %d %+v", code, head)
	}
	if code, b := f.do(t, "GET", path, hd, nil); strings.Contains(string(b), "secret body") || code != http.StatusOK {
		t.Errorf("the body reached helpdesk: %s", b)
	}
	if code, b := f.do(t, "GET", path+"/raw", hd, nil); code != http.StatusForbidden {
		t.Errorf("helpdesk raw: %d %s", code, b)
	}

	req, _ := http.NewRequest("GET", f.base+path+"/raw", nil)
	req.Header.Set("Authorization", "Bearer "+f.tokens[pm])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var raw bytes.Buffer
	_, _ = raw.ReadFrom(resp.Body)
	resp.Body.Close()
	want := "From: X <x@ext.example>\r\nTo: ola@uni.example\r\nSubject: =?utf-8?q?l=C3=B8nn_2?=\r\nMessage-ID: <m2@ext.example>\r\n\r\nsecret body 2\r\n"
	if resp.StatusCode != 200 || raw.String() != want || resp.Header.Get("Content-Type") != "message/rfc822" ||
		!strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment;") {
		t.Fatalf("raw: %d %q %v", resp.StatusCode, raw.String(), resp.Header)
	}

	kari, _ := f.dir.Mailbox(context.Background(), "kari@uni.example")
	kmsgs, _ := f.st.MailMessages(context.Background(), kari.ID)
	for _, c := range []struct {
		method, path string
		code         int
		errCode      string
	}{
		{"GET", base + "/messages?limit=0", 400, "bad_request"},
		{"GET", base + "/messages?limit=201", 400, "bad_request"},
		{"GET", base + "/messages?before=x", 400, "bad_request"},
		{"GET", base + "/messages/x", 400, "bad_request"},
		{"GET", "/api/v1/directory/mailboxes/nobody@uni.example/messages", 404, "not_found"},
		{"GET", fmt.Sprintf("%s/messages/%d", base, kmsgs[0].ID), 404, "not_found"}, // kari's message through ola
		{"GET", fmt.Sprintf("%s/messages/%d/raw", base, kmsgs[0].ID), 404, "not_found"},
		{"DELETE", fmt.Sprintf("%s/messages/%d", base, kmsgs[0].ID), 404, "not_found"},
	} {
		code, b := f.do(t, c.method, c.path, pm, nil)
		if code != c.code || errorCode(t, b) != c.errCode {
			t.Errorf("%s %s: %d %s, want %d %s", c.method, c.path, code, b, c.code, c.errCode)
		}
	}
	if k, _ := f.dir.Mailbox(context.Background(), "kari@uni.example"); k.UsedBytes != kari.UsedBytes {
		t.Errorf("kari's usage changed: %d", k.UsedBytes)
	}

	before, _ := f.dir.Mailbox(context.Background(), "ola@uni.example")
	if code, b := f.do(t, "DELETE", path, hd, nil); code != http.StatusForbidden {
		t.Errorf("helpdesk delete: %d %s", code, b)
	}
	if code, b := f.do(t, "DELETE", path, pm, nil); code != http.StatusNoContent {
		t.Fatalf("delete: %d %s", code, b)
	}
	after, _ := f.dir.Mailbox(context.Background(), "ola@uni.example")
	if after.UsedBytes != before.UsedBytes-int64(len(want)) {
		t.Errorf("used %d after deleting %d bytes, was %d", after.UsedBytes, len(want), before.UsedBytes)
	}
	if code, _ := f.do(t, "DELETE", path, pm, nil); code != http.StatusNotFound {
		t.Errorf("second delete: %d", code)
	}
	if code, _ := f.do(t, "GET", path, pm, nil); code != http.StatusNotFound {
		t.Errorf("deleted message still read: %d", code)
	}

	var audit struct {
		Entries []auth.AuditEntry `json:"entries"`
	}
	f.call(t, "GET", "/api/v1/audit", auth.RoleAdmin, nil, &audit)
	got := map[string]int{}
	for _, e := range audit.Entries {
		if strings.HasPrefix(e.Action, "mailbox.") {
			if e.Target != "ola@uni.example" {
				t.Errorf("audit %s target %q", e.Action, e.Target)
			}
			got[e.Action+" "+strings.TrimPrefix(e.Actor, "token:")]++
		}
	}
	for _, w := range []string{"mailbox.list postmaster", "mailbox.list helpdesk", "mailbox.read_headers helpdesk", "mailbox.download postmaster", "mailbox.delete postmaster"} {
		if got[w] == 0 {
			t.Errorf("no audit entry %q: %v", w, got)
		}
	}
	if got["mailbox.download helpdesk"] != 0 || got["mailbox.delete helpdesk"] != 0 {
		t.Errorf("refused accesses audited as done: %v", got)
	}
}

// readMboxrd parses an mboxrd file: messages start at "From " lines,
// ">From "-quoted lines (any number of '>') lose one '>', and the empty
// line before the next From_ line (or the end) ends a message. It returns
// the From_ lines and the messages, lines ending in LF.
func readMboxrd(t *testing.T, b []byte) (froms []string, msgs []string) {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(b))
	var cur []string
	flush := func() {
		if len(cur) > 0 && cur[len(cur)-1] == "" {
			cur = cur[:len(cur)-1]
		} else if froms != nil {
			t.Errorf("message %d does not end with an empty line", len(froms))
		}
		msgs = append(msgs, strings.Join(cur, "\n")+"\n")
	}
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "From ") {
			if froms != nil {
				flush()
			}
			froms, cur = append(froms, line), nil
			continue
		}
		if froms == nil {
			t.Fatalf("text before the first From_ line: %q", line)
		}
		if strings.HasPrefix(strings.TrimLeft(line, ">"), "From ") {
			line = line[1:]
		}
		cur = append(cur, line)
	}
	if froms != nil {
		flush()
	}
	return froms, msgs
}

// TestMailboxExportMbox: a mailbox of three messages, one with body lines
// starting "From " and ">From ", exports as an mboxrd download that parses
// back (by our reader and, when python3 is installed, by Python's
// mailbox.mbox) into the three messages with identical bodies, oldest
// first, each after a From_ line with its envelope sender and arrival; the
// export is audited.
func TestMailboxExportMbox(t *testing.T) {
	t.Parallel()
	f := newMailboxFixture(t)
	bodies := []string{
		"From: a@ext.example\r\nSubject: one\r\n\r\nfirst\r\n",
		"From: b@ext.example\r\nSubject: two\r\n\r\nFrom here on it is quoted\r\n>From the quoted one too\r\nFrom\r\n\r\nend\r\n",
		"From: c@ext.example\r\nSubject: three\r\n\r\nno final newline",
	}
	senders := []string{"a@ext.example", "", "c@ext.example"}
	for i, b := range bodies {
		deliver(t, f, "ola@uni.example", fmt.Sprintf("E%d", i), senders[i], testTime.Add(time.Duration(i)*time.Hour), b)
	}
	deliver(t, f, "kari@uni.example", "EK", "k@ext.example", testTime, "Subject: not ola's\r\n\r\nk\r\n")
	path := "/api/v1/directory/mailboxes/ola@uni.example/export.mbox"
	if code, _ := f.do(t, "GET", path, auth.RoleHelpdesk, nil); code != http.StatusForbidden {
		t.Errorf("helpdesk export: %d", code)
	}
	req, _ := http.NewRequest("GET", f.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+f.tokens[auth.RolePostmaster])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	_, err = out.ReadFrom(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Disposition") != `attachment; filename="ola@uni.example.mbox"` ||
		resp.Header.Get("Content-Type") != "application/mbox" {
		t.Fatalf("export: %d %v %v", resp.StatusCode, resp.Header, err)
	}
	if !strings.Contains(out.String(), "\n>From here on it is quoted\n>>From the quoted one too\nFrom\n") {
		t.Errorf("not quoted as mboxrd:\n%s", out.String())
	}
	froms, msgs := readMboxrd(t, out.Bytes())
	wantFroms := []string{"From a@ext.example Mon Nov 23 09:00:00 2026", "From MAILER-DAEMON Mon Nov 23 10:00:00 2026", "From c@ext.example Mon Nov 23 11:00:00 2026"}
	if strings.Join(froms, "|") != strings.Join(wantFroms, "|") {
		t.Errorf("From_ lines %q, want %q", froms, wantFroms)
	}
	if len(msgs) != 3 {
		t.Fatalf("%d messages parsed back, want 3:\n%s", len(msgs), out.String())
	}
	for i, b := range bodies {
		want := strings.ReplaceAll(b, "\r\n", "\n")
		if !strings.HasSuffix(want, "\n") {
			want += "\n"
		}
		if msgs[i] != want {
			t.Errorf("message %d parsed back as %q, want %q", i, msgs[i], want)
		}
	}

	// Python's mailbox module reads it the same (when python3 is here).
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Log("python3 not installed: the mbox is checked by the Go reader only")
	} else {
		file := filepath.Join(t.TempDir(), "ola.mbox")
		if err := os.WriteFile(file, out.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		script := `import mailbox, sys, re
for m in mailbox.mbox(sys.argv[1]):
    body = m.get_payload()
    body = re.sub(r"(?m)^>(>*From )", r"\1", body)
    sys.stdout.write(m["Subject"] + "|" + body.replace("\n", "\\n") + "\n")
`
		got, err := exec.Command(py, "-c", script, file).CombinedOutput()
		if err != nil {
			t.Fatalf("python3 mailbox: %v\n%s", err, got)
		}
		want := "one|first\\n\ntwo|From here on it is quoted\\n>From the quoted one too\\nFrom\\n\\nend\\n\nthree|no final newline\\n\n"
		if string(got) != want {
			t.Errorf("python3 mailbox read\n%s\nwant\n%s", got, want)
		}
	}

	var audit struct {
		Entries []auth.AuditEntry `json:"entries"`
	}
	f.call(t, "GET", "/api/v1/audit", auth.RoleAdmin, nil, &audit)
	n := 0
	for _, e := range audit.Entries {
		if e.Action == "mailbox.export" && e.Target == "ola@uni.example" && e.Actor == "token:postmaster" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d export audit entries, want 1: %+v", n, audit.Entries)
	}
}
