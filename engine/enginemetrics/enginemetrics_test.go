package enginemetrics_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/VictoriaMetrics/metrics"

	"github.com/uni-mail/postvakt/engine/enginemetrics"
)

// Every registered family has HELP text, names follow the conventions, and
// registering twice on one set is an error rather than a panic.
func TestFamilies(t *testing.T) {
	t.Parallel()
	set := metrics.NewSet()
	if _, err := enginemetrics.New(set, []string{"greylisted"}, []string{"new"}); err != nil {
		t.Fatal(err)
	}
	for _, name := range set.ListMetricNames() {
		fam, _, _ := strings.Cut(name, "{")
		if _, ok := enginemetrics.Help[fam]; !ok {
			t.Errorf("%s has no help text", fam)
		}
		if !strings.HasPrefix(fam, "postvakt_smtp_") {
			t.Errorf("%s: wrong prefix", fam)
		}
	}
	if _, err := enginemetrics.New(set, nil, nil); err == nil {
		t.Error("second registration succeeded")
	}
	var b bytes.Buffer
	if err := enginemetrics.AddHelp(&b, strings.NewReader("# HELP postvakt_smtp_rejects_total\n# TYPE postvakt_smtp_rejects_total counter\n")); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "# HELP postvakt_smtp_rejects_total Refused") {
		t.Errorf("AddHelp: %q", b.String())
	}
}
