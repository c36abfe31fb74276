package correlate

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/collectors/logparse"
)

// corpusDir holds the corpora generated with real Postfix, postgrey,
// amavisd-new, Dovecot and Exim on loopback, and their truth.json written
// by the generator from its own records (collectors/corpus/README.md).
const corpusDir = "../corpus"

// corpusRef is a reference time for the corpus' year-less timestamps.
var corpusRef = time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)

var postfixCorpus = []string{"mx1/postfix.log", "mx1/mail.log", "smtp/mail.log", "imap/mail.log"}

// corpusEvents frames and parses the lines of the Postfix corpus' files that
// contain one of the given texts (all lines when none is given), merged by
// time as an import merges them.
func corpusEvents(t *testing.T, dir string, files []string, only ...string) []logparse.Event {
	t.Helper()
	var evs []logparse.Event
	for _, name := range files {
		path := filepath.Join(corpusDir, dir, name)
		fh, err := os.Open(path)
		if os.IsNotExist(err) {
			t.Skipf("corpus not present at %s", path)
		}
		if err != nil {
			t.Fatal(err)
		}
		fr := logparse.NewFramer(corpusRef, time.UTC)
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			l := sc.Text()
			f, err := fr.Frame(l)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			keep := len(only) == 0
			for _, o := range only {
				keep = keep || strings.Contains(l, o)
			}
			if keep {
				evs = append(evs, logparse.Parse(f))
			}
		}
		fh.Close()
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].Header().Time.Before(evs[j].Header().Time) })
	return evs
}

// corpusFind returns the first submatch of re in the first line of a
// corpus file that contains has (the corpus is regenerated now and then:
// its queue IDs are found, not written down).
func corpusFind(t *testing.T, file, has, re string) []string {
	t.Helper()
	fh, err := os.Open(filepath.Join(corpusDir, "postfix", file))
	if err != nil {
		t.Skipf("corpus not present: %v", err)
	}
	defer fh.Close()
	rx := regexp.MustCompile(re)
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if l := sc.Text(); strings.Contains(l, has) {
			if m := rx.FindStringSubmatch(l); m != nil {
				return m
			}
		}
	}
	t.Fatalf("no line with %q matching %s in %s", has, re, file)
	return nil
}

// TestBounceReplyIsHandoff: a GTUBE message of the burst, which amavis'
// ORIGINATING bank bounced ("250 2.5.0 Ok, id=…, BOUNCE" to each
// recipient): three hand-offs, no delivery.
func TestBounceReplyIsHandoff(t *testing.T) {
	t.Parallel()
	qid := corpusFind(t, "smtp/mail.log", ", BOUNCE)", `\]: ([0-9A-F]+): to=<`)[1]
	n := 0
	for _, ev := range corpusEvents(t, "postfix", postfixCorpus[2:3], qid+": to=<") {
		if d, ok := ev.(*logparse.Delivery); ok && d.FilterBounced {
			n++
		}
	}
	c, col := feed(t, corpusEvents(t, "postfix", postfixCorpus, qid), Options{})
	s := c.Summary()
	if n == 0 || s.Delivered != 0 || s.FilterHandoffs != n || s.SentLines != n || len(col.msgs) != 1 || col.msgs[0].Received() != 1 {
		t.Fatalf("delivered %d hand-offs %d sent %d records %d", s.Delivered, s.FilterHandoffs, s.SentLines, len(col.msgs))
	}
}

// TestSplitAmavisLineLinks: amavis cut its result line for a message to
// many recipients inside "queued_as:" (the pieces end and begin with
// "..."); joined, it names the re-injected copy, and the message is
// received once.
func TestSplitAmavisLineLinks(t *testing.T) {
	t.Parallel()
	m := corpusFind(t, "mx1/mail.log", "...", `amavis\[\d+\]: (\(\d+-\d+\)) Passed .*Queue-ID: ([0-9A-F]+), .*queued_as(:? ?[0-9A-F]*)\.\.\.$`)
	logID, qid := m[1], m[2]
	copyID := corpusFind(t, "mx1/postfix.log", qid+": to=<", `queued as ([0-9A-F]+)\)`)[1]
	c, col := feed(t, corpusEvents(t, "postfix", postfixCorpus, qid, copyID, logID), Options{})
	s := c.Summary()
	if len(col.msgs) != 1 || s.ReceivedFromClients != 1 || s.AmavisJoined != 1 || s.Reinjections != 1 {
		t.Fatalf("%s %s: records %d received %d joined %d re-injections %d", qid, copyID, len(col.msgs), s.ReceivedFromClients, s.AmavisJoined, s.Reinjections)
	}
	msg := col.msgs[0]
	if len(msg.Queues) != 2 || !msg.Queues[1].LinkedByAmavis || msg.Filter == nil || msg.Filter.Category != "CLEAN" || msg.Received() != 1 {
		t.Fatalf("record %+v", msg)
	}
}

// TestAuthWithoutMailIsLogin: SMTP AUTH sessions count their successful
// AUTH from the disconnect line, whether they sent mail or not; the
// account is the one the session's mail named, missing otherwise.
func TestAuthWithoutMailIsLogin(t *testing.T) {
	t.Parallel()
	evs := []logparse.Event{
		line(t, 0, "postfix/submission/smtpd", "connect from pc.uni.example[192.0.2.5]"),
		line(t, 1, "postfix/submission/smtpd", "disconnect from pc.uni.example[192.0.2.5] ehlo=2 starttls=1 auth=1 quit=1 commands=5"),
		line(t, 2, "postfix/submission/smtpd", "connect from pc.uni.example[192.0.2.5]"),
		line(t, 3, "postfix/submission/smtpd", "warning: pc.uni.example[192.0.2.5]: SASL PLAIN authentication failed: (reason unavailable), sasl_username=ann@uni.example"),
		line(t, 4, "postfix/submission/smtpd", "AAAAA11111: client=pc.uni.example[192.0.2.5], sasl_method=PLAIN, sasl_username=ann@uni.example"),
		line(t, 5, "postfix/submission/smtpd", "disconnect from pc.uni.example[192.0.2.5] ehlo=1 auth=1/2 mail=1 rcpt=1 data=1 quit=1 commands=6/7"),
		line(t, 6, "postfix/submission/smtpd", "connect from x.example[192.0.2.6]"),
		line(t, 7, "postfix/submission/smtpd", "disconnect from x.example[192.0.2.6] ehlo=1 auth=0/1 quit=1 commands=2/3"),
	}
	c, col := feed(t, evs, Options{})
	var ok, failed []Login
	for _, l := range col.logins {
		if l.OK {
			ok = append(ok, l)
		} else {
			failed = append(failed, l)
		}
	}
	if len(ok) != 2 || ok[0].User != "" || ok[0].RemoteIP != "192.0.2.5" || ok[1].User != "ann@uni.example" ||
		!ok[1].Time.Equal(t0.Add(4*time.Second)) || len(failed) != 1 || c.Summary().SASLLogins != 2 {
		t.Fatalf("ok %+v failed %+v", ok, failed)
	}
}

// TestPlaceholderUserIsMissing: a SASL failure with Postfix's
// "(unavailable)" is a failed login of no named account.
func TestPlaceholderUserIsMissing(t *testing.T) {
	t.Parallel()
	_, col := feed(t, []logparse.Event{
		line(t, 0, "postfix/submission/smtpd", "warning: x[192.0.2.6]: SASL LOGIN authentication failed: UGFzc3dvcmQ6, sasl_username=(unavailable)"),
	}, Options{})
	if len(col.logins) != 1 || col.logins[0].User != "" || col.logins[0].OK {
		t.Fatalf("%+v", col.logins)
	}
}

// TestReleaseAndFilterNotification: the copy amavis sends again when the
// postmaster releases a quarantined message, and amavis' own notification
// of a message it bounced, are not received messages (real lines).
func TestReleaseAndFilterNotification(t *testing.T) {
	t.Parallel()
	rel := corpusFind(t, "mx1/mail.log", "Quarantined message release", `(\(rel-([^)]+)\)) Quarantined message release \([^)]*\): (\S+) `)
	copyID := corpusFind(t, "mx1/postfix.log", "resent-message-id=<"+rel[3]+"-"+rel[2]+"@", `: ([0-9A-F]+): resent-message-id`)[1]
	c, col := feed(t, corpusEvents(t, "postfix", postfixCorpus, copyID, rel[1]), Options{})
	if len(col.msgs) != 1 || col.msgs[0].Origin != OriginRelease || col.msgs[0].ReleasedMailID != rel[3] ||
		col.msgs[0].Received() != 0 || c.Summary().QuarantineReleases != 1 {
		t.Fatalf("release: %+v", col.msgs)
	}
	// amavis' notifications of the burst messages it bounced (from the
	// re-injection client localhost, the null sender): the smtp host's
	// file receives only its submissions (truth.json received_by_host)
	c, col = feed(t, corpusEvents(t, "postfix", postfixCorpus[2:3]), Options{})
	notes := 0
	for _, m := range col.msgs {
		if m.Origin == OriginFilter {
			notes++
			if !m.FilterNotification || m.Received() != 0 || m.From != "" || m.ClientIP != "127.0.0.1" {
				t.Errorf("notification %+v", m)
			}
		}
	}
	if notes == 0 {
		t.Error("no notification of amavis found")
	}
	var tr struct {
		Summary struct {
			ByHost map[string]int `json:"received_by_host"`
		}
	}
	b, err := os.ReadFile(filepath.Join(corpusDir, "postfix", "truth.json"))
	if err != nil || json.Unmarshal(b, &tr) != nil {
		t.Fatalf("truth.json: %v", err)
	}
	if got, want := c.Summary().ReceivedFromClients, tr.Summary.ByHost["smtp"]; got != want {
		t.Errorf("smtp host received %d, want %d (truth.json)", got, want)
	}
}

// TestRefusedAfterData: a header_checks reject after smtpd created the queue
// file (real lines): the message was refused, not received.
func TestRefusedAfterData(t *testing.T) {
	t.Parallel()
	qid := corpusFind(t, "mx1/postfix.log", "reject: header Subject: make money fast; from=<rektor", `: ([0-9A-F]+): reject: header`)[1]
	c, col := feed(t, corpusEvents(t, "postfix", postfixCorpus, qid), Options{})
	if len(col.msgs) != 1 || col.msgs[0].State != StateRefused || col.msgs[0].Received() != 0 || c.Summary().Refused != 1 {
		t.Fatalf("%+v", col.msgs)
	}
}

// corpusTruth is the part of the Postfix corpus' truth.json (its
// generator's own records) the correlator's counters are checked against.
type corpusTruth struct {
	Summary struct {
		Received, Delivered, FilterHandoffs, SentLines, Deferred, DeferredMessages, Bounced, Expired int
		CleanupRejected, SASLFailures, Greylisted, RateLimited                                       int
		DeliveredLocalLMTP                                                                           int `json:"delivered_local_lmtp"`
		DeliveredRemote                                                                              int `json:"delivered_remote"`
		FilterHandoffsBounce                                                                         int `json:"filter_handoffs_bounce_reply"`
		SizeLimit                                                                                    int `json:"size_limit_exceeded_after_data"`
		RejectedTotal                                                                                int `json:"rejected_total"`
		Logins                                                                                       []struct {
			Count            int
			Protocol, Result string
		}
	}
}

// TestPostfixCorpusTruth: the whole Postfix corpus (three hosts, four
// files) through the correlator gives the generator's figures.
func TestPostfixCorpusTruth(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join(corpusDir, "postfix", "truth.json"))
	if err != nil {
		t.Skipf("corpus not present: %v", err)
	}
	var tr corpusTruth
	dec := json.NewDecoder(strings.NewReader(strings.NewReplacer(`"filter_handoffs"`, `"filterhandoffs"`, `"sent_lines"`, `"sentlines"`,
		`"deferred_messages"`, `"deferredmessages"`, `"cleanup_rejected"`, `"cleanuprejected"`, `"sasl_failures"`, `"saslfailures"`,
		`"rate_limited_mail_450"`, `"ratelimited"`).Replace(string(b))))
	if err := dec.Decode(&tr); err != nil {
		t.Fatal(err)
	}
	c, col := feed(t, corpusEvents(t, "postfix", postfixCorpus), Options{})
	s, w := c.Summary(), tr.Summary
	check := func(name string, got, want int) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %d, want %d (truth.json)", name, got, want)
		}
	}
	check("received", s.ReceivedFromClients, w.Received)
	check("refused after data (cleanup rejects + size limit)", s.Refused, w.CleanupRejected+w.SizeLimit)
	check("delivered", s.Delivered, w.Delivered)
	check("delivered lmtp", s.DeliveredLMTP, w.DeliveredLocalLMTP)
	check("delivered remote", s.DeliveredRemote, w.DeliveredRemote)
	check("filter hand-offs", s.FilterHandoffs, w.FilterHandoffs)
	check("sent lines", s.SentLines, w.SentLines)
	check("deferred", s.DeferredLines, w.Deferred)
	check("deferred messages", s.DeferredMessages, w.DeferredMessages)
	check("bounced", s.Bounced, w.Bounced)
	check("expired", s.Expired, w.Expired)
	check("rejects", s.RejectsTotal, w.RejectedTotal)
	check("cleanup rejects", s.CleanupRejects, w.CleanupRejected)
	check("greylisted", s.Greylisted, w.Greylisted)
	check("SASL failures", s.SASLFailures, w.SASLFailures)
	check("rate limited (450 too much mail)", s.RateLimited, w.RateLimited)
	for _, l := range w.Logins {
		if l.Protocol == "smtp" && l.Result == "ok" {
			check("SMTP AUTH ok", s.SASLLogins, l.Count)
		}
	}
	if len(col.msgs) == 0 {
		t.Fatal("no records")
	}
}

// TestEximCorpusTruth: Exim's main log through the correlator gives the
// generator's figures.
func TestEximCorpusTruth(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join(corpusDir, "exim", "truth.json"))
	if err != nil {
		t.Skipf("corpus not present: %v", err)
	}
	var tr struct {
		Summary struct {
			Received, Delivered, Deferred, Failed int
			DeliveredLocal                        int `json:"delivered_local"`
			DeliveredRemote                       int `json:"delivered_remote"`
			DeferredMessages                      int `json:"deferred_messages"`
			RejectedTotal                         int `json:"rejected_total"`
			AuthWithoutMail                       int `json:"smtp_auth_sessions_without_mail"`
			Rejected                              []struct {
				Code  int
				Count int
				Stage string
			}
			Logins []struct {
				Count            int
				Protocol, Result string
			}
		}
	}
	if err := json.Unmarshal(b, &tr); err != nil {
		t.Fatal(err)
	}
	c, col := feed(t, corpusEvents(t, "exim", []string{"mainlog"}), Options{})
	s, w := c.Summary(), tr.Summary
	check := func(name string, got, want int) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %d, want %d (truth.json)", name, got, want)
		}
	}
	check("received", s.ReceivedFromClients, w.Received)
	check("delivered", s.Delivered, w.Delivered)
	check("delivered local", s.DeliveredLocal, w.DeliveredLocal)
	check("delivered remote", s.DeliveredRemote, w.DeliveredRemote)
	check("deferred", s.DeferredLines, w.Deferred)
	check("deferred messages", s.DeferredMessages, w.DeferredMessages)
	check("failed", s.Bounced, w.Failed)
	check("rejects", s.RejectsTotal, w.RejectedTotal)
	for _, r := range w.Rejected {
		check("rejects "+r.Stage, s.Rejects[RejectKey{r.Stage, r.Code}], r.Count)
	}
	for _, l := range w.Logins {
		switch l.Result {
		case "ok":
			// Exim logs a successful AUTH only with the mail it brings
			// (A= of "<="): the sessions that sent nothing are not in the log
			check("AUTH ok (with mail)", s.SASLLogins, l.Count-w.AuthWithoutMail)
		case "failed":
			check("AUTH failed", s.SASLFailures, l.Count)
		}
	}
	if s.Unknown["exim"] != 0 || len(col.msgs) == 0 {
		t.Errorf("unknown %v, records %d", s.Unknown, len(col.msgs))
	}
}
