package reports

import (
	"cmp"
	"context"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// TablesSection is pflogsumm's tables of the period: the busiest senders
// and recipients (when reports.top_addresses > 0) and their domains (when
// reports.top_domains > 0), and the reasons of rejects, deferrals and
// bounces, grouped (ReasonOf). Every table ends with the rest, so that it
// sums to its total.
type TablesSection struct {
	Senders          *NameTable    `json:"senders,omitempty"`
	Recipients       *NameTable    `json:"recipients,omitempty"`
	SenderDomains    *NameTable    `json:"sender_domains,omitempty"`
	RecipientDomains *NameTable    `json:"recipient_domains,omitempty"`
	Rejects          []ReasonCount `json:"rejects"`
	Deferrals        []ReasonCount `json:"deferrals"`
	Bounces          []ReasonCount `json:"bounces"`
	RejectsTotal     int64         `json:"rejects_total"`
	DeferralsTotal   int64         `json:"deferrals_total"`
	BouncesTotal     int64         `json:"bounces_total"`
	// Known is false when the period has no MTA logs.
	Known bool `json:"known"`
}

// ReasonCount is one grouped reason: the status, SMTP stage, reply code and
// the reply with its variable parts replaced (ReasonOf), and its count.
// The last row of a table, Rest, sums the reasons beyond the first n.
type ReasonCount struct {
	Status string `json:"status"`
	Stage  string `json:"stage"`
	Code   int    `json:"code"`
	Reason string `json:"reason"`
	Count  int64  `json:"count"`
	Rest   int    `json:"rest,omitempty"` // reasons summed in this row
}

var tablesSection = section{
	id:    "tables",
	build: (*builder).tables,
	body:  tablesBody,
	shown: func(r *Report) bool { return r.Tables != nil },
}

// reasonRows is how many reasons each table lists before the rest.
const reasonRows = 10

func (b *builder) tables(ctx context.Context) error {
	if !b.hasData(CoverMail, false) {
		b.r.Tables = &TablesSection{}
		return nil
	}
	from, to := b.span()
	n := max(b.cfg.TopDomains, b.cfg.TopAddresses)
	mt, err := b.src.MailTables(ctx, from, to, max(n, 1), b.cfg.TopAddresses > 0)
	if err != nil {
		return err
	}
	t := &TablesSection{Known: true}
	cut := func(nt NameTable, k int) *NameTable {
		if k <= 0 {
			return nil
		}
		nt.Top = nt.Top[:min(k, len(nt.Top))]
		return &nt
	}
	t.Senders, t.Recipients = cut(mt.Senders, b.cfg.TopAddresses), cut(mt.Recipients, b.cfg.TopAddresses)
	t.SenderDomains, t.RecipientDomains = cut(mt.SenderDomains, b.cfg.TopDomains), cut(mt.RecipientDomains, b.cfg.TopDomains)
	var rej, def, bou []ReplyCount
	for _, r := range mt.Replies {
		switch r.Status {
		case "rejected":
			rej = append(rej, r)
		case "deferred":
			def = append(def, r)
		case "bounced", "expired":
			bou = append(bou, r)
		}
	}
	t.Rejects, t.RejectsTotal = groupReasons(rej, reasonRows)
	t.Deferrals, t.DeferralsTotal = groupReasons(def, reasonRows)
	t.Bounces, t.BouncesTotal = groupReasons(bou, reasonRows)
	b.r.Tables = t
	return nil
}

// groupReasons groups replies by status, stage, code and ReasonOf their
// text, most frequent first, and sums what lies beyond the first n into a
// last row. It returns the rows and their total.
func groupReasons(in []ReplyCount, n int) ([]ReasonCount, int64) {
	type key struct {
		status, stage string
		code          int
		reason        string
	}
	acc := map[key]int64{}
	var total int64
	for _, r := range in {
		status := r.Status
		if status == "expired" {
			status = "bounced"
		}
		acc[key{status, r.Stage, r.Code, ReasonOf(r.Reply)}] += r.Count
		total += r.Count
	}
	out := make([]ReasonCount, 0, len(acc))
	for k, c := range acc {
		out = append(out, ReasonCount{Status: k.status, Stage: k.stage, Code: k.code, Reason: k.reason, Count: c})
	}
	slices.SortFunc(out, func(a, b ReasonCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Stage, b.Stage), cmp.Compare(a.Code, b.Code), cmp.Compare(a.Reason, b.Reason))
	})
	if len(out) > n {
		rest := ReasonCount{Rest: len(out) - n}
		for _, r := range out[n:] {
			rest.Count += r.Count
		}
		out = append(out[:n], rest)
	}
	return out, total
}

var (
	reLeadAddr = regexp.MustCompile(`^<[^<>]*>: `)
	reAddr     = regexp.MustCompile(`<[^<>@\s]*@[^<>\s]*>`)
	reURL      = regexp.MustCompile(`(https?://[^/\s]+)/\S*`)
	reIPv4     = regexp.MustCompile(`\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b`)
	reBracket  = regexp.MustCompile(`\[[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*\]`)
	reQueued   = regexp.MustCompile(`(?i)(queued as|id=)\s*[0-9A-Za-z.-]+`)
)

// ReasonOf groups a reject, deferral or bounce reply as pflogsumm does
// (docs/reports.md, "Definitions"): the rejected address that Postfix puts
// in front ("<a@b>: Recipient address rejected: …") is dropped, other
// addresses become "<address>", IP addresses "IP", a URL keeps only its
// host, and queue IDs ("queued as X", "id=X") become "ID"; the rest of the
// text, host names included, is kept.
func ReasonOf(reply string) string {
	s := strings.TrimSpace(reply)
	s = reLeadAddr.ReplaceAllString(s, "")
	s = reAddr.ReplaceAllString(s, "<address>")
	s = reURL.ReplaceAllString(s, "$1/…")
	s = reBracket.ReplaceAllString(s, "[IP]")
	s = reIPv4.ReplaceAllString(s, "IP")
	s = reQueued.ReplaceAllStringFunc(s, func(m string) string {
		if strings.HasPrefix(strings.ToLower(m), "id=") {
			return "id=ID"
		}
		return m[:len("queued as")] + " ID"
	})
	if s == "" {
		return "–"
	}
	return s
}

// tablesBody shows the busiest names and the reasons; the CSV gets every
// row, the rest and the totals.
func tablesBody(r *Report, c *catalogT) []block {
	t := r.Tables
	if t == nil || !t.Known {
		return []block{notesBlock([]string{c.reason(ReasonNoMailLogs) + "."})}
	}
	var body []block
	names := func(title, metric, countHead string, nt *NameTable) {
		if nt == nil {
			return
		}
		tb := table{Title: title, Columns: []column{
			{Head: c.t("col.name"), Width: 112},
			{Head: countHead, Num: true, Width: 35},
			{Head: c.t("col.bytes"), Num: true, Width: 35},
		}}
		var recs []record
		var shown, shownBytes int64
		for _, x := range nt.Top {
			tb.Rows = append(tb.Rows, texts(x.Name, c.int(float64(x.Count)), c.bytes(float64(x.Bytes))))
			recs = append(recs, periodRecord(metric+"."+x.Name, UnitCount, float64(x.Count)), periodRecord(metric+"."+x.Name+".bytes", UnitBytes, float64(x.Bytes)))
			shown += x.Count
			shownBytes += x.Bytes
		}
		if rest := nt.Names - int64(len(nt.Top)); rest > 0 {
			tb.Rows = append(tb.Rows, texts(c.t("tables.others", c.int(float64(rest))), c.int(float64(nt.TotalCount-shown)), c.bytes(float64(nt.TotalBytes-shownBytes))))
		}
		tb.Rows = append(tb.Rows, texts(c.t("col.total"), c.int(float64(nt.TotalCount)), c.bytes(float64(nt.TotalBytes))))
		recs = append(recs, periodRecord(metric+".total", UnitCount, float64(nt.TotalCount)), periodRecord(metric+".total.bytes", UnitBytes, float64(nt.TotalBytes)))
		body = append(body, block{Table: &tb, Records: recs})
	}
	names(c.t("tables.senders"), "tables.senders", c.t("col.messages"), t.Senders)
	names(c.t("tables.recipients"), "tables.recipients", c.t("col.deliveries"), t.Recipients)
	names(c.t("tables.sender_domains"), "tables.sender_domains", c.t("col.messages"), t.SenderDomains)
	names(c.t("tables.recipient_domains"), "tables.recipient_domains", c.t("col.deliveries"), t.RecipientDomains)
	reasons := func(title, metric string, rows []ReasonCount, total int64) {
		tb := table{Title: title, Columns: []column{
			{Head: c.t("col.code"), Width: 28},
			{Head: c.t("col.reason"), Width: 126},
			{Head: c.t("col.count"), Num: true, Width: 28},
		}}
		var recs []record
		for i, x := range rows {
			code := strings.TrimSpace(x.Stage + " " + codeText(x.Code))
			reason := x.Reason
			if x.Rest > 0 {
				code, reason = "", c.t("tables.other_reasons", x.Rest)
			}
			tb.Rows = append(tb.Rows, texts(code, reason, c.int(float64(x.Count))))
			recs = append(recs, periodRecord(metric+"."+strconv.Itoa(i+1), UnitCount, float64(x.Count)))
		}
		tb.Rows = append(tb.Rows, texts("", c.t("col.total"), c.int(float64(total))))
		recs = append(recs, periodRecord(metric+".total", UnitCount, float64(total)))
		if len(rows) == 0 {
			tb.Rows = [][]cell{texts("", c.t("tables.none"), "0")}
		}
		body = append(body, block{Table: &tb, Records: recs})
	}
	reasons(c.t("tables.rejects"), "tables.rejects", t.Rejects, t.RejectsTotal)
	reasons(c.t("tables.deferrals"), "tables.deferrals", t.Deferrals, t.DeferralsTotal)
	reasons(c.t("tables.bounces"), "tables.bounces", t.Bounces, t.BouncesTotal)
	return body
}

func codeText(code int) string {
	if code == 0 {
		return ""
	}
	return strconv.Itoa(code)
}
