// Package reload owns the reload of a running service's configuration
// (docs/configuration.md, "Reloading"): SIGHUP and POST
// /api/v1/admin/reload both call Manager.Reload, which reads the file again
// and validates it as check-config does, asks every registered Hook to check
// its part of the new configuration, and only when all agree applies them
// all. The Report names each changed key that took effect and each one that
// needs a restart; a file that does not load, or a part that a hook refuses
// (a certificate that does not parse), is refused with FILE:LINE and
// changes nothing.
//
// A capability that can take changes while running registers a Hook for
// the keys it applies (internal/app, Env.Reload); a changed key that no
// hook claims needs a restart, and the report says so.
package reload

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/uni-mail/postvakt/internal/config"
)

// Hook is one part of the service that applies changes while running.
type Hook struct {
	// Name names the part in logs and errors ("engine", "notices").
	Name string
	// Keys are the dotted keys the hook applies, each with every key
	// below it ("smtp.whitelist" claims "smtp.whitelist.clients").
	Keys []string
	// Prepare checks next (cur is the configuration in force) and returns
	// the function that applies it, and notes of changes the keys do not
	// show (a renewed certificate in the same file). It must not change
	// anything itself. An error refuses the whole reload: no hook's apply
	// runs. Prepare runs on every reload, changed keys or not.
	Prepare func(ctx context.Context, cur, next *config.Config) (apply func(), notes []string, err error)
}

// Report is the outcome of a reload.
type Report struct {
	// File is the configuration file read.
	File string `json:"file"`
	// At is when the reload ran; By who asked ("signal", "api:NAME").
	At time.Time `json:"at"`
	By string    `json:"by"`
	// Applied are the changed keys that took effect.
	Applied []string `json:"applied"`
	// Notes describe changes that no key shows, such as a renewed TLS
	// certificate in the same file.
	Notes []string `json:"notes"`
	// RestartRequired are the changed keys that take effect only when the
	// service restarts.
	RestartRequired []string `json:"restart_required"`
	// Warnings are the file's deprecated keys (check-config's warnings).
	Warnings []string `json:"warnings"`
}

// Changed reports whether the reload changed anything or found anything
// that needs a restart.
func (r Report) Changed() bool {
	return len(r.Applied)+len(r.Notes)+len(r.RestartRequired) > 0
}

// Summary says in one line what changed, for the log.
func (r Report) Summary() string {
	if !r.Changed() {
		return "nothing changed"
	}
	var parts []string
	if len(r.Applied) > 0 {
		parts = append(parts, "applied: "+strings.Join(r.Applied, ", "))
	}
	if len(r.Notes) > 0 {
		parts = append(parts, strings.Join(r.Notes, "; "))
	}
	if len(r.RestartRequired) > 0 {
		parts = append(parts, "need a restart: "+strings.Join(r.RestartRequired, ", "))
	}
	return strings.Join(parts, "; ")
}

var (
	// ErrRejected is wrapped by the error of a reload that changed
	// nothing because the file did not load or a hook refused it.
	ErrRejected = errors.New("configuration rejected, the running one is kept")
	// ErrNoFile is returned when the service runs on the built-in
	// defaults: there is no file to read again.
	ErrNoFile = errors.New("running on the built-in defaults: there is no configuration file to reload")
)

// Options configure a Manager.
type Options struct {
	// Path is the configuration file; empty: the built-in defaults.
	Path string
	// Config is the configuration in force at start.
	Config *config.Config
	// Load reads the file; nil: config.Load with the process environment.
	Load   func(path string) (*config.Config, error)
	Logger *slog.Logger
	Now    func() time.Time
}

// Manager runs reloads, one at a time.
type Manager struct {
	o     Options
	mu    sync.Mutex
	start *config.Config // in force since the start: what a restart would change
	cur   *config.Config // in force now
	hooks []Hook
}

// New returns a Manager with no hooks.
func New(o Options) *Manager {
	if o.Load == nil {
		o.Load = func(p string) (*config.Config, error) { return config.Load(p, nil) }
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Manager{o: o, start: o.Config, cur: o.Config}
}

// Register adds a hook; hooks are asked in the order they were registered.
func (m *Manager) Register(h Hook) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.hooks = append(m.hooks, h)
}

// Current is the configuration in force: the one at start, or the last
// one a reload applied.
func (m *Manager) Current() *config.Config {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cur
}

// Reload reads the file again and applies what can change while running;
// by names who asked. It returns ErrNoFile on the defaults, an error
// wrapping ErrRejected (with FILE:LINE where there is one) when nothing
// was applied, and otherwise the Report, which it also logs.
func (m *Manager) Reload(ctx context.Context, by string) (Report, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rep := Report{File: m.o.Path, At: m.o.Now(), By: by, Applied: []string{}, Notes: []string{}, RestartRequired: []string{}, Warnings: []string{}}
	if m.o.Path == "" {
		return rep, ErrNoFile
	}
	next, err := m.o.Load(m.o.Path)
	if err != nil {
		err = fmt.Errorf("%w:\n%w", ErrRejected, err)
		m.o.Logger.Error("reload: configuration rejected, keeping the running one", "by", by, "err", err)
		return rep, err
	}
	var applies []func()
	var errs []error
	for _, h := range m.hooks {
		apply, notes, err := h.Prepare(ctx, m.cur, next)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if apply != nil {
			applies = append(applies, apply)
		}
		rep.Notes = append(rep.Notes, notes...)
	}
	if err := errors.Join(errs...); err != nil {
		err = fmt.Errorf("%w:\n%w", ErrRejected, err)
		m.o.Logger.Error("reload: configuration rejected, keeping the running one", "by", by, "err", err)
		return Report{File: rep.File, At: rep.At, By: by}, err
	}
	for _, apply := range applies {
		apply()
	}
	for _, k := range config.Diff(m.cur, next) {
		if m.claimed(k) {
			rep.Applied = append(rep.Applied, k)
		}
	}
	// A change that needs a restart is reported until the restart, on
	// every reload after the one that read it.
	for _, k := range config.Diff(m.start, next) {
		if !m.claimed(k) {
			rep.RestartRequired = append(rep.RestartRequired, k)
		}
	}
	rep.Warnings = append(rep.Warnings, next.Warnings()...)
	m.cur = next
	attrs := []any{"by", by, "file", m.o.Path}
	if len(rep.Applied) > 0 {
		attrs = append(attrs, "applied", strings.Join(rep.Applied, ","))
	}
	if len(rep.Notes) > 0 {
		attrs = append(attrs, "notes", strings.Join(rep.Notes, "; "))
	}
	if len(rep.RestartRequired) > 0 {
		attrs = append(attrs, "restart_required", strings.Join(rep.RestartRequired, ","))
	}
	m.o.Logger.Info("configuration reloaded: "+rep.Summary(), attrs...)
	for _, w := range rep.Warnings {
		m.o.Logger.Warn("configuration: " + w)
	}
	return rep, nil
}

// claimed reports whether some hook applies key.
func (m *Manager) claimed(key string) bool {
	for _, h := range m.hooks {
		if slices.ContainsFunc(h.Keys, func(p string) bool { return key == p || strings.HasPrefix(key, p+".") }) {
			return true
		}
	}
	return false
}
