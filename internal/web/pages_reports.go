package web

import (
	"net/http"
	"net/url"

	"github.com/uni-mail/postvakt/internal/api/reportapi"
	"github.com/uni-mail/postvakt/reports"
)

// reportSendView is the preview of a report's e-mail before it is sent.
type reportSendView struct {
	Preview reports.MailPreview
}

// reportSendPage shows the e-mail of an archived report as it will be
// sent, with the button that sends it (or sends it again).
func (u *UI) reportSendPage(w http.ResponseWriter, r *http.Request, v *view) error {
	var pv reports.MailPreview
	if err := u.call(r, http.MethodGet, "/api/v1/reports/"+url.PathEscape(r.PathValue("period"))+"/mail", nil, &pv); err != nil {
		return err
	}
	v.Title, v.Nav = "Send the report "+pv.Period, "reports"
	v.Data = reportSendView{Preview: pv}
	u.render(w, http.StatusOK, "report_send", v)
	return nil
}

// sendReport e-mails the report through the API (the same delivery as
// the scheduled job and `postvakt report --send`); resend=on sends a
// report that was sent before again.
func (u *UI) sendReport(w http.ResponseWriter, r *http.Request, v *view) error {
	var out reportapi.Sent
	body := reportapi.SendRequest{Resend: r.PostFormValue("resend") == "on"}
	if err := u.call(r, http.MethodPost, "/api/v1/reports/"+url.PathEscape(r.PathValue("period"))+"/send", body, &out); err != nil {
		return err
	}
	ok := "reportsent"
	if !out.Sent {
		ok = "notsent"
	}
	redirect(w, r, "/reports", ok)
	return nil
}
