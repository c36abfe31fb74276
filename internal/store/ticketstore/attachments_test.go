package ticketstore_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/ticketstore"
	"github.com/uni-mail/postvakt/oncall/tickets"
)

// eicarLike is what the test scanner calls infected (clamd itself is
// tested in engine/clamd against a real daemon).
const eicarLike = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR"

type byteScanner struct{}

func (byteScanner) ScanAttachment(_ context.Context, b []byte) (bool, string, error) {
	if bytes.Contains(b, []byte(eicarLike)) {
		return true, "Eicar-Test-Signature", nil
	}
	return false, "", nil
}

// TestConformanceTicketAttachments: a report with attachments keeps each
// within tickets.attachment_max_bytes, scanned, with its checksum; one too
// large, one infected and one past the ticket's total are noted on the
// timeline and not kept; the data comes back byte for byte.
func TestConformanceTicketAttachments(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		e := newTicketEnv(t, db, lon(2026, 11, 24, 10, 0), nil, func(o *tickets.Options) {
			o.Attachments, o.Scanner = ticketstore.New(db), byteScanner{}
			o.Config.AttachmentMaxBytes, o.Config.AttachmentsMaxBytes = 100, 150
		})
		part := func(name, body string) string {
			return "--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"" + name + "\"\r\n\r\n" + body + "\r\n"
		}
		raw := "From: kari@uni.example\r\nSubject: Outlook error\r\nMessage-ID: <att-1@uni.example>\r\nMIME-Version: 1.0\r\n" +
			"Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nScreenshot attached.\r\n" +
			part("../../etc/screen.png", strings.Repeat("p", 80)) + part("big.log", strings.Repeat("x", 101)) +
			part("virus.com", eicarLike) + part("second.txt", strings.Repeat("s", 80)) + "--b--\r\n"
		id, created, err := e.svc.Intake(ctx, strings.NewReader(raw))
		if err != nil || !created {
			t.Fatal(err)
		}
		tid, _ := tickets.ParseID(id)
		list, err := e.svc.Attachments(ctx, tid)
		if err != nil || len(list) != 1 {
			t.Fatalf("%v %+v", err, list)
		}
		a := list[0]
		if a.Name != "screen.png" || a.Size != 80 || a.Scan != "clean" || a.From != "kari@uni.example" || len(a.SHA256) != 64 {
			t.Fatalf("%+v", a)
		}
		got, data, err := e.svc.Attachment(ctx, a.ID)
		if err != nil || string(data) != strings.Repeat("p", 80) || got.TicketID != tid {
			t.Fatalf("%v %q", err, data)
		}
		tl, _ := e.svc.Timeline(ctx, tid)
		var note string
		for _, ev := range tl {
			if strings.Contains(ev.Body, "attachment") {
				note = ev.Body
			}
		}
		for _, want := range []string{"screen.png (80 bytes, clean)", "big.log (101 bytes or more) not kept", "virus.com not kept: infected (Eicar-Test-Signature)",
			"second.txt (80 bytes) not kept"} {
			if !strings.Contains(note, want) {
				t.Errorf("timeline lacks %q:\n%s", want, note)
			}
		}
		if _, _, err := e.svc.Attachment(ctx, 999); err == nil {
			t.Fatal("a missing attachment")
		}
	})
}
