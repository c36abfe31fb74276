package app

import (
	"context"
	"html/template"
	"net/http"

	"github.com/uni-mail/postvakt/internal/server"
	"github.com/uni-mail/postvakt/runbooks"
)

// runbookStyle is the runbook pages' one inline style block; their
// Content-Security-Policy allows it by its hash and nothing else.
const runbookStyle = `
body{font:16px/1.5 system-ui,sans-serif;max-width:52rem;margin:0 auto;padding:1rem;color:#1b1b1b}
a{color:#0b57d0}pre{background:#f3f3f3;padding:.75rem;overflow-x:auto;border-radius:4px}
code{font-family:ui-monospace,monospace;font-size:.9em}nav{margin-bottom:1rem}
table{border-collapse:collapse}td,th{padding:.25rem .5rem;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
.meta{color:#555;font-size:.9em}
td{overflow-wrap:anywhere}code{overflow-wrap:anywhere}main img{max-width:100%}
nav.top{display:flex;flex-wrap:wrap;gap:.25rem 1rem;padding:.5rem 0;border-bottom:1px solid #ddd}
nav.top a{text-decoration:none}nav.top .brand{font-weight:700;color:#1b1b1b}
nav.pager{display:flex;justify-content:space-between;gap:1rem;border-top:1px solid #ddd;margin-top:2rem;padding-top:.75rem}
@media print{nav{display:none}a{color:inherit}}
`

// Runbooks are served without login: they are the repository's own
// documentation, embedded at build time, and must open from a page on a
// phone before anyone has signed in.
var runbookPage = template.Must(template.New("rb").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{if .One}}{{.One.Title}} — {{end}}postvakt runbooks</title>
<style>{{.Style}}</style>
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml"></head><body>
<nav class="top" aria-label="Runbooks"><a class="brand" href="/">postvakt</a><a href="/runbooks">All runbooks</a><a href="/status">Service status</a></nav>
{{if .One}}
<p class="meta">Runbook <code>{{.One.ID}}</code>{{if .One.Services}} · services: {{range $i, $s := .One.Services}}{{if $i}}, {{end}}{{$s}}{{end}}{{end}}{{if .One.Alerts}} · alerts: {{range $i, $a := .One.Alerts}}{{if $i}}, {{end}}<code>{{$a}}</code>{{end}}{{end}}</p>
<main>{{.One.HTML}}</main>
<nav class="pager" aria-label="Other runbooks"><span>{{with .Prev}}<a href="/runbooks/{{.ID}}" rel="prev">← {{.Title}}</a>{{end}}</span><span>{{with .Next}}<a href="/runbooks/{{.ID}}" rel="next">{{.Title}} →</a>{{end}}</span></nav>
{{else}}
<h1>Runbooks</h1>
<table><thead><tr><th>Runbook</th><th>What it is for</th><th>Alerts</th></tr></thead><tbody>
{{range .All}}<tr><td><a href="/runbooks/{{.ID}}">{{.Title}}</a></td><td>{{.Summary}}</td><td>{{range $i, $a := .Alerts}}{{if $i}}, {{end}}<code>{{$a}}</code>{{end}}</td></tr>
{{end}}</tbody></table>
{{end}}
</body></html>`))

// setupRunbooks serves the rendered runbooks as web pages under /runbooks;
// their index in the API is the access API's (setupAccess).
func setupRunbooks(_ context.Context, env *Env) error {
	lib, err := runbooks.Embedded()
	if err != nil {
		return err
	}
	csp := server.InlineStyleCSP(runbookStyle)
	render := func(w http.ResponseWriter, status int, data map[string]any) {
		data["Style"] = template.CSS(runbookStyle)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", csp)
		w.WriteHeader(status)
		if err := runbookPage.Execute(w, data); err != nil {
			env.Logger.Warn("render runbook page", "err", err)
		}
	}
	env.Server.Mount("GET /runbooks", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		render(w, http.StatusOK, map[string]any{"All": lib.All()})
	}))
	env.Server.Mount("GET /runbooks/{id}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rb, ok := lib.Get(r.PathValue("id"))
		if !ok {
			http.Error(w, "no such runbook", http.StatusNotFound)
			return
		}
		data := map[string]any{"One": rb}
		all := lib.All()
		for i, x := range all {
			if x.ID == rb.ID {
				if i > 0 {
					data["Prev"] = all[i-1]
				}
				if i+1 < len(all) {
					data["Next"] = all[i+1]
				}
			}
		}
		render(w, http.StatusOK, data)
	}))
	return nil
}
