package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/scheduler"
	"github.com/uni-mail/postvakt/internal/server"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/store/oncallstore"
	"github.com/uni-mail/postvakt/oncall/team"
	"github.com/uni-mail/postvakt/reports"
)

// ReportJob is the name of the scheduled monthly report job.
const ReportJob = "monthly_report"

// reportSource is the report's data: the database, plus the on-call shifts
// computed from the rota (configuration and its stored changes) and the
// members' names.
type reportSource struct {
	*storage.DB
	team *team.Team
}

// OnCall adds the shifts of the default rota to the pages from the
// database and shows members by name.
func (s reportSource) OnCall(ctx context.Context, from, to time.Time) (reports.OnCall, error) {
	oc, err := s.DB.OnCall(ctx, from, to)
	if err != nil || s.team == nil {
		return oc, err
	}
	shifts, err := s.team.Schedule(ctx, s.team.DefaultRota(), from, to)
	if err != nil {
		return oc, fmt.Errorf("on-call shifts: %w", err)
	}
	name := func(id string) string {
		if m, ok := s.team.Member(id); ok && m.Name != "" {
			return m.Name
		}
		return id
	}
	for _, sh := range shifts {
		oc.Shifts = append(oc.Shifts, reports.Shift{Member: name(sh.Member), Start: sh.Start, End: sh.End})
	}
	for i := range oc.Pages {
		oc.Pages[i].Member = name(oc.Pages[i].Member)
	}
	return oc, nil
}

// NewReportService returns the report service over db with the
// configuration's sources, archive and SMTP sender. The CLI uses it too.
func NewReportService(cfg *config.Config, db *storage.DB, logger *slog.Logger, node string, now func() time.Time) (*reports.Service, error) {
	src := reportSource{DB: db}
	if cfg.Oncall.Enabled() {
		tm, _, err := cfg.Oncall.Compile(oncallstore.New(db))
		if err != nil {
			return nil, fmt.Errorf("reports: on-call rota: %w", err)
		}
		src.team = tm
	}
	host, _ := os.Hostname()
	return &reports.Service{
		Config: cfg.Reports, Source: src, Archive: db,
		Sender: &reports.SMTPSender{Config: cfg.Reports.Mail, HelloName: host},
		Logger: logger.With("capability", "reports"), Now: now, Node: node,
	}, nil
}

// setupReports wires the monthly report: the scheduled job that generates,
// archives and e-mails it once per period, and the archive API.
func setupReports(_ context.Context, env *Env) error {
	svc, err := NewReportService(env.Config, env.DB, env.Logger, env.Node, env.Now)
	if err != nil {
		return err
	}
	mail := env.Config.Reports.Mail
	timeout := time.Duration(max(mail.Attempts, 1))*(mail.RetryDelay+5*time.Minute) + 15*time.Minute
	if err := env.Scheduler.Register(scheduler.Job{
		Name: ReportJob, Schedule: env.Config.Reports.Schedule(), Timeout: timeout, Run: svc.RunJob,
	}); err != nil {
		return err
	}
	registerReportAPI(env.Server, svc)
	// Read from the archive at scrape time, so every replica reports the
	// same: an alert can fire when a month's report has not gone out.
	env.Telemetry.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "postvakt_reports_last_sent_timestamp_seconds",
		Help: "Unix time at which the newest archived monthly report was e-mailed; 0 when none was.",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		list, err := env.DB.ListReports(ctx, 1)
		if err != nil || len(list) == 0 || list[0].SentAt.IsZero() {
			return 0
		}
		return float64(list[0].SentAt.Unix())
	}))
	return nil
}

// reportEntry is an archived report in the API, with links to its documents.
type reportEntry struct {
	reports.Archived
	Links map[string]string `json:"links"`
}

func entry(a reports.Archived) reportEntry {
	links := map[string]string{}
	for _, f := range []string{reports.FormatHTML, reports.FormatPDF, reports.FormatCSV} {
		links[f] = "/api/v1/reports/" + a.Period + "." + f
	}
	return reportEntry{Archived: a, Links: links}
}

func registerReportAPI(srv *server.Server, svc *reports.Service) {
	srv.Handle("GET /api/v1/reports", auth.RoleViewer, func(w http.ResponseWriter, r *http.Request) error {
		limit, err := server.QueryInt(r.URL.Query(), "limit", 120, 1, 1000)
		if err != nil {
			return err
		}
		list, err := svc.Archive.ListReports(r.Context(), limit)
		if err != nil {
			return err
		}
		out := make([]reportEntry, 0, len(list))
		for _, a := range list {
			out = append(out, entry(a))
		}
		server.WriteJSON(w, http.StatusOK, map[string]any{"reports": out})
		return nil
	})
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
	srv.Handle("PUT /api/v1/reports/{period}/comment", auth.RolePostmaster, func(w http.ResponseWriter, r *http.Request) error {
		var req struct {
			Comment string `json:"comment"`
		}
		if err := server.ReadJSON(r, &req); err != nil {
			return err
		}
		p, err := svc.Period(r.PathValue("period"))
		if err != nil {
			return server.BadRequest(err.Error())
		}
		actor := actorName(r)
		if err := svc.Archive.SetComment(r.Context(), p.Label, req.Comment, actor, svc.Now()); err != nil {
			return err
		}
		if err := srv.Audit(r, "report.comment", p.Label, req.Comment); err != nil {
			return err
		}
		server.WriteJSON(w, http.StatusOK, map[string]string{"period": p.Label, "comment": req.Comment})
		return nil
	})
	srv.Handle("POST /api/v1/reports", auth.RolePostmaster, func(w http.ResponseWriter, r *http.Request) error {
		var req struct {
			Period  string  `json:"period"`  // YYYY-MM; default the last completed period
			Comment *string `json:"comment"` // stored for the period when given
			Send    bool    `json:"send"`    // e-mail it to reports.mail.to
			Resend  bool    `json:"resend"`  // e-mail it again even if it was sent
		}
		if err := server.ReadJSON(r, &req); err != nil {
			return err
		}
		p, err := svc.Period(req.Period)
		if err != nil {
			return server.BadRequest(err.Error())
		}
		if !p.End.After(p.Start) || p.Start.After(svc.Now()) {
			return server.BadRequest("period " + p.Label + " has not started")
		}
		actor := actorName(r)
		if req.Comment != nil {
			if err := svc.Archive.SetComment(r.Context(), p.Label, *req.Comment, actor, svc.Now()); err != nil {
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
		server.WriteJSON(w, http.StatusCreated, map[string]any{"report": entry(a), "sent": sent})
		return nil
	})
}

func actorName(r *http.Request) string {
	if p, ok := auth.FromContext(r.Context()); ok {
		return p.Name
	}
	return "api"
}
