package server

import (
	"errors"
	"math"
	"net/http"
	"net/url"
	"testing"
)

func TestQueryInt(t *testing.T) {
	for _, c := range []struct {
		query       string
		def, lo, hi int
		want        int
		msg         string // empty: no error
	}{
		{"", 24, 1, 168, 24, ""},
		{"n=", 24, 1, 168, 24, ""},
		{"n=1", 24, 1, 168, 1, ""},
		{"n=168", 24, 1, 168, 168, ""},
		{"n=0", 24, 1, 168, 24, "n must be an integer from 1 to 168"},
		{"n=169", 24, 1, 168, 24, "n must be an integer from 1 to 168"},
		{"n=ten", 24, 1, 168, 24, "n must be an integer from 1 to 168"},
		{"n=1.5", 24, 1, 168, 24, "n must be an integer from 1 to 168"},
		{"n=0", 0, 0, math.MaxInt, 0, ""},
		{"n=123456", 0, 0, math.MaxInt, 123456, ""},
		{"n=-1", 0, 0, math.MaxInt, 0, "n must be a non-negative integer"},
		{"n=99999999999999999999", 0, 0, math.MaxInt, 0, "n must be a non-negative integer"},
		{"n=0", 0, 1, math.MaxInt, 0, "n must be an integer of at least 1"},
		{"n=7", 0, 1, math.MaxInt, 7, ""},
	} {
		q, _ := url.ParseQuery(c.query)
		got, err := QueryInt(q, "n", c.def, c.lo, c.hi)
		if got != c.want {
			t.Errorf("%q [%d, %d]: %d, want %d", c.query, c.lo, c.hi, got, c.want)
		}
		var se *Error
		switch {
		case c.msg == "" && err != nil:
			t.Errorf("%q [%d, %d]: %v", c.query, c.lo, c.hi, err)
		case c.msg != "" && (!errors.As(err, &se) || se.Status != http.StatusBadRequest || se.Message != c.msg):
			t.Errorf("%q [%d, %d]: error %#v, want a 400 %q", c.query, c.lo, c.hi, err, c.msg)
		}
	}
}
