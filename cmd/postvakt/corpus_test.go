package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/uni-mail/postvakt/collectors/txlog"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
)

// corpusDir holds the corpora generated with real Postfix, postgrey,
// amavisd-new, Dovecot and Exim on loopback, with the truth.json their
// generator wrote from its own records (collectors/corpus/README.md).
const corpusDir = "../../collectors/corpus"

// importCorpus imports files of a corpus into a fresh database and returns
// the configuration, and the truth.json decoded into truth.
func importCorpus(t *testing.T, dbURL, corpus string, truth any, files ...string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(corpusDir, corpus, "truth.json"))
	if err != nil {
		t.Skipf("corpus not present: %v", err)
	}
	if err := json.Unmarshal(b, truth); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, "data_dir: DATADIR\ntimezone: UTC\ndatabase:\n  url: "+dbURL+"\ncollectors:\n  timezone: UTC\n")
	args := []string{"import", "--create-database", "--config", cfg}
	for _, f := range files {
		args = append(args, filepath.Join(corpusDir, corpus, f))
	}
	code, out, errOut := runCLI(t, args...)
	if code != exitOK {
		t.Fatalf("import: %d %s %s", code, out, errOut)
	}
	if !strings.Contains(out, "0 unparsable, 0 unknown") {
		t.Errorf("import output: %s", out)
	}
	return cfg
}

func summaryJSON(t *testing.T, cfg string) txlog.Summary {
	t.Helper()
	code, out, errOut := runCLI(t, "summary", "--config", cfg, "--json", "--top", "3")
	if code != exitOK {
		t.Fatalf("summary: %d %s", code, errOut)
	}
	var s txlog.Summary
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatal(err)
	}
	return s
}

type truthLogin struct {
	Count            int64
	Protocol, Result string
}

type truthReject struct {
	Code  int
	Count int64
	Stage string
}

func checkRejects(t *testing.T, got []txlog.RejectCount, want []truthReject) {
	t.Helper()
	g := map[string]int64{}
	for _, r := range got {
		g[fmt.Sprintf("%s %d", r.Stage, r.Code)] = r.Count
	}
	if len(g) != len(want) {
		t.Errorf("reject kinds %v, want %v", g, want)
	}
	for _, r := range want {
		if k := fmt.Sprintf("%s %d", r.Stage, r.Code); g[k] != r.Count {
			t.Errorf("rejected %s = %d, want %d (truth.json)", k, g[k], r.Count)
		}
	}
}

// loginsByProtocol folds the summary's logins into protocols: SMTP AUTH is
// logged per service (smtp, submission).
func loginsByProtocol(s txlog.Summary) map[string]int64 {
	out := map[string]int64{}
	for _, l := range s.Logins {
		p := l.Protocol
		if p == "submission" || p == "smtps" {
			p = "smtp"
		}
		out[p+" "+l.Result] += l.Count
	}
	return out
}

// TestImportPostfixCorpusGivesTruth: `postvakt import` of the Postfix
// corpus (three hosts, four files, a compromised account) and `summary
// --json` give the generator's figures, on SQLite and PostgreSQL.
func TestImportPostfixCorpusGivesTruth(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects() {
		t.Run(d.String(), func(t *testing.T) {
			t.Parallel()
			var truth struct {
				Summary struct {
					Received, Delivered, Deferred, Bounced, Expired, Greylisted, Spam, Virus, Banned int64
					DeferredMessages                                                                 int64            `json:"deferred_messages"`
					DeliveredLMTP                                                                    int64            `json:"delivered_local_lmtp"`
					DeliveredRemote                                                                  int64            `json:"delivered_remote"`
					FilterHandoffs                                                                   int64            `json:"filter_handoffs"`
					SentLines                                                                        int64            `json:"sent_lines"`
					CleanupRejected                                                                  int64            `json:"cleanup_rejected"`
					SizeLimit                                                                        int64            `json:"size_limit_exceeded_after_data"`
					RejectedTotal                                                                    int64            `json:"rejected_total"`
					SASLFailures                                                                     int64            `json:"sasl_failures"`
					BytesClient                                                                      int64            `json:"bytes_received_client"`
					Verdicts                                                                         map[string]int64 `json:"verdicts"`
					Rejected                                                                         []truthReject
					Logins                                                                           []truthLogin
				}
				ActiveUsers map[string][]string `json:"active_users"`
				Compromise  struct {
					Account string
					Burst   struct{ Accepted int64 }
				}
			}
			cfg := importCorpus(t, storagetest.URL(t, d), "postfix", &truth, "mx1/postfix.log", "mx1/mail.log", "smtp/mail.log", "imap/mail.log")
			s, w := summaryJSON(t, cfg), truth.Summary
			check := func(name string, got, want int64) {
				t.Helper()
				if got != want {
					t.Errorf("%s = %d, want %d (truth.json)", name, got, want)
				}
			}
			check("received", s.Received, w.Received)
			check("refused after the data", s.Refused, w.CleanupRejected+w.SizeLimit)
			check("delivered", s.Delivered, w.Delivered)
			check("delivered over LMTP", s.DeliveredBy["lmtp"], w.DeliveredLMTP)
			check("delivered to remote servers", s.DeliveredBy["smtp"], w.DeliveredRemote)
			check("hand-offs to amavis", s.FilterHandoffs, w.FilterHandoffs)
			check("status=sent lines", s.SentLines, w.SentLines)
			check("deferred", s.Deferred, w.Deferred)
			check("deferred messages", s.DeferredMessages, w.DeferredMessages)
			check("bounced", s.Bounced, w.Bounced)
			check("expired", s.Expired, w.Expired)
			check("rejected", s.RejectedTotal, w.RejectedTotal)
			checkRejects(t, s.Rejected, w.Rejected)
			check("header_checks rejects", s.CleanupRejected, w.CleanupRejected)
			check("greylisted", s.Greylisted, w.Greylisted)
			check("SASL failures", s.SASLFailures, w.SASLFailures)
			logins := loginsByProtocol(s)
			for _, l := range w.Logins {
				check("logins "+l.Protocol+" "+l.Result, logins[l.Protocol+" "+l.Result], l.Count)
			}
			users := map[string]bool{}
			for _, us := range truth.ActiveUsers {
				for _, u := range us {
					users[u] = true
				}
			}
			check("unique users", s.UniqueUsers, int64(len(users)))
			for k, v := range w.Verdicts {
				check("verdict "+k, s.Verdicts[k], v)
			}
			check("spam", s.Spam, w.Spam)
			check("virus", s.Virus, w.Virus)
			check("banned", s.Banned, w.Banned)
			// Postfix's size= adds its own headers to what the clients sent
			// (truth.json not_exact): at most 600 bytes a message
			if s.BytesReceived < w.BytesClient || s.BytesReceived > w.BytesClient+600*w.Received {
				t.Errorf("bytes received %d, want %d … %d", s.BytesReceived, w.BytesClient, w.BytesClient+600*w.Received)
			}
			// pflogsumm's tables: the compromised account leads the senders
			if s.Tables == nil || len(s.Tables.TopSenders) != 3 || s.Tables.TopSenders[0].Key != truth.Compromise.Account ||
				s.Tables.TopSenders[0].Count < truth.Compromise.Burst.Accepted {
				t.Errorf("top senders %+v, want %s first with at least %d", s.Tables, truth.Compromise.Account, truth.Compromise.Burst.Accepted)
			}
			var deferred, bounced int64
			for _, r := range s.Tables.DeferralReasons {
				deferred += r.Count
			}
			for _, r := range s.Tables.BounceReasons {
				bounced += r.Count
			}
			check("deferral reasons", deferred, w.Deferred)
			check("bounce reasons", bounced, w.Bounced)
			var hours int64
			for _, h := range s.Tables.ByHourOfDay {
				hours += h.Received
			}
			check("received per hour", hours, w.Received)
			// the text form prints the same tables
			code, text, errOut := runCLI(t, "summary", "--config", cfg, "--top", "3")
			if code != exitOK {
				t.Fatalf("summary: %d %s", code, errOut)
			}
			for _, want := range []string{"Senders by message count (top 3)", "Receiving domains (top 3)", "Deferral reasons",
				"Bounce reasons", "Reject reasons", "Per-hour traffic (UTC, summed over the days)", "Warnings",
				fmt.Sprintf("%10d", s.Tables.TopSenders[0].Count) + " "} {
				if !strings.Contains(text, want) {
					t.Errorf("summary text lacks %q", want)
				}
			}
			if !strings.Contains(text, truth.Compromise.Account) {
				t.Errorf("summary text does not name %s", truth.Compromise.Account)
			}
			if code, _, _ := runCLI(t, "summary", "--config", cfg, "--top", "0"); code != exitUsage {
				t.Errorf("--top 0: exit %d", code)
			}
		})
	}
}

// TestImportEximCorpusGivesTruth: `postvakt import` of an Exim mainlog and
// `summary --json` give the generator's figures, on SQLite and PostgreSQL.
func TestImportEximCorpusGivesTruth(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects() {
		t.Run(d.String(), func(t *testing.T) {
			t.Parallel()
			var truth struct {
				Summary struct {
					Received, Delivered, Deferred, Failed int64
					DeliveredLocal                        int64 `json:"delivered_local"`
					DeliveredRemote                       int64 `json:"delivered_remote"`
					DeferredMessages                      int64 `json:"deferred_messages"`
					RejectedTotal                         int64 `json:"rejected_total"`
					AuthWithoutMail                       int64 `json:"smtp_auth_sessions_without_mail"`
					Rejected                              []truthReject
					Logins                                []truthLogin
					UniqueUsers                           map[string]int64 `json:"unique_users"`
				}
			}
			cfg := importCorpus(t, storagetest.URL(t, d), "exim", &truth, "mainlog")
			s, w := summaryJSON(t, cfg), truth.Summary
			check := func(name string, got, want int64) {
				t.Helper()
				if got != want {
					t.Errorf("%s = %d, want %d (truth.json)", name, got, want)
				}
			}
			check("received", s.Received, w.Received)
			check("delivered", s.Delivered, w.Delivered)
			check("delivered locally", s.DeliveredBy["local"], w.DeliveredLocal)
			check("delivered to remote servers", s.DeliveredBy["smtp"], w.DeliveredRemote)
			check("deferred", s.Deferred, w.Deferred)
			check("deferred messages", s.DeferredMessages, w.DeferredMessages)
			check("failed", s.Bounced, w.Failed)
			check("rejected", s.RejectedTotal, w.RejectedTotal)
			checkRejects(t, s.Rejected, w.Rejected)
			logins := loginsByProtocol(s)
			for _, l := range w.Logins {
				want := l.Count
				if l.Result == "ok" {
					// Exim logs a successful AUTH only with the mail it brings
					want -= w.AuthWithoutMail
				}
				check("logins "+l.Protocol+" "+l.Result, logins[l.Protocol+" "+l.Result], want)
			}
			check("SASL failures", s.SASLFailures, logins["smtp failed"])
			check("unique users", s.UniqueUsers, w.UniqueUsers["smtp"])
		})
	}
}
