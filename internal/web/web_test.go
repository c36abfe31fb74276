package web

import (
	"testing"
	"time"
)

func TestSafeNext(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"": "/", "/tickets?state=new": "/tickets?state=new", "//evil.example/": "/", "https://evil.example": "/",
		"/\\evil.example": "/", "/api/v1/tokens": "/",
		// Browsers drop tab, LF and CR anywhere in a URL (WHATWG URL
		// Standard): each of these is "//evil.example/phish".
		"/\t/evil.example/phish": "/", "/\n/evil.example/phish": "/", "/\r\n/evil.example": "/", "\t//evil.example": "/",
		"/\t\\evil.example": "/", " /evil": "/", "/x\x00y": "/", "/%09/evil.example/phish": "/%09/evil.example/phish",
		"/tick\tets": "/tickets", "javascript:alert(1)": "/", "/\x7f/evil": "/", "/a b": "/",
		"/tickets/42#timeline": "/tickets/42#timeline", "/%2F%2Fevil.example": "/",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCSVSafe(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"=HYPERLINK(1)": "'=HYPERLINK(1)", "+1": "'+1", "alice@x": "alice@x", "": ""} {
		if got := csvSafe(in); got != want {
			t.Errorf("csvSafe(%q) = %q", in, got)
		}
	}
}

func TestShort(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{40 * time.Second: "40s", 25 * time.Minute: "25m",
		190 * time.Minute: "3h 10m", 50 * time.Hour: "2d 2h"} {
		if got := short(d); got != want {
			t.Errorf("short(%v) = %q, want %q", d, got, want)
		}
	}
}
