package reportapi

import (
	"errors"
	"net/http"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/server"
	"github.com/uni-mail/postvakt/reports"
)

// SendRequest is the body of POST /api/v1/reports/{period}/send.
type SendRequest struct {
	// Resend sends a report that was sent before again; without it such a
	// report is not sent (sent false).
	Resend bool `json:"resend"`
}

// Sent answers POST /api/v1/reports/{period}/send: whether this request
// e-mailed the report, and the archived report with its sent_at.
type Sent struct {
	Sent   bool   `json:"sent"`
	Report Report `json:"report"`
}

// registerMail serves the preview of an archived report's e-mail and its
// sending, the same delivery as the scheduled job and `postvakt report
// --send` (reports.Service.Deliver): claimed once across replicas,
// recorded in the archive and the audit log.
func registerMail(srv *server.Server, svc *reports.Service) {
	period := func(r *http.Request) (reports.Period, error) {
		p, err := svc.Period(r.PathValue("period"))
		if err != nil {
			return p, server.BadRequest(err.Error())
		}
		return p, nil
	}
	srv.Handle("GET /api/v1/reports/{period}/mail", auth.RolePostmaster, func(w http.ResponseWriter, r *http.Request) error {
		p, err := period(r)
		if err != nil {
			return err
		}
		pv, err := svc.PreviewMail(r.Context(), p)
		if errors.Is(err, reports.ErrNotArchived) {
			return server.NotFound("no report archived for " + p.Label + ": generate it first")
		}
		if err != nil {
			return err
		}
		server.WriteJSON(w, http.StatusOK, pv)
		return nil
	})
	srv.Handle("POST /api/v1/reports/{period}/send", auth.RolePostmaster, func(w http.ResponseWriter, r *http.Request) error {
		p, err := period(r)
		if err != nil {
			return err
		}
		var req SendRequest
		if r.ContentLength != 0 {
			if err := server.ReadJSON(r, &req); err != nil {
				return err
			}
		}
		if _, err := svc.Archive.GetReport(r.Context(), p.Label, false); errors.Is(err, reports.ErrNotArchived) {
			return server.NotFound("no report archived for " + p.Label + ": generate it first")
		} else if err != nil {
			return err
		}
		if rcpts, err := svc.Config.Mail.Recipients(); err != nil || len(rcpts) == 0 {
			return server.Conflict("reports.mail.to is empty: set it in the configuration to send the report")
		}
		sent, err := svc.Deliver(r.Context(), p, req.Resend)
		if err != nil {
			return &server.Error{Status: http.StatusBadGateway, Code: "send_failed", Message: "sending failed: " + err.Error()}
		}
		if sent {
			if err := srv.Audit(r, "report.send", p.Label, svc.Config.Mail.To); err != nil {
				return err
			}
		}
		a, err := svc.Archive.GetReport(r.Context(), p.Label, false)
		if err != nil {
			return err
		}
		server.WriteJSON(w, http.StatusOK, Sent{Sent: sent, Report: entry(a)})
		return nil
	})
}
