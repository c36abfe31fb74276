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
	files, err := Generated(committed)
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

// committed are the options of the committed files (go:generate in
// dashboards.go).
var committed = Options{JobSelector: DefaultJobSelector, RunbookURL: ExampleRunbookURL}

func TestWithJob(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, sel, want string }{
		{`up == 0`, `job="mail"`, `up{job="mail"} == 0`},
		{`sum by (state) (postvakt_q{a="b"})`, `job="mail"`, `sum by (state) (postvakt_q{job="mail",a="b"})`},
		{`delta(postvakt_q[30m]) > 0 and postvakt_r{}`, `job=~"a|b",env="prod"`, `delta(postvakt_q{job=~"a|b",env="prod"}[30m]) > 0 and postvakt_r{job=~"a|b",env="prod",}`},
		{`label_values(postvakt_build_info, instance)`, `job="x"`, `label_values(postvakt_build_info{job="x"}, instance)`},
		{`up == 0`, ``, `up == 0`},
	} {
		if got := WithJob(c.in, c.sel); got != c.want {
			t.Errorf("WithJob(%q, %q) = %q, want %q", c.in, c.sel, got, c.want)
		}
	}
	for _, bad := range []string{`job=postvakt`, `job="a"}) or vector(1`, `{job="a"}`} {
		if CheckSelector(bad) == nil {
			t.Errorf("CheckSelector(%q) accepted", bad)
		}
	}
}

// TestGeneratedSelectors: a site's job selector and runbook base reach every
// query and rule, and nothing of the committed defaults is left.
func TestGeneratedSelectors(t *testing.T) {
	t.Parallel()
	files, err := Generated(Options{JobSelector: `job="mail"`, RunbookURL: "https://ops.uni.example/postvakt/"})
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		s := string(data)
		for _, stale := range []string{`job="postvakt"`, `job=\"postvakt\"`, "127.0.0.1:9780", ExampleRunbookURL} {
			if strings.Contains(s, stale) {
				t.Errorf("%s still contains %s", name, stale)
			}
		}
	}
	rules := string(files[filepath.Join("prometheus", "postvakt-alerts.yml")])
	if !strings.Contains(rules, `up{job="mail"} == 0`) || !strings.Contains(rules, "https://ops.uni.example/postvakt/runbooks/queue-growing") {
		t.Errorf("rules lack the selector or the runbook base:\n%s", rules)
	}
	if _, err := Generated(Options{JobSelector: `job="mail"`}); err == nil {
		t.Error("no runbook URL accepted")
	}
}

// TestClusterWideAggregation: the gauges read from the shared database are
// never summed across replicas and never restricted to the instance
// variable (the chosen instance may not be the exporting one).
func TestClusterWideAggregation(t *testing.T) {
	t.Parallel()
	cluster := []string{"postvakt_queue_messages", "postvakt_queue_oldest_age_seconds", "postvakt_tickets_open",
		"postvakt_sla_compliance_ratio", "postvakt_oncall_open_incidents", "postvakt_smtp_store_bodies",
		"postvakt_smtp_store_body_bytes", "postvakt_smtp_store_messages", "postvakt_smtp_relay_queue_messages"}
	n := 0
	for _, e := range Exprs() {
		for _, m := range cluster {
			if !regexp.MustCompile(`\b` + m + `\b`).MatchString(e) {
				continue
			}
			n++
			if strings.Contains(e, "$instance") || strings.Contains(e, "by (instance") {
				t.Errorf("%s: cluster-wide %s restricted or grouped by instance", e, m)
			}
			if regexp.MustCompile(`sum(\s+by\s*\([^)]*\))?\s*\(\s*(delta\()?` + m + `\b`).MatchString(e) {
				t.Errorf("%s: cluster-wide %s summed across replicas", e, m)
			}
		}
	}
	if n < 5 {
		t.Fatalf("only %d uses of cluster-wide gauges found", n)
	}
}
