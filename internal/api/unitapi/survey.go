package unitapi

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/config/timezone"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/server"
	"github.com/uni-mail/postvakt/oncall/units"
)

// The survey: customer service makes one-time links and may enter a
// survey itself; the unit fills it in through the link — the JSON routes
// at /api/v1/survey?t=TOKEN and the HTML form at /survey?t=TOKEN, with
// the token as the only credential, single use, expiring, rate-limited
// per client address. The token travels in the query string, which the
// request log does not record.
func (a *API) registerSurvey() {
	a.srv.Handle("POST /api/v1/units/{id}/survey-links", auth.RoleHelpdesk, a.makeLink)
	a.srv.Handle("POST /api/v1/units/{id}/survey", auth.RoleHelpdesk, a.submitSurvey)
	a.srv.HandlePublic("GET /api/v1/survey", a.limited(a.linkInfo))
	a.srv.HandlePublic("POST /api/v1/survey", a.limited(a.submitLink))
	a.srv.Mount("GET /survey", a.form())
	a.srv.Mount("POST /survey", a.form())
}

func (a *API) limited(h server.HandlerFunc) server.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Referrer-Policy", "no-referrer")
		if !a.limiter.allow(r) {
			w.Header().Set("Retry-After", "60")
			return errRate
		}
		return h(w, r)
	}
}

// LinkRequest makes a survey link; SendTo, when set, is mailed the link.
type LinkRequest struct {
	SendTo string `json:"send_to"`
}

func (a *API) makeLink(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var req LinkRequest
	if err := server.ReadJSON(r, &req); err != nil {
		return err
	}
	l, err := a.o.Units.IssueLink(r.Context(), id, req.SendTo, actor(r))
	if err != nil {
		return apiError(err)
	}
	if err := a.srv.Audit(r, "unit.survey_link", fmt.Sprintf("unit:%d", id), fmt.Sprintf("link %d", l.ID)); err != nil {
		return err
	}
	server.WriteJSON(w, http.StatusCreated, l)
	return nil
}

func (a *API) submitSurvey(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var sv units.Survey
	if err := server.ReadJSON(r, &sv); err != nil {
		return err
	}
	u, err := a.o.Units.Submit(r.Context(), id, sv, actor(r))
	if err != nil {
		return apiError(err)
	}
	if err := a.srv.Audit(r, "unit.survey", fmt.Sprintf("unit:%d", id), "entered"); err != nil {
		return err
	}
	server.WriteJSON(w, http.StatusOK, u)
	return nil
}

// LinkInfo answers GET /api/v1/survey?t=TOKEN: what the form shows.
type LinkInfo struct {
	Unit      string    `json:"unit"`
	Domains   []string  `json:"domains"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (a *API) linkInfo(w http.ResponseWriter, r *http.Request) error {
	u, l, err := a.o.Units.LinkUnit(r.Context(), r.URL.Query().Get("t"))
	if err != nil {
		return apiError(err)
	}
	server.WriteJSON(w, http.StatusOK, LinkInfo{Unit: u.Name, Domains: u.Domains, ExpiresAt: l.ExpiresAt})
	return nil
}

// SurveyAccepted answers a survey sent through a link.
type SurveyAccepted struct {
	Unit    string `json:"unit"`
	Message string `json:"message"`
}

func (a *API) submitLink(w http.ResponseWriter, r *http.Request) error {
	var sv units.Survey
	if err := server.ReadJSON(r, &sv); err != nil {
		return err
	}
	u, err := a.o.Units.SubmitLink(r.Context(), r.URL.Query().Get("t"), sv, r.RemoteAddr)
	if err != nil {
		return apiError(err)
	}
	server.WriteJSON(w, http.StatusCreated, SurveyAccepted{Unit: u.Name, Message: "Thank you; the mail team will contact you with a plan."})
	return nil
}

// formCSS is the form's one inline style, allowed by its hash (formCSP).
const formCSS = `body{font-family:sans-serif;max-width:46em;margin:2em auto;padding:0 1em}label{display:block;margin-top:.8em}` +
	`input,textarea{width:100%;box-sizing:border-box}.err{color:#a00}.ok{color:#060}fieldset{margin-top:1em}`

// formCSP is the form's Content-Security-Policy: the default one
// (internal/server) with the inline style allowed by its SHA-256 and the
// form posting back to this site.
var formCSP = func() string {
	sum := sha256.Sum256([]byte(formCSS))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; " +
		"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
}()

// formPage is the survey form. html/template escapes every value.
var formPage = template.Must(template.New("survey").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><title>Survey: {{.Unit}}</title>
<style>{{.CSS}}</style></head><body>
{{if .Done}}<h1>Thank you</h1><p class="ok">The survey for {{.Unit}} is received. The mail team will contact you with a plan.</p>
{{else if .Gone}}<h1>Survey link</h1><p class="err">This survey link is unknown, already used or expired. Ask the mail team for a new one.</p>
{{else}}<h1>Moving {{.Unit}} to the central mail service</h1>
<p>This form works once, until {{.Expires}}. Counts you do not know may be left empty.</p>
{{if .Error}}<p class="err">{{.Error}}</p>{{end}}
<form method="post">
<label>Mail domains (one a line)<textarea name="domains" rows="3" required>{{.F.domains}}</textarea></label>
<label>Current mail system<input name="current_system" value="{{.F.current_system}}"></label>
<label>Host it runs on<input name="current_host" value="{{.F.current_host}}"></label>
<label>MX hosts as published now (one a line)<textarea name="published_mx" rows="2">{{.F.published_mx}}</textarea></label>
<label>TTL of the MX records, seconds<input name="published_ttl" inputmode="numeric" value="{{.F.published_ttl}}"></label>
<label>Staff<input name="staff" inputmode="numeric" value="{{.F.staff}}"></label>
<label>Students<input name="students" inputmode="numeric" value="{{.F.students}}"></label>
<label>Mailbox size wanted above the default, MB<input name="mailbox_mb" inputmode="numeric" value="{{.F.mailbox_mb}}"></label>
<label>Must existing mail be moved?<select name="move_content"><option value="">(not known)</option>
<option value="yes"{{if eq .F.move_content "yes"}} selected{{end}}>yes</option><option value="no"{{if eq .F.move_content "no"}} selected{{end}}>no</option></select></label>
<label>Mail clients in use (one a line)<textarea name="clients" rows="3">{{.F.clients}}</textarea></label>
<fieldset><legend>Network administrator</legend>
<label>Name<input name="admin_name" value="{{.F.admin_name}}"></label>
<label>E-mail<input name="admin_email" type="email" required value="{{.F.admin_email}}"></label>
<label>Phone<input name="admin_phone" value="{{.F.admin_phone}}"></label></fieldset>
<fieldset><legend>Leader of the unit</legend>
<label>Name<input name="leader_name" value="{{.F.leader_name}}"></label>
<label>E-mail<input name="leader_email" type="email" value="{{.F.leader_email}}"></label>
<label>Phone<input name="leader_phone" value="{{.F.leader_phone}}"></label></fieldset>
<label>Wished date (YYYY-MM-DD)<input name="wished_date" type="date" value="{{.F.wished_date}}"></label>
<label>Anything else<textarea name="notes" rows="3">{{.F.notes}}</textarea></label>
<p><button type="submit">Send the survey</button></p>
</form>{{end}}</body></html>
`))

type formData struct {
	CSS                  template.CSS
	Unit, Expires, Error string
	Done, Gone           bool
	F                    map[string]string
}

var formFields = []string{"domains", "current_system", "current_host", "published_mx", "published_ttl", "staff", "students",
	"mailbox_mb", "move_content", "clients", "admin_name", "admin_email", "admin_phone", "leader_name", "leader_email",
	"leader_phone", "wished_date", "notes"}

// form serves the survey form (GET) and takes it (POST, form-encoded).
func (a *API) form() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", formCSP)
		h.Set("Content-Type", "text/html; charset=utf-8")
		if !a.limiter.allow(r) {
			h.Set("Retry-After", "60")
			http.Error(w, "too many requests; wait a minute and try again", http.StatusTooManyRequests)
			return
		}
		token := r.URL.Query().Get("t")
		u, l, err := a.o.Units.LinkUnit(r.Context(), token)
		d := formData{CSS: template.CSS(formCSS), F: map[string]string{}}
		status := http.StatusOK
		switch {
		case errors.Is(err, units.ErrLinkInvalid):
			d.Gone, status = true, http.StatusGone
		case err != nil:
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		default:
			d.Unit, d.Expires = u.Name, timezone.Format(l.ExpiresAt, a.o.Location)
			d.F["domains"] = strings.Join(u.Domains, "\n")
			d.F["admin_name"], d.F["admin_email"], d.F["admin_phone"] = u.NetAdmin.Name, u.NetAdmin.Email, u.NetAdmin.Phone
			d.F["leader_name"], d.F["leader_email"], d.F["leader_phone"] = u.Leader.Name, u.Leader.Email, u.Leader.Phone
		}
		if r.Method == http.MethodPost && !d.Gone {
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			if err := r.ParseForm(); err != nil {
				http.Error(w, "bad form", http.StatusBadRequest)
				return
			}
			for _, f := range formFields {
				d.F[f] = r.PostForm.Get(f)
			}
			sv, ferr := surveyFromForm(d.F)
			if ferr == nil {
				_, ferr = a.o.Units.SubmitLink(r.Context(), token, sv, r.RemoteAddr)
			}
			switch {
			case ferr == nil:
				d.Done = true
			case errors.Is(ferr, units.ErrLinkInvalid):
				d.Gone, status = true, http.StatusGone
			case errors.Is(ferr, units.ErrInvalid) || errors.Is(ferr, errForm):
				d.Error, status = ferr.Error(), http.StatusBadRequest
			default:
				http.Error(w, "internal error", http.StatusInternalServerError)
				return
			}
		}
		w.WriteHeader(status)
		_ = formPage.Execute(w, d)
	})
}

var errForm = errors.New("invalid")

func lines(s string) []string {
	var out []string
	for _, l := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' || r == ',' }) {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func optInt(f map[string]string, k string) (*int, error) {
	v := strings.TrimSpace(f[k])
	if v == "" {
		return nil, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return nil, fmt.Errorf("%w: %s %q must be a whole number", errForm, strings.ReplaceAll(k, "_", " "), v)
	}
	return &n, nil
}

func surveyFromForm(f map[string]string) (units.Survey, error) {
	sv := units.Survey{Domains: lines(f["domains"]), CurrentSystem: strings.TrimSpace(f["current_system"]),
		CurrentHost: strings.TrimSpace(f["current_host"]), PublishedMX: lines(f["published_mx"]), Clients: lines(f["clients"]),
		NetAdmin:   units.Contact{Name: strings.TrimSpace(f["admin_name"]), Email: strings.TrimSpace(f["admin_email"]), Phone: strings.TrimSpace(f["admin_phone"])},
		Leader:     units.Contact{Name: strings.TrimSpace(f["leader_name"]), Email: strings.TrimSpace(f["leader_email"]), Phone: strings.TrimSpace(f["leader_phone"])},
		WishedDate: strings.TrimSpace(f["wished_date"]), Notes: strings.TrimSpace(f["notes"])}
	var err error
	for _, p := range []struct {
		k string
		v **int
	}{{"published_ttl", &sv.PublishedTTL}, {"staff", &sv.Staff}, {"students", &sv.Students}, {"mailbox_mb", &sv.MailboxMB}} {
		if *p.v, err = optInt(f, p.k); err != nil {
			return sv, err
		}
	}
	switch f["move_content"] {
	case "yes", "no":
		b := f["move_content"] == "yes"
		sv.MoveContent = &b
	}
	return sv, nil
}
