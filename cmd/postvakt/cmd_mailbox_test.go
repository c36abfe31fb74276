package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/engine/store"
	"github.com/uni-mail/postvakt/internal/api/engineapi"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/store/accessstore"
	"github.com/uni-mail/postvakt/internal/store/enginestore"
)

// TestMailboxExportAndList: `postvakt mailbox export ADDRESS -o FILE`
// writes the mailbox's three messages (one with body lines starting
// "From ") as mboxrd that Python's mailbox module (when python3 is
// installed) and the unquoting rule read back into the same bodies;
// `mailbox list --json` lists them newest first; both are audited; an
// unknown mailbox is refused and writes no file.
func TestMailboxExportAndList(t *testing.T) {
	t.Parallel()
	cfg := dataConfig(t, "data_dir: DATADIR\n")
	for _, args := range [][]string{{"directory", "add-domain", "uni.example"}, {"directory", "add-mailbox", "ola@uni.example"}} {
		if code, _, errOut := runCLI(t, append(args, "--config", cfg)...); code != exitOK {
			t.Fatalf("%q: %s", args, errOut)
		}
	}
	ctx := context.Background()
	db, err := storage.Open(ctx, "sqlite:"+filepath.Join(filepath.Dir(cfg), "data", "postvakt.db"), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st := enginestore.New(db)
	var mboxID int64
	if err := db.QueryRow(ctx, `SELECT id FROM engine_mailboxes WHERE address = ?`, "ola@uni.example").Scan(&mboxID); err != nil {
		t.Fatal(err)
	}
	bodies := []string{
		"From: a@ext.example\r\nSubject: one\r\n\r\nfirst\r\n",
		"From: b@ext.example\r\nSubject: two\r\n\r\nFrom the start\r\n>From quoted\r\n",
		"From: c@ext.example\r\nSubject: three\r\n\r\nthird\r\n",
	}
	at := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	for i, b := range bodies {
		if err := st.MailCommit(ctx, []*store.Message{{QueueID: "C" + string(rune('0'+i)), ReceivedAt: at.Add(time.Duration(i) * time.Hour),
			MailFrom: "s@ext.example", Body: []byte(b), BodyHash: store.Hash([]byte(b)),
			Deliveries: []store.Delivery{{Rcpt: "ola@uni.example", MailboxID: mboxID}}}}); err != nil {
			t.Fatal(err)
		}
	}

	file := filepath.Join(t.TempDir(), "ola.mbox")
	code, out, errOut := runCLI(t, "mailbox", "export", "ola@uni.example", "-o", file, "--config", cfg)
	if code != exitOK || !strings.Contains(out, "exported 3 messages") {
		t.Fatalf("export: %d %q %q", code, out, errOut)
	}
	mbox, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(mbox), "\nFrom s@ext.example ")+btoi(strings.HasPrefix(string(mbox), "From s@ext.example Tue Dec  1 08:00:00 2026\n")) != 3 ||
		!strings.Contains(string(mbox), "\n>From the start\n>>From quoted\n") {
		t.Errorf("mbox:\n%s", mbox)
	}
	if py, err := exec.LookPath("python3"); err == nil {
		script := `import mailbox, sys, re
for m in mailbox.mbox(sys.argv[1]):
    sys.stdout.write(m["Subject"] + "|" + re.sub(r"(?m)^>(>*From )", r"\1", m.get_payload()).replace("\n", "\\n") + "\n")
`
		got, err := exec.Command(py, "-c", script, file).CombinedOutput()
		if err != nil {
			t.Fatalf("python3: %v %s", err, got)
		}
		if want := "one|first\\n\ntwo|From the start\\n>From quoted\\n\nthree|third\\n\n"; string(got) != want {
			t.Errorf("python3 read %q, want %q", got, want)
		}
	} else {
		t.Log("python3 not installed: mbox checked by its quoting only")
	}

	code, out, errOut = runCLI(t, "mailbox", "list", "ola@uni.example", "--json", "--limit", "2", "--config", cfg)
	var list engineapi.MessageList
	if code != exitOK || json.Unmarshal([]byte(out), &list) != nil || len(list.Messages) != 2 || list.Messages[0].Subject != "three" ||
		list.Messages[1].From != "b@ext.example" || list.NextBefore != list.Messages[1].ID {
		t.Errorf("list: %d %s %s", code, out, errOut)
	}
	if code, out, _ := runCLI(t, "mailbox", "list", "ola@uni.example", "--config", cfg); code != exitOK || !strings.Contains(out, "three") {
		t.Errorf("list as text: %d %s", code, out)
	}

	gone := filepath.Join(t.TempDir(), "nobody.mbox")
	if code, _, _ := runCLI(t, "mailbox", "export", "nobody@uni.example", "-o", gone, "--config", cfg); code == exitOK {
		t.Error("export of an unknown mailbox succeeded")
	}
	if _, err := os.Stat(gone); err == nil {
		t.Error("a file was written for an unknown mailbox")
	}
	entries, err := accessstore.New(db).ListAudit(ctx, time.Time{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range entries {
		if e.Target == "ola@uni.example" && strings.HasPrefix(e.Actor, "cli:") {
			seen[e.Action] = true
		}
	}
	if !seen["mailbox.export"] || !seen["mailbox.list"] {
		t.Errorf("audit: %v", seen)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
