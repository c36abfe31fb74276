package reportapi

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/server"
	"github.com/uni-mail/postvakt/reports"
)

// Report is an archived report in the API, with links to its documents
// (format → path).
type Report struct {
	reports.Archived
	Links map[string]string `json:"links"`
}

// ReportList is GET /api/v1/reports: the archive, newest first.
type ReportList struct {
	Reports []Report `json:"reports"`
}

// GenerateRequest is the body of POST /api/v1/reports.
type GenerateRequest struct {
	Period  string  `json:"period"`  // YYYY-MM; default the last completed period
	Comment *string `json:"comment"` // stored for the period when given
	Send    bool    `json:"send"`    // e-mail it to reports.mail.to
	Resend  bool    `json:"resend"`  // e-mail it again even if it was sent
}

// Generated answers POST /api/v1/reports: the archived report and whether
// this request e-mailed it.
type Generated struct {
	Report Report `json:"report"`
	Sent   bool   `json:"sent"`
}

func entry(a reports.Archived) Report {
	links := map[string]string{}
	for _, f := range []string{reports.FormatHTML, reports.FormatPDF, reports.FormatCSV} {
		links[f] = "/api/v1/reports/" + a.Period + "." + f
	}
	return Report{Archived: a, Links: links}
}

func registerReports(srv *server.Server, svc *reports.Service, now func() time.Time) {
	srv.Handle("GET /api/v1/reports", auth.RoleViewer, func(w http.ResponseWriter, r *http.Request) error {
		limit, err := server.QueryInt(r.URL.Query(), "limit", 120, 1, 1000)
		if err != nil {
			return err
		}
		list, err := svc.Archive.ListReports(r.Context(), limit)
		if err != nil {
			return err
		}
		out := ReportList{Reports: make([]Report, 0, len(list))}
		for _, a := range list {
			out.Reports = append(out.Reports, entry(a))
		}
		server.WriteJSON(w, http.StatusOK, out)
		return nil
	})
	// GET /api/v1/reports/2026-10 is the archive's entry; 2026-10.pdf (html,
	// csv) is the document.
	srv.Handle("GET /api/v1/reports/{file}", auth.RoleViewer, func(w http.ResponseWriter, r *http.Request) error {
		period, format, ok := strings.Cut(r.PathValue("file"), ".")
		if !ok {
			a, err := svc.Archive.GetReport(r.Context(), period, false)
			if errors.Is(err, reports.ErrNotArchived) {
				return server.NotFound("no report for period " + period)
			}
			if err != nil {
				return err
			}
			server.WriteJSON(w, http.StatusOK, entry(a))
			return nil
		}
		if format != reports.FormatHTML && format != reports.FormatPDF && format != reports.FormatCSV {
			return server.BadRequest("format must be html, pdf or csv")
		}
		a, err := svc.Archive.GetReport(r.Context(), period, true)
		if errors.Is(err, reports.ErrNotArchived) {
			return server.NotFound("no report for period " + period)
		}
		if err != nil {
			return err
		}
		body := map[string][]byte{reports.FormatHTML: a.HTML, reports.FormatPDF: a.PDF, reports.FormatCSV: a.CSV}[format]
		w.Header().Set("Content-Type", reports.ContentType(format))
		disp := "inline"
		if format != reports.FormatHTML {
			disp = "attachment"
		}
		w.Header().Set("Content-Disposition", fmt.Sprintf("%s; filename=%q", disp, reports.FileName(period, format)))
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Header().Set("Last-Modified", a.GeneratedAt.UTC().Format(http.TimeFormat))
		// The HTML is self-contained: nothing else may load with it.
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:")
		_, err = w.Write(body)
		return err
	})
	srv.Handle("POST /api/v1/reports", auth.RolePostmaster, func(w http.ResponseWriter, r *http.Request) error {
		var req GenerateRequest
		if err := server.ReadJSON(r, &req); err != nil {
			return err
		}
		p, err := svc.Period(req.Period)
		if err != nil {
			return server.BadRequest(err.Error())
		}
		if !p.End.After(p.Start) || p.Start.After(now()) {
			return server.BadRequest("period " + p.Label + " has not started")
		}
		actor := actorName(r)
		if req.Comment != nil {
			if err := svc.Archive.SetComment(r.Context(), p.Label, *req.Comment, actor, now()); err != nil {
				return err
			}
		}
		g, err := svc.Generate(r.Context(), p, reports.GenerateOptions{})
		if err != nil {
			return err
		}
		if _, err := svc.Store(r.Context(), g, actor, true); err != nil {
			return err
		}
		if err := srv.Audit(r, "report.generate", p.Label, "pdf_engine="+g.PDFEngine); err != nil {
			return err
		}
		sent := false
		if req.Send || req.Resend {
			if sent, err = svc.Deliver(r.Context(), p, req.Resend); err != nil {
				return &server.Error{Status: http.StatusBadGateway, Code: "send_failed", Message: "report archived, sending failed: " + err.Error()}
			}
			if sent {
				if err := srv.Audit(r, "report.send", p.Label, svc.Config.Mail.To); err != nil {
					return err
				}
			}
		}
		a, err := svc.Archive.GetReport(r.Context(), p.Label, false)
		if err != nil {
			return err
		}
		server.WriteJSON(w, http.StatusCreated, Generated{Report: entry(a), Sent: sent})
		return nil
	})
}
