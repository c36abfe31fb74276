package alertmanager

import (
	"testing"
)

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"version":"4","groupKey":"{}:{alertname=\"X\"}","status":"firing","receiver":"postvakt","groupLabels":{},"commonLabels":{"severity":"critical"},"commonAnnotations":{},"externalURL":"http://am","truncatedAlerts":0,"alerts":[{"status":"firing","labels":{"alertname":"X"},"annotations":{},"startsAt":"2026-03-29T01:30:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"","fingerprint":"abc"}]}`))
	f.Add([]byte(`{"version":"3"}`))
	f.Add([]byte(`{"version":"4","groupKey":"k","status":"resolved","receiver":"r","alerts":[],"extra":{"x":[1,2]}}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"version":"1","orgId":1,"state":"alerting","title":"[FIRING:1] X","message":"m","groupKey":"{}/{}:{}","status":"firing","receiver":"r","alerts":[{"status":"firing","fingerprint":"f","values":{"B":1.5,"C":null},"dashboardURL":"https://g/d","panelURL":"https://g/p","silenceURL":"https://g/s"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data)
		if err != nil {
			return
		}
		if (m.Version != VersionAlertmanager && m.Version != VersionGrafana) || m.GroupKey == "" || m.Receiver == "" || (m.Status != "firing" && m.Status != "resolved") {
			t.Fatalf("accepted an invalid message: %+v", m)
		}
		for _, a := range m.Alerts {
			if a.Fingerprint == "" {
				t.Fatal("accepted an alert without fingerprint")
			}
		}
		_ = Key(m)
		_ = Firing(m)
	})
}
