package oncallapi

import (
	"errors"
	"html/template"
	"io"
	"net/http"

	"github.com/uni-mail/postvakt/internal/server"
	"github.com/uni-mail/postvakt/oncall/incident"
	"github.com/uni-mail/postvakt/oncall/page"
)

// The signed acknowledge links of e-mail pages: a GET shows a form, its
// POST acknowledges. The link's signature (package page's Signer) is the
// credential; an invalid or expired one answers 403 in plain text.
func (a *API) registerAckLinks() {
	a.srv.HandlePublic("GET /api/v1/oncall/ack", a.ackLinkForm)
	a.srv.HandlePublic("POST /api/v1/oncall/ack", a.ackLink)
}

var ackPage = template.Must(template.New("ack").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex"><title>postvakt: acknowledge incident #{{.ID}}</title></head>
<body><h1>Incident #{{.ID}}</h1><p>{{.Title}}</p><p>Status: {{.Status}}</p>
{{if .Open}}<form method="post" action="ack"><input type="hidden" name="t" value="{{.Token}}"><button type="submit">Acknowledge</button></form>{{end}}
{{if .Message}}<p>{{.Message}}</p>{{end}}</body></html>
`))

// ackView is what the acknowledge page shows: the incident, the form while
// it is triggered (Open, with the link's Token), and the outcome of a POST.
type ackView struct {
	ID      int64
	Title   string
	Status  incident.Status
	Open    bool
	Token   string
	Message string
}

// ackLinkForm shows a confirmation form: a GET never changes state, so
// mail scanners that follow links do not acknowledge pages.
func (a *API) ackLinkForm(w http.ResponseWriter, r *http.Request) error {
	return a.ackLinkPage(w, r, r.URL.Query().Get("t"), false)
}

func (a *API) ackLink(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return server.BadRequest("bad form")
	}
	return a.ackLinkPage(w, r, r.PostForm.Get("t"), true)
}

func (a *API) ackLinkPage(w http.ResponseWriter, r *http.Request, token string, act bool) error {
	c, err := a.o.Signer.Verify(token)
	if err != nil || c.Action != "ack" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusForbidden)
		msg := "This acknowledge link is not valid."
		if errors.Is(err, page.ErrExpiredLink) {
			msg = "This acknowledge link has expired."
		}
		_, _ = io.WriteString(w, msg+"\n")
		return nil
	}
	var inc incident.Incident
	msg := ""
	if act {
		var changed bool
		inc, changed, err = a.o.Incidents.Ack(r.Context(), c.IncidentID, "link:"+c.Member)
		if err != nil {
			return incErr(err)
		}
		msg = "Acknowledged. Escalation has stopped."
		if !changed {
			msg = "Nothing to do: the incident was already " + string(inc.Status) + "."
		}
	} else if inc, err = a.o.Incidents.Get(r.Context(), c.IncidentID); err != nil {
		return incErr(err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	return ackPage.Execute(w, ackView{ID: inc.ID, Title: inc.Title, Status: inc.Status,
		Open: !act && inc.Status == incident.StatusTriggered, Token: token, Message: msg})
}
