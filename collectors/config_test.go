package collectors

import (
	"errors"
	"slices"
	"testing"

	"github.com/uni-mail/postvakt/config/validate"
)

func TestDefaultIsValidAndErrorsNameKeys(t *testing.T) {
	t.Parallel()
	if err := Default().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	c := Default()
	c.Files = []FileConfig{{Path: "/var/log/mail.log"}, {Path: "/var/log/mail.log"}, {Path: ""}}
	c.Syslog.TCP = "nope"
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
	for _, want := range []string{"files[1].path", "files[2].path", "syslog.tcp", "timezone", "local_networks[0]",
		"retention_days", "abuse.auth_failures_per_ip", "trace.show_subjects_from"} {
		if !slices.Contains(keys, want) {
			t.Errorf("no error for %s in %v", want, keys)
		}
	}
}
