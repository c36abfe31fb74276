package reportapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/uni-mail/postvakt/internal/api/reportapi"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/reports"
)

// TestReportMailAPI: the preview of an archived report's e-mail sends
// nothing; send e-mails it once, a second send without resend sends
// nothing, resend sends again; a period with no report is 404; both
// routes want a postmaster.
func TestReportMailAPI(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	viewer, postmaster := a.token(t, auth.RoleViewer), a.token(t, auth.RolePostmaster)
	if code := call(t, "GET", a.base+"/2026-10/mail", postmaster, nil, nil); code != http.StatusNotFound {
		t.Fatalf("preview before generating: %d", code)
	}
	if code := call(t, "POST", a.base+"/2026-10/send", postmaster, reportapi.SendRequest{}, nil); code != http.StatusNotFound {
		t.Fatalf("send before generating: %d", code)
	}
	if code := call(t, "POST", a.base, postmaster, map[string]any{"period": "2026-10"}, nil); code != http.StatusCreated {
		t.Fatalf("generate: %d", code)
	}
	for _, p := range []string{"/2026-10/mail", "/2026-10/send"} {
		method := "GET"
		if strings.HasSuffix(p, "send") {
			method = "POST"
		}
		if code := call(t, method, a.base+p, viewer, nil, nil); code != http.StatusForbidden {
			t.Errorf("viewer %s %s: %d", method, p, code)
		}
	}
	var pv reports.MailPreview
	if code := call(t, "GET", a.base+"/2026-10/mail", postmaster, nil, &pv); code != http.StatusOK || pv.To != "styring@example.edu" ||
		pv.Subject == "" || !strings.Contains(pv.Text, "2026") || pv.Attachment != "postvakt-report-2026-10.pdf" || pv.PDFBytes == 0 || !pv.SentAt.IsZero() {
		t.Fatalf("preview: %d %+v", code, pv)
	}
	if n := len(a.smtp.Messages()); n != 0 {
		t.Fatalf("the preview sent %d", n)
	}
	for i, c := range []struct {
		resend   bool
		sent     bool
		messages int
	}{{false, true, 1}, {false, false, 1}, {true, true, 2}} {
		var out reportapi.Sent
		if code := call(t, "POST", a.base+"/2026-10/send", postmaster, reportapi.SendRequest{Resend: c.resend}, &out); code != http.StatusOK ||
			out.Sent != c.sent || out.Report.SentAt.IsZero() {
			t.Fatalf("send %d: %d %+v", i, code, out)
		}
		if n := len(a.smtp.Messages()); n != c.messages {
			t.Fatalf("send %d: %d messages, want %d", i, n, c.messages)
		}
	}
	if call(t, "GET", a.base+"/2026-10/mail", postmaster, nil, &pv); pv.SentAt.IsZero() || pv.SentTo != "styring@example.edu" {
		t.Errorf("preview after sending: %+v", pv)
	}
}
