package dashboards

import (
	"fmt"
	"os"
	"path/filepath"
)

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
func Generated(opts Options) (map[string][]byte, error) {
	if err := CheckSelector(opts.JobSelector); err != nil {
		return nil, err
	}
	if opts.RunbookURL == "" {
		return nil, fmt.Errorf("the runbook base URL is required (postvakt's external URL, http.base_url)")
	}
	out := map[string][]byte{}
	files, err := Files(opts.JobSelector)
	if err != nil {
		return nil, err
	}
	for name, data := range files {
		out[filepath.Join("grafana", name)] = data
	}
	out[filepath.Join("grafana", "provisioning", "dashboards.yaml")] = []byte(provisioningDashboards)
	out[filepath.Join("grafana", "provisioning", "datasources.yaml")] = []byte(provisioningDatasource)
	rules, err := RulesYAML(opts)
	if err != nil {
		return nil, err
	}
	out[filepath.Join("prometheus", "postvakt-alerts.yml")] = rules
	return out, nil
}

// Generate writes the generated files under dir (the dashboards folder).
func Generate(dir string, opts Options) ([]string, error) {
	files, err := Generated(opts)
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
