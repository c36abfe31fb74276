package engineapi_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/engine/quarantine"
	"github.com/uni-mail/postvakt/engine/queue"
	"github.com/uni-mail/postvakt/internal/api/engineapi"
	"github.com/uni-mail/postvakt/internal/auth"
)

// TestQuarantineAPI checks the quarantine endpoints: postmaster only,
// list, show, release into the relay queue, delete.
func TestQuarantineAPI(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	viewer, postmaster := auth.RoleViewer, auth.RolePostmaster
	ctx := context.Background()
	id, err := f.st.QuarantineAdd(ctx, &quarantine.Item{QueueID: "QAPI", At: time.Now(), Reason: quarantine.ReasonVirus, Detail: "Eicar-Test-Signature",
		MailFrom: "x@ext.example", Rcpts: []string{"someone@remote.example"}, Subject: "invoice", Body: []byte("Subject: invoice\r\n\r\nbody\r\n")})
	if err != nil {
		t.Fatal(err)
	}
	base := "/api/v1/quarantine"
	if code := f.call(t, "GET", base, viewer, nil, nil); code != http.StatusForbidden {
		t.Fatalf("viewer: %d", code)
	}
	var list struct{ Items []quarantine.Item }
	if code := f.call(t, "GET", base+"?reason=virus", postmaster, nil, &list); code != http.StatusOK || len(list.Items) != 1 || list.Items[0].ID != id {
		t.Fatalf("list: %d %+v", code, list)
	}
	var it quarantine.Item
	if code := f.call(t, "GET", fmt.Sprintf("%s/%d", base, id), postmaster, nil, &it); code != http.StatusOK || string(it.Body) != "Subject: invoice\r\n\r\nbody\r\n" {
		t.Fatalf("show: %d %+v", code, it)
	}
	var rel struct{ Queued int }
	if code := f.call(t, "POST", fmt.Sprintf("%s/%d/release", base, id), postmaster, nil, &rel); code != http.StatusOK || rel.Queued != 1 {
		t.Fatalf("release: %d %+v", code, rel)
	}
	if es, _ := f.st.QueueList(ctx, queue.Filter{QueueID: "QAPI"}); len(es) != 1 || es[0].Target != "someone@remote.example" {
		t.Fatalf("queue after release: %+v", es)
	}
	if code := f.call(t, "DELETE", fmt.Sprintf("%s/%d", base, id), postmaster, nil, nil); code != http.StatusNotFound {
		t.Fatalf("delete released: %d", code)
	}
	if code := f.call(t, "GET", base+"/abc", postmaster, nil, nil); code != http.StatusBadRequest {
		t.Fatalf("bad id: %d", code)
	}
}

// TestQuarantineJSON pins the JSON of the quarantine's responses and
// errors, the release to local mailboxes through the directory, and the
// audit of releases and deletions.
func TestQuarantineJSON(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := t.Context()
	pm := auth.RolePostmaster
	if err := f.dir.AddDomain(ctx, "uni.example"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.dir.AddMailbox(ctx, directory.NewMailbox{Address: "ola@uni.example"}); err != nil {
		t.Fatal(err)
	}
	if err := f.dir.AddAlias(ctx, "it@uni.example", directory.KindList, []string{"ola@uni.example", "kari@remote.example"}); err != nil {
		t.Fatal(err)
	}
	add := func(qid string, rcpts ...string) int64 {
		id, err := f.st.QuarantineAdd(ctx, &quarantine.Item{QueueID: qid, At: testTime, Reason: quarantine.ReasonSpam, Detail: "score 12",
			MailFrom: "x@ext.example", Rcpts: rcpts, Subject: "win", Body: []byte("Subject: win\r\n\r\nx\r\n")})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	if code, b := f.do(t, "GET", "/api/v1/quarantine", pm, nil); code != http.StatusOK || compact(b) != `{"items":[]}` {
		t.Fatalf("empty list: %d %s", code, b)
	}
	toList, toNobody := add("QL", "it@uni.example"), add("QN", "gone@uni.example")

	item := "AuthUser Body ClientIP Detail HeaderFrom ID Listener MailFrom MessageID Node QueueID Reason Rcpts Size Subject At"
	item = sortedWords(item)
	var list struct{ Items []map[string]any }
	if code := f.call(t, "GET", "/api/v1/quarantine?recipient=it@uni.example", pm, nil, &list); code != http.StatusOK || len(list.Items) != 1 ||
		keysOf(list.Items[0]) != item || list.Items[0]["Body"] != nil || list.Items[0]["QueueID"] != "QL" {
		t.Fatalf("list: %d %+v", code, list)
	}
	code, b := f.do(t, "GET", fmt.Sprintf("/api/v1/quarantine/%d", toList), pm, nil)
	if code != http.StatusOK || keys(t, b) != item {
		t.Fatalf("show: %d %s", code, b)
	}
	for _, c := range []struct {
		method, path string
		code         int
		errCode      string
	}{
		{"GET", "/api/v1/quarantine/999", 404, "not_found"},
		{"GET", "/api/v1/quarantine/x", 400, "bad_request"},
		{"POST", "/api/v1/quarantine/999/release", 404, "not_found"},
		{"POST", fmt.Sprintf("/api/v1/quarantine/%d/release", toNobody), 409, "conflict"}, // no one to deliver to: kept
		{"DELETE", "/api/v1/quarantine/999", 404, "not_found"},
	} {
		code, b := f.do(t, c.method, c.path, pm, nil)
		if code != c.code || errorCode(t, b) != c.errCode {
			t.Errorf("%s %s: %d %s, want %d %s", c.method, c.path, code, b, c.code, c.errCode)
		}
	}
	code, b = f.do(t, "POST", fmt.Sprintf("/api/v1/quarantine/%d/release", toList), pm, nil)
	if code != http.StatusOK || compact(b) != `{"queued":2}` {
		t.Fatalf("release: %d %s", code, b)
	}
	ola, _ := f.dir.Mailbox(ctx, "ola@uni.example")
	if msgs, _ := f.st.MailMessages(ctx, ola.ID); len(msgs) != 1 || msgs[0].QueueID != "QL" {
		t.Errorf("ola's mailbox after release: %+v", msgs)
	}
	if es, _ := f.st.QueueList(ctx, queue.Filter{QueueID: "QL"}); len(es) != 1 || es[0].Target != "kari@remote.example" || es[0].Rcpt != "it@uni.example" {
		t.Errorf("queue after release: %+v", es)
	}
	if _, err := f.st.QuarantineGet(ctx, toNobody); err != nil {
		t.Errorf("an item no one could receive was not kept: %v", err)
	}
	if code, b := f.do(t, "DELETE", fmt.Sprintf("/api/v1/quarantine/%d", toNobody), pm, nil); code != http.StatusNoContent || len(b) != 0 {
		t.Errorf("delete: %d %s", code, b)
	}
	var audit struct {
		Entries []auth.AuditEntry `json:"entries"`
	}
	f.call(t, "GET", "/api/v1/audit", auth.RoleAdmin, nil, &audit)
	got := map[string]string{}
	for _, e := range audit.Entries {
		got[e.Action] = e.Target + " " + e.Detail
	}
	if got["quarantine.release"] != fmt.Sprintf("%d 2 recipients queued", toList) || got["quarantine.delete"] != fmt.Sprintf("%d ", toNobody) {
		t.Errorf("audit: %v", got)
	}
	var rel engineapi.Released
	if code := f.call(t, "POST", fmt.Sprintf("/api/v1/quarantine/%d/release", toList), pm, nil, &rel); code != http.StatusNotFound {
		t.Errorf("released twice: %d %+v", code, rel)
	}
}
