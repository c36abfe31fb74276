package dashboards

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/uni-mail/postvakt/oncall/sla"
	"github.com/uni-mail/postvakt/runbooks"
)

// TestCommittedFilesAreGenerated fails when the committed JSON and rule
// files differ from what the code generates: run `go generate ./dashboards`.
func TestCommittedFilesAreGenerated(t *testing.T) {
	t.Parallel()
	files, err := Generated(DefaultBaseURL)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		got, err := os.ReadFile(name)
		if err != nil {
			t.Errorf("%s: %v (run go generate ./dashboards)", name, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is out of date: run go generate ./dashboards", name)
		}
	}
	committed, _ := filepath.Glob(filepath.Join("grafana", "*.json"))
	for _, c := range committed {
		if _, ok := files[c]; !ok {
			t.Errorf("%s is committed but no longer generated", c)
		}
	}
}

type gPanel struct {
	ID          int    `json:"id"`
	Type        string `json:"type"`
	Title       string `json:"title"`
	Description string `json:"description"`
	Datasource  struct {
		Type, UID string
	} `json:"datasource"`
	FieldConfig struct {
		Defaults struct {
			Unit string `json:"unit"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
	Targets []struct {
		Expr       string               `json:"expr"`
		Datasource struct{ UID string } `json:"datasource"`
	} `json:"targets"`
}

// TestDashboardJSONSanity reads the committed JSON as Grafana would:
// unique panel IDs, the datasource variable, a description and a known unit
// on every panel, every query on the variable's data source.
func TestDashboardJSONSanity(t *testing.T) {
	t.Parallel()
	paths, _ := filepath.Glob(filepath.Join("grafana", "*.json"))
	if len(paths) < 6 {
		t.Fatalf("only %d dashboards", len(paths))
	}
	uids := map[string]bool{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			UID        string   `json:"uid"`
			Title      string   `json:"title"`
			Panels     []gPanel `json:"panels"`
			Templating struct {
				List []struct{ Name, Type, Query string } `json:"list"`
			} `json:"templating"`
		}
		if err := json.Unmarshal(data, &d); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if d.UID == "" || uids[d.UID] || d.Title == "" {
			t.Errorf("%s: uid %q missing or duplicate", p, d.UID)
		}
		uids[d.UID] = true
		hasDS := false
		for _, v := range d.Templating.List {
			hasDS = hasDS || (v.Name == DatasourceVar && v.Type == "datasource" && v.Query == "prometheus")
		}
		if !hasDS {
			t.Errorf("%s: no datasource variable of type prometheus", p)
		}
		ids := map[int]bool{}
		for _, pn := range d.Panels {
			if ids[pn.ID] {
				t.Errorf("%s: duplicate panel id %d", p, pn.ID)
			}
			ids[pn.ID] = true
			if pn.Type == "row" {
				continue
			}
			if pn.Description == "" {
				t.Errorf("%s: panel %q has no description", p, pn.Title)
			}
			if !Units[pn.FieldConfig.Defaults.Unit] {
				t.Errorf("%s: panel %q unit %q", p, pn.Title, pn.FieldConfig.Defaults.Unit)
			}
			if pn.Datasource.UID != "${datasource}" || len(pn.Targets) == 0 {
				t.Errorf("%s: panel %q is not on the datasource variable or has no query", p, pn.Title)
			}
			for _, tg := range pn.Targets {
				if !strings.Contains(tg.Expr, "postvakt_") || tg.Datasource.UID != "${datasource}" {
					t.Errorf("%s: panel %q query %q", p, pn.Title, tg.Expr)
				}
			}
		}
	}
}

// TestEveryAlertHasItsRunbook checks both directions: each rule's runbook
// exists and lists the alert in its front matter.
func TestEveryAlertHasItsRunbook(t *testing.T) {
	t.Parallel()
	lib, err := runbooks.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	alerts := map[string]bool{}
	for _, g := range RuleGroups() {
		for _, r := range g.Rules {
			if alerts[r.Alert] {
				t.Errorf("alert %s defined twice", r.Alert)
			}
			alerts[r.Alert] = true
			rb, ok := lib.Get(r.Runbook)
			if !ok {
				t.Errorf("alert %s: no runbook %q", r.Alert, r.Runbook)
				continue
			}
			if got, ok := lib.ForAlert(r.Alert); !ok || got.ID != rb.ID {
				t.Errorf("alert %s: runbook %s does not list it in its front matter", r.Alert, rb.ID)
			}
		}
	}
	for _, rb := range lib.All() {
		for _, a := range rb.Alerts {
			if !alerts[a] {
				t.Errorf("runbook %s names alert %s, which no rule defines", rb.ID, a)
			}
		}
	}
}

func TestMetricNames(t *testing.T) {
	t.Parallel()
	got := MetricNames(`sum(rate(postvakt_a_total{x="y"}[5m])) / up`, `histogram_quantile(0.9, rate(postvakt_b_seconds_bucket[1m]))`)
	if strings.Join(got, ",") != "postvakt_a_total,postvakt_b_seconds_bucket" {
		t.Fatalf("got %v", got)
	}
	names := MetricNames(Exprs()...)
	if len(names) < 40 {
		t.Fatalf("only %d metric names used", len(names))
	}
	if !sort.StringsAreSorted(names) {
		t.Fatal("not sorted")
	}
}

func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("POSTVAKT_REQUIRE_TOOLS") == "1" {
			t.Fatal("promtool required (POSTVAKT_REQUIRE_TOOLS=1) but not installed (Debian package prometheus)")
		}
		t.Skip("promtool not installed (Debian package prometheus)")
	}
	return p
}

// TestPromtoolRules runs `promtool check rules` and the unit tests of every
// alert in prometheus/postvakt-alerts.test.yml.
func TestPromtoolRules(t *testing.T) {
	t.Parallel()
	p := promtool(t)
	for _, args := range [][]string{
		{"check", "rules", filepath.Join("prometheus", "postvakt-alerts.yml")},
		{"test", "rules", filepath.Join("prometheus", "postvakt-alerts.test.yml"), filepath.Join("prometheus", "postvakt-alerts-long.test.yml")},
	} {
		out, err := exec.Command(p, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %v: %v\n%s", args, err, out)
		}
	}
	// Every alert has at least one unit test that expects it to fire.
	var tests []byte
	for _, f := range []string{"postvakt-alerts.test.yml", "postvakt-alerts-long.test.yml"} {
		b, err := os.ReadFile(filepath.Join("prometheus", f))
		if err != nil {
			t.Fatal(err)
		}
		tests = append(tests, b...)
	}
	for _, g := range RuleGroups() {
		for _, r := range g.Rules {
			if !bytes.Contains(tests, []byte("alertname: "+r.Alert+"\n")) {
				t.Errorf("alert %s has no promtool unit test", r.Alert)
			}
		}
	}
}

// TestClockLabels checks that every clock="…" the dashboards and alert
// rules select is an SLA clock kind the ticket metrics export (sla.Kinds),
// so that renaming or adding a kind is noticed here.
func TestClockLabels(t *testing.T) {
	t.Parallel()
	re := regexp.MustCompile(`\bclock=~?"([^"]*)"`)
	n := 0
	for _, e := range Exprs() {
		for _, m := range re.FindAllStringSubmatch(e, -1) {
			for _, k := range strings.Split(m[1], "|") {
				n++
				if !slices.Contains(sla.Kinds(), k) {
					t.Errorf("%s: clock %q is not one of sla.Kinds() %v", e, k, sla.Kinds())
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no clock label in the dashboards or rules: the test checks nothing")
	}
}
