package txlog

import "testing"

func TestWarningAndReasonKeys(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"unknown[192.0.2.7]: SASL LOGIN authentication failed: (reason unavailable), sasl_username=ann":              "host[…]: SASL LOGIN authentication failed: (reason unavailable)",
		"mail.x.example[198.51.100.1]: SASL PLAIN authentication failed: authentication failure":                     "host[…]: SASL PLAIN authentication failed: authentication failure",
		"Message delivery request rate limit exceeded: 41 from unknown[192.0.2.7] for service 127.0.0.11:submission": "Message delivery request rate limit exceeded: N from host[…] for service N:submission",
		"hostname x.example does not resolve to address 192.0.2.1":                                                   "hostname x.example does not resolve to address N",
		"ABCDE12345: queue file size limit exceeded":                                                                 "ABCDE12345: queue file size limit exceeded",
	} {
		if got := WarningKey(in); got != want {
			t.Errorf("WarningKey(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"host mx.slow.example[192.0.2.1] said: 451 4.7.1 <s1@slow.example>: Try again (attempt 2) (in reply to RCPT TO command)": "host mx.slow.example[…] said: 451 4.7.1 <…>: Try again (attempt N) (in reply to RCPT TO command)",
		"connect to mx.a.example[192.0.2.9]:25: Connection refused":                                                              "connect to mx.a.example[…]: Connection refused",
		"250 2.0.0 Ok: queued as 1A2B3C4D5E":                                                                                     "250 2.0.0 Ok: queued as …",
		"<u@uni.example>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/uni.example.html":       "<…>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/uni.example.html",
	} {
		if got := ReasonKey(in); got != want {
			t.Errorf("ReasonKey(%q) = %q, want %q", in, got, want)
		}
	}
}
