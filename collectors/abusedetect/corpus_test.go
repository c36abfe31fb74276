package abusedetect

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/collectors/logparse"
)

// corpusDir holds the corpora generated with real Postfix, Dovecot, amavis,
// postgrey and Exim on loopback (collectors/corpus/README.md).
const corpusDir = "../corpus"

// postfixTruth is the part of the Postfix corpus' truth.json (written by
// its generator from what its clients did) this test reads.
type postfixTruth struct {
	Period struct {
		TrafficStart float64 `json:"traffic_start"`
	} `json:"period"`
	Compromise struct {
		Account      string               `json:"account"`
		AttackerIPs  []string             `json:"attacker_ips"`
		GuessByAcct  map[string]int       `json:"guess_failures_by_account"`
		LoginIP      string               `json:"login_ip"`
		Burst        struct{ Src string } `json:"burst"`
		GuessSuccess []struct {
			Account string `json:"account"`
			IP      string `json:"ip"`
		} `json:"guess_success"`
	} `json:"compromise"`
	OrdinaryAccounts []string          `json:"ordinary_accounts"`
	FunctionAccounts map[string]string `json:"function_accounts"`
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("corpus not present: %v", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// mergedEvents frames the lines of each file with its own framer and merges
// them by time, as an import does; at equal times the files' order (as
// given) decides.
func mergedEvents(t *testing.T, ref time.Time, files ...string) []logparse.Event {
	t.Helper()
	type item struct {
		at   time.Time
		file int
		n    int
		ev   logparse.Event
	}
	var all []item
	for fi, name := range files {
		fh, err := os.Open(name)
		if err != nil {
			t.Skipf("corpus not present: %v", err)
		}
		fr := logparse.NewFramer(ref, time.UTC)
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		n := 0
		for sc.Scan() {
			f, err := fr.Frame(sc.Text())
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			all = append(all, item{f.Time, fi, n, logparse.Parse(f)})
			n++
		}
		fh.Close()
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
	sort.SliceStable(all, func(i, j int) bool {
		if !all[i].at.Equal(all[j].at) {
			return all[i].at.Before(all[j].at)
		}
		if all[i].file != all[j].file {
			return all[i].file < all[j].file
		}
		return all[i].n < all[j].n
	})
	out := make([]logparse.Event, len(all))
	for i, it := range all {
		out[i] = it.ev
	}
	return out
}

func postfixFiles(order ...int) []string {
	files := []string{"mx1/postfix.log", "mx1/mail.log", "smtp/mail.log", "imap/mail.log"}
	var out []string
	for _, i := range order {
		out = append(out, filepath.Join(corpusDir, "postfix", files[i]))
	}
	return out
}

func detectAll(t *testing.T, evs []logparse.Event) []Alert {
	t.Helper()
	d, c, _ := newDetector(t, DefaultConfig())
	ctx := context.Background()
	for _, ev := range evs {
		d.Observe(ctx, ev)
	}
	return c.alerts
}

// TestCorpusCompromiseFound: with the default thresholds the compromised
// account of the Postfix corpus is named by critical findings, with the
// attacker's addresses, and no ordinary user raises a finding; only the
// accounts the attacker guessed at are named, by guessing findings whose
// addresses are all the attacker's.
func TestCorpusCompromiseFound(t *testing.T) {
	t.Parallel()
	var truth postfixTruth
	readJSON(t, filepath.Join(corpusDir, "postfix", "truth.json"), &truth)
	ref := time.Unix(int64(truth.Period.TrafficStart), 0).UTC()
	alerts := detectAll(t, mergedEvents(t, ref, postfixFiles(0, 1, 2, 3)...))
	for _, a := range alerts {
		t.Logf("%s %s %s %v: %s", a.Kind, a.Severity, a.Subject, a.Addresses, a.Summary)
	}

	acct := truth.Compromise.Account
	critical := map[Kind]Alert{} // the first of each kind
	for _, a := range alerts {
		if _, seen := critical[a.Kind]; !seen && a.Account == acct && a.Severity == SeverityCritical {
			critical[a.Kind] = a
		}
	}
	if len(critical) == 0 {
		t.Fatalf("no critical finding names %s", acct)
	}
	// the guessed password: the login from the guessing address, and the
	// login from the attacker's next address
	laf, ok := critical[KindLoginAfterFailures]
	if !ok {
		t.Errorf("no login-after-failures finding for %s", acct)
	} else {
		for _, gs := range truth.Compromise.GuessSuccess {
			if gs.Account == acct && laf.Addresses[0] != gs.IP {
				t.Errorf("first login-after-failures from %s, want %s", laf.Addresses[0], gs.IP)
			}
		}
		if len(laf.Evidence) < 2 || !strings.Contains(laf.Evidence[len(laf.Evidence)-1], "Login: user=<"+acct+">") {
			t.Errorf("evidence %q", laf.Evidence)
		}
	}
	// the burst from the new address
	burstFound := false
	for _, k := range []Kind{KindNewAddressSubmissions, KindSubmissionBurst} {
		if a, ok := critical[k]; ok && slices.Contains(a.Addresses, truth.Compromise.Burst.Src) {
			burstFound = true
		}
	}
	if !burstFound {
		t.Errorf("the burst from %s is not found: %v", truth.Compromise.Burst.Src, critical)
	}
	for _, a := range alerts {
		if a.Account != acct || len(a.Addresses) == 0 {
			continue
		}
		// the attacker's address leads (a burst may also count the
		// owner's own few messages of the window)
		if !slices.Contains(truth.Compromise.AttackerIPs, a.Addresses[0]) {
			t.Errorf("finding for %s names %s first, not the attacker's: %s %s", acct, a.Addresses[0], a.Kind, a.Summary)
		}
		if a.Kind == KindLoginAfterFailures {
			for _, ip := range a.Addresses {
				if !slices.Contains(truth.Compromise.AttackerIPs, ip) {
					t.Errorf("login-after-failures for %s names %s, not the attacker's: %s", acct, ip, a.Summary)
				}
			}
		}
	}

	// nobody else
	ordinary := map[string]bool{}
	for _, u := range truth.OrdinaryAccounts {
		ordinary[u] = true
	}
	for _, a := range alerts {
		who := a.Account
		if who == "" {
			who = a.Subject
		}
		if who == acct || !ordinary[who] {
			continue
		}
		if _, attacked := truth.Compromise.GuessByAcct[who]; attacked && a.Kind == KindGuessingAccount {
			for _, ip := range a.Addresses {
				if !slices.Contains(truth.Compromise.AttackerIPs, ip) {
					t.Errorf("guessing finding for %s names %s, not an attacker: %+v", who, ip, a)
				}
			}
			continue
		}
		t.Errorf("ordinary user %s raised a finding: %s %s", who, a.Kind, a.Summary)
	}
}

// TestCorpusDeterministic: the findings depend on the events and their
// times, not on how lines of the same second from different files were
// interleaved (an import and a tail merge them differently).
func TestCorpusDeterministic(t *testing.T) {
	t.Parallel()
	var truth postfixTruth
	readJSON(t, filepath.Join(corpusDir, "postfix", "truth.json"), &truth)
	ref := time.Unix(int64(truth.Period.TrafficStart), 0).UTC()
	key := func(as []Alert) []string {
		var out []string
		for _, a := range as {
			out = append(out, fmt.Sprintf("%s|%s|%s|%d|%s", a.Kind, a.Subject, strings.Join(a.Addresses, ","), a.Count, a.At.Format(time.RFC3339)))
		}
		sort.Strings(out)
		return out
	}
	a := key(detectAll(t, mergedEvents(t, ref, postfixFiles(0, 1, 2, 3)...)))
	b := key(detectAll(t, mergedEvents(t, ref, postfixFiles(3, 2, 1, 0)...)))
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("findings differ with the interleaving:\n%s\n--\n%s", strings.Join(a, "\n"), strings.Join(b, "\n"))
	}
	if len(a) == 0 {
		t.Fatal("no findings at all")
	}
}

// TestEximCorpusQuiet: the Exim corpus's ordinary users raise nothing.
func TestEximCorpusQuiet(t *testing.T) {
	t.Parallel()
	var truth struct {
		Accounts []string `json:"accounts"`
		Period   struct {
			TrafficStart float64 `json:"traffic_start"`
		} `json:"period"`
	}
	readJSON(t, filepath.Join(corpusDir, "exim", "truth.json"), &truth)
	ref := time.Unix(int64(truth.Period.TrafficStart), 0).UTC()
	alerts := detectAll(t, mergedEvents(t, ref, filepath.Join(corpusDir, "exim", "mainlog")))
	for _, a := range alerts {
		if slices.Contains(truth.Accounts, a.Account) || slices.Contains(truth.Accounts, a.Subject) {
			t.Errorf("ordinary user raised a finding: %s %s", a.Kind, a.Summary)
		}
	}
}
