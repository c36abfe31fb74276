package alertmanager

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// TestDecodeGrafana: Grafana alerting's webhook (version 1, the payload
// of its documentation with orgId, state, title, message and per-alert
// values and links) decodes, is keyed grafana/<orgId>/<receiver>/<groupKey>
// and has the source grafana; another version is still refused.
func TestDecodeGrafana(t *testing.T) {
	t.Parallel()
	body, err := os.ReadFile("testdata/grafana-firing.json")
	if err != nil {
		t.Fatal(err)
	}
	m, err := Decode(body)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if !m.Grafana() || m.OrgID != 1 || m.State != "alerting" || !strings.HasPrefix(m.Title, "[FIRING:1]") || m.Message == "" {
		t.Fatalf("group %+v", m)
	}
	a := m.Alerts[0]
	if a.DashboardURL == "" || a.PanelURL == "" || a.SilenceURL == "" || a.Values["B"] == nil || *a.Values["B"] != 5123 || a.Values["D"] != nil {
		t.Fatalf("alert %+v", a)
	}
	if got := Key(m); !strings.HasPrefix(got, "grafana/1/postvakt/{}/") {
		t.Errorf("Key = %q", got)
	}
	if Source(m) != "grafana" || !Firing(m) {
		t.Errorf("Source %q, Firing %v", Source(m), Firing(m))
	}
	for _, v := range []string{"2", "3", "5", ""} {
		b := strings.Replace(string(body), `"version": "1"`, `"version": "`+v+`"`, 1)
		if _, err := Decode([]byte(b)); !errors.Is(err, ErrVersion) {
			t.Errorf("version %q: %v", v, err)
		}
	}
}
