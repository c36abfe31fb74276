// Package heartbeat owns heartbeats: named signals that must keep
// arriving, such as Alertmanager's always-firing Watchdog alert or a cron
// job's ping. When one stops arriving for longer than its timeout an
// incident opens and pages; when it arrives again the incident resolves.
// Whether a heartbeat is late is a pure function; the check loop is thin.
package heartbeat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/uni-mail/postvakt/config/timezone"
	"github.com/uni-mail/postvakt/oncall/incident"
)

// Spec is one heartbeat in configuration.
//
//   - name: watchdog
//     alertname: Watchdog   # beats when this alert arrives on the webhook
//     timeout: 10m
//     policy: mail-default
//     severity: critical
type Spec struct {
	Name string `yaml:"name"`
	// Alertname, when set, makes every firing Alertmanager alert with this
	// alertname label count as a beat.
	Alertname string        `yaml:"alertname"`
	Timeout   time.Duration `yaml:"timeout"`
	Policy    string        `yaml:"policy"`
	Severity  string        `yaml:"severity"`
}

// Validate names a bad field.
func (s Spec) Validate() error {
	var errs []error
	if s.Name == "" {
		errs = append(errs, fmt.Errorf("heartbeat name is required"))
	}
	if s.Timeout < time.Second {
		errs = append(errs, fmt.Errorf("heartbeat %q: timeout %s: must be at least 1s", s.Name, s.Timeout))
	}
	if s.Policy == "" {
		errs = append(errs, fmt.Errorf("heartbeat %q: policy is required", s.Name))
	}
	return errors.Join(errs...)
}

// State is a heartbeat as stored.
type State struct {
	Name      string    `json:"name"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	Late      bool      `json:"late"`
}

// Late reports whether a heartbeat last seen at lastSeen is late at now.
func Late(s Spec, lastSeen, now time.Time) bool { return now.Sub(lastSeen) > s.Timeout }

// Store keeps heartbeat states (internal/store/oncallstore).
type Store interface {
	EnsureHeartbeat(ctx context.Context, name string, at time.Time) error
	Beat(ctx context.Context, name string, at time.Time) error
	Heartbeats(ctx context.Context) ([]State, error)
	SetHeartbeatLate(ctx context.Context, name string, from, to bool) (bool, error)
}

// Incidents is what the monitor needs of package incident.
type Incidents interface {
	Trigger(ctx context.Context, tr incident.Trigger) (incident.Incident, bool, error)
	ResolveKey(ctx context.Context, key string, alerts []incident.Alert, by string) (incident.Incident, bool, error)
}

// Monitor checks heartbeats.
type Monitor struct {
	Specs     []Spec
	Store     Store
	Incidents Incidents
	// Location is the service time zone (config/timezone) of the times in
	// incident summaries; nil: UTC.
	Location *time.Location
	Logger   *slog.Logger
	Now      func() time.Time
}

// Key is the incident key of a heartbeat.
func Key(name string) string { return "heartbeat/" + name }

// Spec returns the named heartbeat's spec.
func (m *Monitor) Spec(name string) (Spec, bool) {
	for _, s := range m.Specs {
		if s.Name == name {
			return s, true
		}
	}
	return Spec{}, false
}

// Beat records a beat of a configured heartbeat.
func (m *Monitor) Beat(ctx context.Context, name string) error {
	if _, ok := m.Spec(name); !ok {
		return fmt.Errorf("unknown heartbeat %q", name)
	}
	return m.Store.Beat(ctx, name, m.Now())
}

// BeatAlertname records a beat of every heartbeat watching alertname.
func (m *Monitor) BeatAlertname(ctx context.Context, alertname string) (bool, error) {
	hit := false
	for _, s := range m.Specs {
		if s.Alertname != "" && s.Alertname == alertname {
			hit = true
			if err := m.Store.Beat(ctx, s.Name, m.Now()); err != nil {
				return hit, err
			}
		}
	}
	return hit, nil
}

// Start makes sure every heartbeat has a row: a heartbeat never seen is
// timed from the service's start.
func (m *Monitor) Start(ctx context.Context) error {
	for _, s := range m.Specs {
		if err := m.Store.EnsureHeartbeat(ctx, s.Name, m.Now()); err != nil {
			return err
		}
	}
	return nil
}

// Check opens an incident for each heartbeat that turned late and
// resolves it for each that arrived again. The late flag flips with a
// conditional UPDATE, so one replica acts.
func (m *Monitor) Check(ctx context.Context) error {
	states, err := m.Store.Heartbeats(ctx)
	if err != nil {
		return err
	}
	now := m.Now()
	var errs []error
	for _, st := range states {
		spec, ok := m.Spec(st.Name)
		if !ok {
			continue
		}
		late := Late(spec, st.LastSeen, now)
		if late == st.Late {
			continue
		}
		flipped, err := m.Store.SetHeartbeatLate(ctx, st.Name, st.Late, late)
		if err != nil || !flipped {
			errs = append(errs, err)
			continue
		}
		if late {
			_, _, err = m.Incidents.Trigger(ctx, incident.Trigger{
				Key: Key(spec.Name), Source: "heartbeat", Severity: spec.Severity, Policy: spec.Policy,
				Title:   fmt.Sprintf("Heartbeat %s stopped", spec.Name),
				Summary: fmt.Sprintf("No heartbeat %q since %s (timeout %s).", spec.Name, timezone.Format(st.LastSeen, m.Location), spec.Timeout),
				Labels:  map[string]string{"heartbeat": spec.Name},
			})
		} else {
			_, _, err = m.Incidents.ResolveKey(ctx, Key(spec.Name), nil, "heartbeat")
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
