package dashboards

import (
	"fmt"
	"os"
	"path/filepath"
)

// DefaultBaseURL is the base of runbook URLs in the committed rule file:
// postvakt's default HTTP address. Regenerate with the site's external URL
// (http.base_url) for production.
const DefaultBaseURL = "http://127.0.0.1:9780"

const provisioningDashboards = `# Grafana dashboard provisioning for postvakt. Copy grafana/*.json to the
# path below (or point the path at this folder) and put this file in
# /etc/grafana/provisioning/dashboards/.
apiVersion: 1
providers:
  - name: postvakt
    folder: postvakt
    type: file
    disableDeletion: false
    allowUiUpdates: false
    updateIntervalSeconds: 60
    options:
      path: /var/lib/grafana/dashboards/postvakt
`

const provisioningDatasource = `# An example Prometheus data source for /etc/grafana/provisioning/datasources/.
# The dashboards pick the data source through their "datasource" variable, so
# any Prometheus-compatible source (Prometheus, VictoriaMetrics) works.
apiVersion: 1
datasources:
  - name: Prometheus
    type: prometheus
    access: proxy
    url: http://127.0.0.1:9090
    isDefault: true
`

// Generated lists the generated files (relative to the dashboards folder)
// with their contents.
func Generated(baseURL string) (map[string][]byte, error) {
	out := map[string][]byte{}
	files, err := Files()
	if err != nil {
		return nil, err
	}
	for name, data := range files {
		out[filepath.Join("grafana", name)] = data
	}
	out[filepath.Join("grafana", "provisioning", "dashboards.yaml")] = []byte(provisioningDashboards)
	out[filepath.Join("grafana", "provisioning", "datasources.yaml")] = []byte(provisioningDatasource)
	rules, err := RulesYAML(baseURL)
	if err != nil {
		return nil, err
	}
	out[filepath.Join("prometheus", "postvakt-alerts.yml")] = rules
	return out, nil
}

// Generate writes the generated files under dir (the dashboards folder).
func Generate(dir, baseURL string) ([]string, error) {
	files, err := Generated(baseURL)
	if err != nil {
		return nil, err
	}
	var written []string
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return nil, fmt.Errorf("write %s: %w", p, err)
		}
		written = append(written, p)
	}
	return written, nil
}
