package reports

import "context"

// TopDomainsSection lists the busiest external domains.
type TopDomainsSection struct {
	Senders    []DomainCount `json:"senders"`
	Recipients []DomainCount `json:"recipients"`
}

// topDomainsSection is the busiest external sender and recipient domains,
// when configured (reports.top_domains).
var topDomainsSection = section{
	id:    "top_domains",
	build: (*builder).topDomains,
	body:  topDomainsBody,
	// Only when configured (reports.top_domains > 0) and read.
	shown: func(r *Report) bool { return r.TopDomains != nil },
}

func (b *builder) topDomains(ctx context.Context) error {
	if b.cfg.TopDomains <= 0 {
		return nil
	}
	snd, rcv, err := b.src.TopDomains(ctx, b.r.Period.Start, b.r.Period.End, b.cfg.TopDomains)
	if err != nil {
		return err
	}
	b.r.TopDomains = &TopDomainsSection{Senders: snd, Recipients: rcv}
	return nil
}

// topDomainsBody shows the senders' and the recipients' tables; the CSV gets
// each domain's count.
func topDomainsBody(r *Report, c *catalogT) []block {
	td := r.TopDomains
	if td == nil {
		return nil
	}
	var body []block
	var records []record
	for _, part := range []struct {
		title, metric string
		list          []DomainCount
	}{{c.t("top.senders"), "senders.", td.Senders}, {c.t("top.recipients"), "recipients.", td.Recipients}} {
		t := table{Title: part.title, Columns: []column{
			{Head: c.t("col.domain"), Width: 130},
			{Head: c.t("col.messages"), Num: true, Width: 52},
		}}
		for _, d := range part.list {
			t.Rows = append(t.Rows, texts(d.Domain, c.int(float64(d.Count))))
			records = append(records, periodRecord(part.metric+d.Domain, UnitCount, float64(d.Count)))
		}
		body = append(body, tableBlock(t))
	}
	return append(body, recordsBlock(records...))
}
