package notice

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	htmltemplate "html/template"
	"net/http"
	"strings"
	"time"
)

// statusStyle is the status page's one inline style block; the page's
// Content-Security-Policy allows it by its SHA-256 hash (CSP Level 3,
// "hash-source") and nothing else.
const statusStyle = `body{font-family:sans-serif;max-width:50em;margin:auto;padding:1em}
.n{border:1px solid #ccc;border-radius:4px;padding:.5em 1em;margin:1em 0}
.open{border-left:6px solid #c60}.ended{border-left:6px solid #393}
.state{font-weight:bold}small{color:#555}`

// statusCSP is the status page's Content-Security-Policy.
var statusCSP = func() string {
	sum := sha256.Sum256([]byte(statusStyle))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; " +
		"frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
}()

// statusPage is the public status page: current notices first, then
// recent ended ones. No login; only public notices.
var statusPage = htmltemplate.Must(htmltemplate.New("status").Parse(`<!DOCTYPE html>
<html lang="{{.Lang}}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<link rel="alternate" type="application/atom+xml" title="{{.Title}}" href="status/feed.atom">
<style>{{.Style}}</style></head>
<body><h1>{{.Title}}</h1>
{{if not .Current}}<p class="ok">{{.AllOK}}</p>{{end}}
{{range .Current}}<div class="n open" id="notice-{{.ID}}"><h2>{{.Kind}}: {{.Title}}</h2>
<p><span class="state">{{.State}}</span> · {{.Services}} · <small>{{.Started}}</small></p>
{{with .NextUpdate}}<p><small>{{$.NextLabel}}: {{.}}</small></p>{{end}}
{{range .Updates}}<p><small>{{.At}} — {{.State}}</small>{{with .Body}}<br>{{.}}{{end}}</p>{{end}}</div>
{{end}}
{{if .Recent}}<h2>{{.RecentLabel}}</h2>{{end}}
{{range .Recent}}<div class="n ended" id="notice-{{.ID}}"><h3>{{.Kind}}: {{.Title}}</h3>
<p><span class="state">{{.State}}</span> · {{.Services}} · <small>{{.Started}} – {{.Ended}} ({{.Duration}})</small></p>
{{range .Updates}}<p><small>{{.At}} — {{.State}}</small>{{with .Body}}<br>{{.}}{{end}}</p>{{end}}</div>
{{end}}
<p><small><a href="status/feed.atom">Atom</a> · {{.Generated}}</small></p>
</body></html>`))

type pageUpdate struct{ At, State, Body string }

type pageNotice struct {
	ID                                                       int64
	Kind, Title, State, Services, Started, Ended, NextUpdate string
	Duration                                                 string
	Updates                                                  []pageUpdate
}

// StatusHandler serves GET /status (HTML) and GET /status/feed.atom
// (Atom, RFC 4287) from the public notices.
func (s *Service) StatusHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", s.serveStatus)
	mux.HandleFunc("GET /status/feed.atom", s.serveFeed)
	return mux
}

func (s *Service) publicNotices(r *http.Request) ([]Notice, error) {
	return s.o.Store.NoticeList(r.Context(), Filter{PublicOnly: true, Since: s.o.Now().Add(-s.config().StatusRecent), Limit: 100})
}

func (s *Service) serveStatus(w http.ResponseWriter, r *http.Request) {
	list, err := s.publicNotices(r)
	if err != nil {
		s.o.Logger.Error("status page", "err", err)
		http.Error(w, "status temporarily unavailable", http.StatusServiceUnavailable)
		return
	}
	lang := s.config().Language
	page := struct {
		Lang, Title, AllOK, RecentLabel, NextLabel, Generated string
		Style                                                 htmltemplate.CSS
		Current, Recent                                       []pageNotice
	}{Lang: lang, Title: s.config().StatusTitle, Generated: s.when(s.o.Now()), Style: htmltemplate.CSS(statusStyle)}
	page.AllOK, page.RecentLabel, page.NextLabel = "All e-mail services are operating normally.", "Recent notices", "Next update"
	if lang == "nb" {
		page.AllOK, page.RecentLabel, page.NextLabel = "Alle e-posttjenester fungerer normalt.", "Nylige meldinger", "Neste oppdatering"
	}
	if s.o.Monitored != nil && !s.o.Monitored() {
		page.AllOK = "No services are monitored; this page shows only the notices the mail team publishes."
		if lang == "nb" {
			page.AllOK = "Ingen tjenester overvåkes; siden viser bare meldingene driftsgruppen publiserer."
		}
	}
	for _, n := range list {
		d := s.data(n, Update{State: n.State})
		pn := pageNotice{ID: n.ID, Kind: d.Kind, Title: n.Title, State: d.State, Services: d.Services,
			Started: d.Started, Ended: d.Ended, NextUpdate: d.NextUpdate, Duration: d.Duration}
		for i := len(n.Updates) - 1; i >= 0; i-- {
			u := n.Updates[i]
			pn.Updates = append(pn.Updates, pageUpdate{At: s.when(u.At), State: Label(n.Language, u.State), Body: u.Body})
		}
		if Final(n.State) {
			page.Recent = append(page.Recent, pn)
		} else {
			page.Current = append(page.Current, pn)
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=30")
	w.Header().Set("Content-Security-Policy", statusCSP)
	if err := statusPage.Execute(w, page); err != nil {
		s.o.Logger.Warn("status page render", "err", err)
	}
}

type atomText struct {
	Type string `xml:"type,attr,omitempty"`
	Body string `xml:",chardata"`
}

type atomLink struct {
	Href string `xml:"href,attr"`
	Rel  string `xml:"rel,attr,omitempty"`
	Type string `xml:"type,attr,omitempty"`
}

type atomEntry struct {
	Title     string   `xml:"title"`
	ID        string   `xml:"id"`
	Updated   string   `xml:"updated"`
	Published string   `xml:"published,omitempty"`
	Link      atomLink `xml:"link"`
	Category  []struct {
		Term string `xml:"term,attr"`
	} `xml:"category"`
	Content atomText `xml:"content"`
}

type atomFeed struct {
	XMLName xml.Name `xml:"http://www.w3.org/2005/Atom feed"`
	Title   string   `xml:"title"`
	ID      string   `xml:"id"`
	Updated string   `xml:"updated"`
	Author  struct {
		Name string `xml:"name"`
	} `xml:"author"`
	Links   []atomLink  `xml:"link"`
	Entries []atomEntry `xml:"entry"`
}

// serveFeed writes one entry per public notice (RFC 4287 §4.1.2), updated
// at its last change, with the latest state in the title.
func (s *Service) serveFeed(w http.ResponseWriter, r *http.Request) {
	list, err := s.publicNotices(r)
	if err != nil {
		s.o.Logger.Error("status feed", "err", err)
		http.Error(w, "status temporarily unavailable", http.StatusServiceUnavailable)
		return
	}
	base := strings.TrimSuffix(s.o.StatusURL, "/")
	if base == "" {
		base = "http://" + r.Host + "/status"
	}
	domain := DomainOf(s.config().From)
	f := atomFeed{Title: s.config().StatusTitle, ID: "tag:" + domain + ",2026:postvakt/status"}
	f.Author.Name = s.config().StatusTitle
	f.Links = []atomLink{{Href: base + "/feed.atom", Rel: "self", Type: "application/atom+xml"}, {Href: base, Rel: "alternate", Type: "text/html"}}
	updated := time.Unix(0, 0).UTC()
	for _, n := range list {
		d := s.data(n, Update{State: n.State})
		var body strings.Builder
		fmt.Fprintf(&body, "%s — %s\n%s\n", d.State, d.Services, d.Started)
		if d.Ended != "" {
			fmt.Fprintf(&body, "%s (%s)\n", d.Ended, d.Duration)
		}
		for i := len(n.Updates) - 1; i >= 0; i-- {
			u := n.Updates[i]
			fmt.Fprintf(&body, "\n%s — %s\n%s\n", s.when(u.At), Label(n.Language, u.State), u.Body)
		}
		e := atomEntry{
			Title:     fmt.Sprintf("[%s] %s: %s", d.State, d.Kind, n.Title),
			ID:        fmt.Sprintf("tag:%s,2026:postvakt/notice/%d", domain, n.ID),
			Updated:   n.UpdatedAt.UTC().Format(time.RFC3339),
			Published: n.CreatedAt.UTC().Format(time.RFC3339),
			Link:      atomLink{Href: fmt.Sprintf("%s#notice-%d", base, n.ID), Rel: "alternate"},
			Content:   atomText{Type: "text", Body: body.String()},
		}
		e.Category = append(e.Category, struct {
			Term string `xml:"term,attr"`
		}{n.Kind})
		f.Entries = append(f.Entries, e)
		if n.UpdatedAt.After(updated) {
			updated = n.UpdatedAt
		}
	}
	f.Updated = updated.UTC().Format(time.RFC3339)
	w.Header().Set("Content-Type", "application/atom+xml; charset=utf-8")
	_, _ = w.Write([]byte(xml.Header))
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(f); err != nil {
		s.o.Logger.Warn("status feed render", "err", err)
	}
}
