package notice

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
	"time"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

// Languages are the shipped template languages.
var Languages = []string{"en", "nb"}

// labels are the localized names of states and kinds.
var labels = map[string]map[string]string{
	"en": {
		Investigating: "Investigating", Identified: "Identified", Monitoring: "Monitoring", Resolved: "Resolved",
		Scheduled: "Scheduled", InProgress: "In progress", Completed: "Completed", Cancelled: "Cancelled",
		KindOutage: "Outage", KindMaintenance: "Planned maintenance", UpdateReminder: "Reminder",
	},
	"nb": {
		Investigating: "Undersøkes", Identified: "Årsak funnet", Monitoring: "Overvåkes", Resolved: "Løst",
		Scheduled: "Planlagt", InProgress: "Pågår", Completed: "Fullført", Cancelled: "Avlyst",
		KindOutage: "Driftsavbrudd", KindMaintenance: "Planlagt vedlikehold", UpdateReminder: "Påminnelse",
	},
}

// Label returns the localized name of a state or kind.
func Label(lang, key string) string {
	if l, ok := labels[lang][key]; ok {
		return l
	}
	return key
}

// Templates are the parsed announcement templates per language: "subject"
// and "text" in LANG.txt.tmpl, "html" in LANG.html.tmpl.
type Templates struct {
	text map[string]*texttemplate.Template
	html map[string]*htmltemplate.Template
}

// LoadTemplates parses the embedded templates.
func LoadTemplates() (*Templates, error) {
	t := &Templates{text: map[string]*texttemplate.Template{}, html: map[string]*htmltemplate.Template{}}
	for _, lang := range Languages {
		tt, err := texttemplate.ParseFS(templateFS, "templates/"+lang+".txt.tmpl")
		if err != nil {
			return nil, fmt.Errorf("notice templates %s: %w", lang, err)
		}
		ht, err := htmltemplate.ParseFS(templateFS, "templates/"+lang+".html.tmpl")
		if err != nil {
			return nil, fmt.Errorf("notice templates %s: %w", lang, err)
		}
		t.text[lang], t.html[lang] = tt, ht
	}
	return t, nil
}

// Has reports whether lang has templates.
func (t *Templates) Has(lang string) bool { _, ok := t.text[lang]; return ok }

// MailData is what the announcement templates see.
type MailData struct {
	Notice     Notice
	Update     Update
	Kind       string // localized kind
	State      string // localized state
	Services   string // service names, comma separated
	Started    string
	PlannedEnd string
	NextUpdate string
	Ended      string
	Duration   string
	Reminder   bool
	StatusURL  string
}

// Render renders the text part, the HTML part and the subject.
func (t *Templates) Render(lang string, d MailData) (text, html, subject string, err error) {
	tt, ok := t.text[lang]
	if !ok {
		return "", "", "", fmt.Errorf("no templates for language %q", lang)
	}
	var sb, tb, hb bytes.Buffer
	if err := tt.ExecuteTemplate(&sb, "subject", d); err != nil {
		return "", "", "", fmt.Errorf("render subject: %w", err)
	}
	if err := tt.ExecuteTemplate(&tb, "text", d); err != nil {
		return "", "", "", fmt.Errorf("render text: %w", err)
	}
	if err := t.html[lang].ExecuteTemplate(&hb, "html", d); err != nil {
		return "", "", "", fmt.Errorf("render html: %w", err)
	}
	return tb.String(), hb.String(), strings.Join(strings.Fields(sb.String()), " "), nil
}

func (s *Service) when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(s.config().location()).Format("Mon 2006-01-02 15:04 MST")
}

// FormatDuration renders d as "2h 5m".
func FormatDuration(d time.Duration) string {
	d = d.Round(time.Minute)
	if d <= 0 {
		return ""
	}
	days, h, m := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour), int(d%time.Hour/time.Minute)
	var parts []string
	if days > 0 {
		parts = append(parts, fmt.Sprintf("%dd", days))
	}
	if h > 0 {
		parts = append(parts, fmt.Sprintf("%dh", h))
	}
	if m > 0 || len(parts) == 0 {
		parts = append(parts, fmt.Sprintf("%dm", m))
	}
	return strings.Join(parts, " ")
}

func (s *Service) data(n Notice, u Update) MailData {
	names := make([]string, 0, len(n.Services))
	for _, id := range n.Services {
		if name := s.o.Services[id]; name != "" {
			names = append(names, name)
		} else {
			names = append(names, id)
		}
	}
	return MailData{
		Notice: n, Update: u, Kind: Label(n.Language, n.Kind), State: Label(n.Language, u.State),
		Services: strings.Join(names, ", "), Started: s.when(n.StartedAt), PlannedEnd: s.when(n.PlannedEnd),
		NextUpdate: s.when(n.NextUpdateAt), Ended: s.when(n.EndedAt), Duration: FormatDuration(n.Duration()),
		Reminder: u.Kind == UpdateReminder, StatusURL: s.o.StatusURL,
	}
}
