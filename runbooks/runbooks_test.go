package runbooks

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

func TestEmbeddedRunbooks(t *testing.T) {
	t.Parallel()
	lib, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	if len(lib.All()) < 12 {
		t.Fatalf("only %d runbooks", len(lib.All()))
	}
	link := regexp.MustCompile(`\(/runbooks/([a-z0-9-]+)\)`)
	for _, rb := range lib.All() {
		if rb.ID != "oncall-instruction" {
			for _, section := range []string{"## What to check", "## What to do", "## Escalate"} {
				if !strings.Contains(rb.Body, section) {
					t.Errorf("%s lacks %q", rb.ID, section)
				}
			}
			if len(rb.Alerts) == 0 {
				t.Errorf("%s links no alert", rb.ID)
			}
		}
		if rb.Summary == "" || len(rb.Services) == 0 {
			t.Errorf("%s lacks summary or services", rb.ID)
		}
		if !strings.Contains(string(rb.HTML), "<h1") {
			t.Errorf("%s did not render a heading", rb.ID)
		}
		for _, m := range link.FindAllStringSubmatch(rb.Body, -1) {
			if _, ok := lib.Get(m[1]); !ok {
				t.Errorf("%s links to missing runbook %s", rb.ID, m[1])
			}
		}
	}
	if rb, ok := lib.ForAlert("PostvaktOutgoingSpamBurst"); !ok || rb.ID != "outgoing-spam-burst" {
		t.Fatalf("ForAlert: %v %v", rb, ok)
	}
	if _, ok := lib.Get("nope"); ok {
		t.Fatal("Get(nope)")
	}
}

func TestLoadRejectsBadFiles(t *testing.T) {
	t.Parallel()
	good := "---\nid: a-b\ntitle: T\nalerts: [X]\nservices: [smtp]\nsummary: s\n---\n# T\n"
	cases := map[string]fstest.MapFS{
		"no front matter": {"a-b.md": {Data: []byte("# T\n")}},
		"unclosed":        {"a-b.md": {Data: []byte("---\nid: a-b\n")}},
		"unknown key":     {"a-b.md": {Data: []byte("---\nid: a-b\ntitle: T\nowner: me\n---\n")}},
		"id vs file":      {"other.md": {Data: []byte(good)}},
		"bad id":          {"A_B.md": {Data: []byte(strings.Replace(good, "id: a-b", "id: A_B", 1))}},
		"no title":        {"a-b.md": {Data: []byte(strings.Replace(good, "title: T", "title: ''", 1))}},
		"alert twice": {
			"a-b.md": {Data: []byte(good)},
			"c-d.md": {Data: []byte(strings.Replace(good, "id: a-b", "id: c-d", 1))},
		},
	}
	for name, fsys := range cases {
		if _, err := Load(fsys); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
	if _, err := Load(fstest.MapFS{"a-b.md": {Data: []byte(good)}, "README.md": {Data: []byte("x")}}); err != nil {
		t.Fatalf("good: %v", err)
	}
}
