package trace

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/collectors/txlog"
)

// Hit is one search result before paging: a message (Key) or a row that
// belongs to no message (Row), with what folds it.
type Hit struct {
	Key  string
	Row  *txlog.Row
	Time time.Time // the message's first line, or the row's time
	// From, Rcpts and Client are the envelope sender, the recipients and
	// the client address of the hit as the matching rows say them; a hit
	// without them is never folded.
	From   string
	Rcpts  []string
	Client string
}

// Result is one result of a search after folding: Hit, and the refused
// tries folded into it (oldest first). For a result that is only refusals
// Hit is the newest of them and Folded holds them all.
type Result struct {
	Hit
	Folded []txlog.Row
	Last   time.Time // the newest line of the result: the order of results
}

// ResultKey is the key Build gives the result's message: the message key,
// or StandaloneKey of the row.
func (r Result) ResultKey() string {
	if r.Key != "" {
		return r.Key
	}
	return StandaloneKey(*r.Row)
}

// foldWindow is how long after a refusal a retry of the same sender →
// recipient from the same client still folds into it: longer than any
// greylisting delay and retry schedule (Postfix retries for 5 days, but a
// greylisted sender comes back within minutes or hours).
const foldWindow = 24 * time.Hour

// refusal reports whether r is a refused try that folds: a greylisting
// (postgrey's line, the engine's), a refusal at RCPT or a greylisting
// pass (the pass of the try that is then accepted).
func refusal(r *txlog.Row) bool {
	if r == nil || r.QueueID != "" {
		return false
	}
	switch r.Status {
	case txlog.StatusGreylisted, txlog.StatusRejected, txlog.StatusGreylistPass:
		return true
	}
	return false
}

// greylisting reports whether a refusal is a greylisting: postgrey's
// "greylist" answer, or the MTA's temporary refusal that says so
// (Postfix: "450 4.2.0 …: Recipient address rejected: Greylisted").
func greylisting(r txlog.Row) bool {
	return r.Status == txlog.StatusGreylisted ||
		(r.Code >= 400 && r.Code < 500 && strings.Contains(strings.ToLower(r.Reply), "greylist"))
}

func foldKey(from, rcpt, client string) string {
	if rcpt == "" || client == "" {
		return ""
	}
	return strings.ToLower(from) + "\x00" + strings.ToLower(rcpt) + "\x00" + client
}

// Arrange orders the hits of a search newest first (by the newest line of
// each result) and, with fold, folds retries: refusals of the same sender
// → recipient from the same client within foldWindow of each other
// become one result, and a message accepted after them takes them in
// ("greylisted 3×, then delivered").
func Arrange(hits []Hit, fold bool) []Result {
	hs := slices.Clone(hits)
	slices.SortStableFunc(hs, func(a, b Hit) int { return a.Time.Compare(b.Time) })
	var out []Result
	open := map[string]int{} // fold key → index in out of a result of refusals only
	for _, h := range hs {
		if !fold {
			out = append(out, Result{Hit: h, Last: h.Time})
			continue
		}
		if h.Key == "" && refusal(h.Row) {
			k := foldKey(h.Row.MailFrom, h.Row.Rcpt, h.Row.ClientIP)
			if i, ok := open[k]; ok && k != "" && h.Time.Sub(out[i].Last) <= foldWindow {
				out[i].Folded = append(out[i].Folded, *h.Row)
				out[i].Hit, out[i].Last = h, h.Time
				continue
			}
			out = append(out, Result{Hit: h, Folded: []txlog.Row{*h.Row}, Last: h.Time})
			if k != "" {
				open[k] = len(out) - 1
			}
			continue
		}
		// a message (or a row of one): it takes in the refusals that
		// came before it for one of its recipients
		taken := -1
		for _, rc := range h.Rcpts {
			k := foldKey(h.From, rc, h.Client)
			if i, ok := open[k]; ok && k != "" && h.Time.Sub(out[i].Last) <= foldWindow {
				taken = i
				delete(open, k)
				break
			}
		}
		if taken < 0 {
			out = append(out, Result{Hit: h, Last: h.Time})
			continue
		}
		r := &out[taken]
		r.Hit, r.Last = h, h.Time
	}
	slices.SortStableFunc(out, func(a, b Result) int { return b.Last.Compare(a.Last) })
	return out
}

// attempts counts the tries among folded rows: lines within two seconds
// of a try from a source that has not spoken for it yet (Postfix's 450
// and postgrey's line, whole seconds against microseconds) are the same
// try. A greylisting pass is no try of its own.
func attempts(rows []txlog.Row) []Attempt {
	rs := slices.Clone(rows)
	slices.SortStableFunc(rs, func(a, b txlog.Row) int { return a.Time.Compare(b.Time) })
	var out []Attempt
	var sources []map[string]bool
	for _, r := range rs {
		if r.Status == txlog.StatusGreylistPass {
			continue
		}
		src := cmp.Or(r.Source, r.Agent)
		n := len(out)
		if n > 0 && r.Time.Sub(out[n-1].Time.Truncate(time.Second)) < 2*time.Second && !sources[n-1][src] {
			sources[n-1][src] = true
			a := &out[n-1]
			a.Greylisted = a.Greylisted || greylisting(r)
			if a.Code == 0 {
				a.Code = r.Code
			}
			if r.Code != 0 && r.Reply != "" {
				a.Reason = r.Reply
			}
			continue
		}
		out = append(out, Attempt{Time: r.Time, Status: r.Status, Greylisted: greylisting(r), Code: r.Code, Reason: r.Reply})
		sources = append(sources, map[string]bool{src: true})
	}
	return out
}

// summary says a folded result in a line: "greylisted 3×, then
// delivered", "refused 4× (greylisted)", "refused 2× (550 5.7.1 …)".
func summary(m Message) string {
	if len(m.Attempts) == 0 {
		return ""
	}
	grey := true
	for _, a := range m.Attempts {
		grey = grey && a.Greylisted
	}
	n := len(m.Attempts)
	if m.State == "refused" {
		why := "greylisted"
		if !grey {
			why = m.Attempts[n-1].Reason
			if len(why) > 80 {
				why = why[:77] + "…"
			}
		}
		return fmt.Sprintf("refused %d× (%s)", n, why)
	}
	then := m.State
	if len(m.Recipients) > 0 {
		then = m.Recipients[0].Status
		for _, r := range m.Recipients[1:] {
			if r.Status != then {
				then = m.State
				break
			}
		}
	}
	if grey {
		return fmt.Sprintf("greylisted %d×, then %s", n, then)
	}
	return fmt.Sprintf("refused %d×, then %s", n, then)
}
