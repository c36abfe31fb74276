// Package runbooks owns postvakt's operating routines: Markdown files with
// YAML front matter (id, title, alerts, services), embedded in the binary,
// looked up by ID or by the alert that links to them, and rendered to HTML
// for /runbooks/<id>. Alert rules' runbook_url, pages and tickets link here.
package runbooks

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	"go.yaml.in/yaml/v3"
)

//go:embed *.md
var embedded embed.FS

// Runbook is one operating routine.
type Runbook struct {
	ID       string   `yaml:"id"`
	Title    string   `yaml:"title"`
	Alerts   []string `yaml:"alerts"`   // alert names whose runbook_url points here
	Services []string `yaml:"services"` // e.g. smtp, imap, pop, webmail
	Summary  string   `yaml:"summary"`  // one line, for listings
	Body     string   `yaml:"-"`        // Markdown after the front matter
	HTML     template.HTML
}

// Library is a loaded, validated set of runbooks.
type Library struct {
	byID    map[string]*Runbook
	byAlert map[string]*Runbook
	ordered []*Runbook
}

// ErrInvalid is wrapped by errors in a runbook file.
var ErrInvalid = errors.New("invalid runbook")

var idRe = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,62}$`)

// Embedded loads the runbooks compiled into the binary.
func Embedded() (*Library, error) { return Load(embedded) }

// Load reads every *.md at the root of fsys. IDs must be unique and match
// the file name; an alert may link to one runbook only.
func Load(fsys fs.FS) (*Library, error) {
	names, err := fs.Glob(fsys, "*.md")
	if err != nil {
		return nil, err
	}
	md := goldmark.New(goldmark.WithExtensions(extension.GFM))
	lib := &Library{byID: map[string]*Runbook{}, byAlert: map[string]*Runbook{}}
	var errs []error
	for _, name := range names {
		if strings.EqualFold(name, "README.md") {
			continue
		}
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		rb, err := parse(name, data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var buf bytes.Buffer
		if err := md.Convert([]byte(rb.Body), &buf); err != nil {
			errs = append(errs, fmt.Errorf("%w: %s: render: %v", ErrInvalid, name, err))
			continue
		}
		// The Markdown is ours, embedded at build time: trusted HTML.
		rb.HTML = template.HTML(buf.String())
		if prev, dup := lib.byID[rb.ID]; dup {
			errs = append(errs, fmt.Errorf("%w: %s: id %q already used by %q", ErrInvalid, name, rb.ID, prev.Title))
			continue
		}
		lib.byID[rb.ID] = rb
		for _, a := range rb.Alerts {
			if prev, dup := lib.byAlert[a]; dup {
				errs = append(errs, fmt.Errorf("%w: %s: alert %q already links to runbook %q", ErrInvalid, name, a, prev.ID))
			}
			lib.byAlert[a] = rb
		}
		lib.ordered = append(lib.ordered, rb)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	sort.Slice(lib.ordered, func(i, j int) bool { return lib.ordered[i].Title < lib.ordered[j].Title })
	return lib, nil
}

func parse(name string, data []byte) (*Runbook, error) {
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	rest, ok := strings.CutPrefix(text, "---\n")
	if !ok {
		return nil, fmt.Errorf("%w: %s: no front matter (--- … ---)", ErrInvalid, name)
	}
	front, body, ok := strings.Cut(rest, "\n---\n")
	if !ok {
		return nil, fmt.Errorf("%w: %s: front matter not closed by ---", ErrInvalid, name)
	}
	rb := &Runbook{}
	dec := yaml.NewDecoder(strings.NewReader(front))
	dec.KnownFields(true)
	if err := dec.Decode(rb); err != nil {
		return nil, fmt.Errorf("%w: %s: front matter: %v", ErrInvalid, name, err)
	}
	switch {
	case !idRe.MatchString(rb.ID):
		return nil, fmt.Errorf("%w: %s: id %q must be lower-case letters, digits and dashes", ErrInvalid, name, rb.ID)
	case rb.ID+".md" != path.Base(name):
		return nil, fmt.Errorf("%w: %s: id %q must match the file name", ErrInvalid, name, rb.ID)
	case strings.TrimSpace(rb.Title) == "":
		return nil, fmt.Errorf("%w: %s: title is required", ErrInvalid, name)
	}
	rb.Body = strings.TrimLeft(body, "\n")
	return rb, nil
}

// Get returns the runbook with id.
func (l *Library) Get(id string) (*Runbook, bool) {
	rb, ok := l.byID[id]
	return rb, ok
}

// ForAlert returns the runbook an alert links to.
func (l *Library) ForAlert(alert string) (*Runbook, bool) {
	rb, ok := l.byAlert[alert]
	return rb, ok
}

// All lists every runbook by title.
func (l *Library) All() []*Runbook { return append([]*Runbook(nil), l.ordered...) }

// URL is the path of a runbook under a base URL (e.g. http.base_url).
func URL(base, id string) string { return strings.TrimRight(base, "/") + "/runbooks/" + id }
