package validate_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/config/validate"
)

// The text is what `postvakt check-config` prints for each problem
// (docs/configuration.md): file, line, full key, quoted value, message.
func TestErrorText(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  *validate.Error
		want string
	}{
		{validate.Field("data_dir", "", "must not be empty"), `data_dir: "": must not be empty`},
		{validate.Field("limits.max_line_length", 80, "must be at least 1000").In("smtp"), `smtp.limits.max_line_length: "80": must be at least 1000`},
		{validate.Fieldf("window", 10*time.Millisecond, "must be at least %s", time.Second), `window: "10ms": must be at least 1s`},
		{&validate.Error{File: "p.yaml", Line: 3, Key: "http.max_body_bytes", Value: "12", Msg: "must be at least 1024"}, `p.yaml:3: http.max_body_bytes: "12": must be at least 1024`},
		{&validate.Error{File: "p.yaml", Key: "database.url", Value: "x", Msg: "bad"}, `p.yaml: database.url: "x": bad`},
		{&validate.Error{Section: "oncall", Msg: "bad"}, `oncall: "": bad`},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}

// Every error wraps ErrInvalid, and the validating package's sentinel when
// it names one.
func TestSentinels(t *testing.T) {
	t.Parallel()
	errPolicy := errors.New("invalid policy")
	e := validate.Field("response", "0s", "must be positive").Wrapping(errPolicy)
	wrapped := fmt.Errorf("load: %w", errors.Join(e))
	if !errors.Is(wrapped, validate.ErrInvalid) || !errors.Is(wrapped, errPolicy) {
		t.Fatalf("%v: want ErrInvalid and the package's sentinel", wrapped)
	}
	if errors.Is(validate.Field("x", 1, "bad"), errPolicy) {
		t.Fatal("an error without Err matches another sentinel")
	}
	var fe *validate.Error
	if !errors.As(wrapped, &fe) || fe.Key != "response" {
		t.Fatalf("As: %v", fe)
	}
}

func TestInSection(t *testing.T) {
	t.Parallel()
	err := errors.Join(
		validate.Field("hostname", "", "must be set"),
		validate.Field("greylist.delay", "-1s", "must not be negative").In("smtp"),
		validate.Field("window", "0s", "must be at least 1s").In("abuse"),
		errors.New("not keyed"),
	)
	got := validate.InSection("smtp", err)
	want := []string{
		`smtp.hostname: "": must be set`,
		`smtp.greylist.delay: "-1s": must not be negative`,
		`smtp.abuse.window: "0s": must be at least 1s`,
		`smtp: "": not keyed`,
	}
	if len(got) != len(want) {
		t.Fatalf("got %d errors %v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i].Error() != want[i] {
			t.Errorf("[%d] = %q, want %q", i, got[i], want[i])
		}
	}
	// The package's own errors are copied, not changed.
	var first *validate.Error
	if !errors.As(validate.Errors(err)[0], &first) || first.Section != "" {
		t.Errorf("InSection changed its argument: %+v", first)
	}
	if n := len(validate.InSection("smtp", nil)); n != 0 {
		t.Errorf("a nil error gives %d errors", n)
	}
	single := validate.InSection("oncall", validate.Field("members", "", "rotas and policies need at least one member"))
	if len(single) != 1 || single[0].Error() != `oncall.members: "": rotas and policies need at least one member` {
		t.Errorf("single error: %v", single)
	}
}

func TestNest(t *testing.T) {
	t.Parallel()
	err := errors.Join(validate.Field("window", "0s", "must be at least 1s"), errors.New("dropped"), validate.Field("", "x", "whole section"))
	got := validate.Nest("abuse", err)
	if len(got) != 2 || got[0].Error() != `abuse.window: "0s": must be at least 1s` || got[1].Error() != `abuse: "x": whole section` {
		t.Fatalf("Nest = %v", got)
	}
}
