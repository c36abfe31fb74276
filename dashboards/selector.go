package dashboards

import (
	"fmt"
	"regexp"
	"strings"
)

// DefaultJobSelector is the label matcher of the committed files: the
// Prometheus scrape job named postvakt. Sites whose job is named otherwise
// regenerate with `postvakt dashboards generate --job-selector 'job="mail"'`.
const DefaultJobSelector = `job="postvakt"`

// ExampleRunbookURL is the runbook base of the committed rule file, a
// placeholder: regenerate with the site's external URL (http.base_url).
const ExampleRunbookURL = "https://postvakt.example.org"

// Options choose how the generated files select postvakt's series and where
// the alerts' runbook links point.
type Options struct {
	// JobSelector is one or more PromQL label matchers added to every
	// metric selector of the dashboards and rules, e.g. job="mail" or
	// job=~"postvakt|mail",env="prod". Empty selects by metric name only.
	JobSelector string
	// RunbookURL is the base of the alerts' runbook_url
	// (<RunbookURL>/runbooks/<id>): postvakt's external URL.
	RunbookURL string
}

var (
	selectorRe  = regexp.MustCompile(`^\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(=|!=|=~|!~)\s*"(?:[^"\\]|\\.)*"\s*(,\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(=|!=|=~|!~)\s*"(?:[^"\\]|\\.)*"\s*)*$`)
	metricUseRe = regexp.MustCompile(`\b(postvakt_[a-z0-9_]+|up)\b(\{)?`)
)

// CheckSelector reports whether sel is a list of PromQL label matchers.
func CheckSelector(sel string) error {
	if sel == "" || selectorRe.MatchString(sel) {
		return nil
	}
	return fmt.Errorf("job selector %q: want PromQL label matchers such as job=\"postvakt\"", sel)
}

// WithJob adds the label matchers sel to every postvakt metric (and up) in
// the PromQL expression expr: `postvakt_x{a="b"}` becomes
// `postvakt_x{<sel>,a="b"}` and `postvakt_x[5m]` becomes `postvakt_x{<sel>}[5m]`.
// The expressions are postvakt's own, so metric names never appear inside
// strings.
func WithJob(expr, sel string) string {
	sel = strings.TrimSpace(sel)
	if sel == "" {
		return expr
	}
	return metricUseRe.ReplaceAllStringFunc(expr, func(m string) string {
		if name, ok := strings.CutSuffix(m, "{"); ok {
			return name + "{" + sel + ","
		}
		return m + "{" + sel + "}"
	})
}
