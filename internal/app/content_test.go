package app

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/engine/quarantine"
	"github.com/uni-mail/postvakt/engine/queue"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/storage"
)

// TestQuarantineAPI runs the service with content scanning on and checks
// the quarantine endpoints: postmaster only, list, show, release into the
// relay queue, delete.
func TestQuarantineAPI(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	cfg.SMTP.Enabled = false
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Scheduler.Enabled = false
	cfg.Content.Enabled = true
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	app := startApp(t, cfg, time.Now)
	viewer, postmaster := apiToken(t, cfg, auth.RoleViewer), apiToken(t, cfg, auth.RolePostmaster)
	ctx := context.Background()
	db, err := storage.Open(ctx, cfg.DatabaseURL(), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	id, err := db.QuarantineAdd(ctx, &quarantine.Item{QueueID: "QAPI", At: time.Now(), Reason: quarantine.ReasonVirus, Detail: "Eicar-Test-Signature",
		MailFrom: "x@ext.example", Rcpts: []string{"someone@remote.example"}, Subject: "invoice", Body: []byte("Subject: invoice\r\n\r\nbody\r\n")})
	if err != nil {
		t.Fatal(err)
	}
	base := app.base + "/api/v1/quarantine"
	if code := call(t, "GET", base, viewer, nil, nil); code != http.StatusForbidden {
		t.Fatalf("viewer: %d", code)
	}
	var list struct{ Items []quarantine.Item }
	if code := call(t, "GET", base+"?reason=virus", postmaster, nil, &list); code != http.StatusOK || len(list.Items) != 1 || list.Items[0].ID != id {
		t.Fatalf("list: %d %+v", code, list)
	}
	var it quarantine.Item
	if code := call(t, "GET", fmt.Sprintf("%s/%d", base, id), postmaster, nil, &it); code != http.StatusOK || string(it.Body) != "Subject: invoice\r\n\r\nbody\r\n" {
		t.Fatalf("show: %d %+v", code, it)
	}
	var rel struct{ Queued int }
	if code := call(t, "POST", fmt.Sprintf("%s/%d/release", base, id), postmaster, nil, &rel); code != http.StatusOK || rel.Queued != 1 {
		t.Fatalf("release: %d %+v", code, rel)
	}
	if es, _ := db.QueueList(ctx, queue.Filter{QueueID: "QAPI"}); len(es) != 1 || es[0].Target != "someone@remote.example" {
		t.Fatalf("queue after release: %+v", es)
	}
	if code := call(t, "DELETE", fmt.Sprintf("%s/%d", base, id), postmaster, nil, nil); code != http.StatusNotFound {
		t.Fatalf("delete released: %d", code)
	}
	if code := call(t, "GET", base+"/abc", postmaster, nil, nil); code != http.StatusBadRequest {
		t.Fatalf("bad id: %d", code)
	}
}
