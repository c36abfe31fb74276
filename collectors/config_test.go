package collectors

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/config/validate"
)

func TestDefaultIsValidAndErrorsNameKeys(t *testing.T) {
	t.Parallel()
	if err := Default().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	c := Default()
	c.Files = []FileConfig{{Path: "/var/log/mail.log", Timezone: "Nowhere/Else"}, {Path: "/var/log/mail.log"}, {Path: ""}}
	c.Syslog.TCP = "nope"
	c.Syslog.Timezone = "Atlantis/Capital"
	c.Timezone = "Mars/Olympus"
	c.LocalNetworks = []string{"10.0.0.0/33"}
	c.RetentionDays = 0
	c.Abuse.AuthFailuresPerIP = 0
	c.Trace.ShowSubjectsFrom = "boss"
	err := c.Validate()
	var keys []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var fe *validate.Error
		if !errors.As(e, &fe) {
			t.Fatalf("not keyed: %v", e)
		}
		keys = append(keys, fe.Key)
	}
	for _, want := range []string{"files[1].path", "files[2].path", "files[0].timezone", "syslog.tcp", "syslog.timezone", "timezone", "local_networks[0]",
		"retention_days", "abuse.auth_failures_per_ip", "trace.show_subjects_from"} {
		if !slices.Contains(keys, want) {
			t.Errorf("no error for %s in %v", want, keys)
		}
	}
}

// TestLogLocations checks which zone each log source's year-less stamps
// are read in: the source's own, else log_timezone, else its old name.
func TestLogLocations(t *testing.T) {
	t.Parallel()
	c := Default()
	if loc, err := c.LogLocation(); err != nil || loc != time.Local {
		t.Errorf("default: %v %v", loc, err)
	}
	c.Timezone = "Europe/Oslo" // the old name alone still works
	if loc, _ := c.LogLocation(); loc.String() != "Europe/Oslo" {
		t.Errorf("old name: %v", loc)
	}
	c.Timezone, c.LogTimezone = "", "UTC"
	c.Files = []FileConfig{{Path: "/a", Timezone: "Europe/Prague"}, {Path: "/b"}}
	c.Syslog.Timezone = "Asia/Shanghai"
	for i, want := range []string{"Europe/Prague", "UTC"} {
		if loc, err := c.FileLocation(i); err != nil || loc.String() != want {
			t.Errorf("file %d: %v %v, want %s", i, loc, err, want)
		}
	}
	if loc, _ := c.SyslogLocation(); loc.String() != "Asia/Shanghai" {
		t.Errorf("syslog: %v", loc)
	}
	c.Timezone, c.LogTimezone = "Europe/Oslo", "UTC"
	if err := c.Validate(); err == nil {
		t.Error("both names with different zones validated")
	}
}
