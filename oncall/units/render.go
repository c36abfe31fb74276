package units

import (
	"bytes"
	"embed"
	"fmt"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/uni-mail/postvakt/config/timezone"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

var templates = template.Must(template.New("").Funcs(template.FuncMap{
	"mul10": func(i int) int { return (i + 1) * 10 },
	"deref": func(v any) any {
		switch p := v.(type) {
		case *int:
			return *p
		case *uint32:
			return int(*p)
		case *bool:
			return *p
		}
		return v
	},
	// count shows a count the unit may not have given: missing is shown
	// as missing, never as 0.
	"count": func(p *int) string {
		if p == nil {
			return "(not known)"
		}
		return strconv.Itoa(*p)
	},
}).ParseFS(templateFS, "templates/*.tmpl"))

// renderData is what the templates see.
type renderData struct {
	Unit    Unit
	Survey  *Survey
	Config  Config
	Step    Step
	Order   WorkOrder
	Checks  []Check
	Link    string
	Expires time.Time
	Now     time.Time
	TTLAt   time.Time
	loc     *time.Location
}

// When shows an instant in the service zone, with the zone.
func (d renderData) When(t time.Time) string { return timezone.Format(t, d.loc) }

// Date shows the local date of an instant.
func (d renderData) Date(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.In(d.loc).Format("Monday 2 January 2006")
}

// render executes a template whose first line is "Subject: …" and
// returns the subject and the body.
func render(name string, d renderData) (subject, body string, err error) {
	var b bytes.Buffer
	if err := templates.ExecuteTemplate(&b, name+".tmpl", d); err != nil {
		return "", "", fmt.Errorf("render %s: %w", name, err)
	}
	first, rest, _ := strings.Cut(b.String(), "\n")
	subject = strings.TrimSpace(strings.TrimPrefix(first, "Subject:"))
	return subject, strings.TrimLeft(rest, "\n"), nil
}

// Document is one of the plan's documents, rendered for a unit.
type Document struct {
	Name  string `json:"name"`
	Title string `json:"title"`
	Text  string `json:"text"`
}

// DocumentNames are the plan's documents: the DNS change guide, the
// client set-up guide and the migration notice for the unit's people.
var DocumentNames = []string{"dns_guide", "client_guide", "migration_notice"}
