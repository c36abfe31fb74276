package reports

import (
	"math"
	"testing"
)

// TestSectionDeclarations checks what the renderers rely on in every
// section's declaration: a unique id, a heading in every language, and
// tables whose rows have a cell per column and whose columns fill the
// built-in PDF's text width.
func TestSectionDeclarations(t *testing.T) {
	t.Parallel()
	// One row in every list, so that every table of every section shows.
	r := &Report{
		Scan:         ScanSection{Matrix: []ScanRow{{}}},
		Logins:       LoginsSection{Protocols: []ProtocolRow{{}}},
		Availability: AvailabilitySection{Services: []ServiceRow{{}}, Outages: []OutageRow{{}}},
		Faults:       FaultsSection{Matrix: []SeverityCount{{}}, Severity: []string{"minor", "major"}, Breaches: []Ticket{{}}, Open: []Ticket{{}}},
		OnCall:       OnCallSection{Weeks: []WeekRow{{}}},
		Tables: &TablesSection{Known: true, Senders: &NameTable{Top: []NameCount{{}}, Names: 2}, Recipients: &NameTable{},
			SenderDomains: &NameTable{}, RecipientDomains: &NameTable{}, Rejects: []ReasonCount{{}, {Rest: 2}}},
		Mail:     MailSection{Flow: FlowTable{Known: true, Outcomes: []FlowRow{{}}, Refused: []FlowRow{{}}}},
		Coverage: CoverageSection{Groups: []CoverageGroup{{}}, Sources: []CoverageSource{{}}},
		Tips:     []Tip{{Question: "q", Answer: "a"}},
	}
	seen := map[string]bool{}
	for _, s := range sections {
		if s.id == "" || seen[s.id] || s.build == nil || s.body == nil {
			t.Errorf("section %q: empty or repeated id, or no build step or body", s.id)
		}
		seen[s.id] = true
		for _, lang := range Languages() {
			if _, ok := catalog(lang).texts["sec."+s.id]; !ok {
				t.Errorf("section %s: no heading sec.%s in %s", s.id, s.id, lang)
			}
		}
	}
	laid := r.layout(english)
	if len(laid) != len(sections) {
		t.Fatalf("%d sections laid out, want %d", len(laid), len(sections))
	}
	for _, s := range laid {
		for _, b := range s.Blocks {
			tb := b.Table
			if tb == nil {
				continue
			}
			var fixed float64
			shared := false
			for _, col := range tb.Columns {
				fixed += col.Width
				shared = shared || col.Width == 0
			}
			if shared && fixed >= pdfWidth || !shared && math.Abs(fixed-pdfWidth) > 1e-9 {
				t.Errorf("section %s, table %q: columns %v mm wide, want %v", s.ID, tb.Title, fixed, pdfWidth)
			}
			for _, row := range tb.Rows {
				if len(row) != len(tb.Columns) {
					t.Errorf("section %s, table %q: a row of %d cells under %d columns", s.ID, tb.Title, len(row), len(tb.Columns))
				}
			}
		}
	}
}

// TestCataloguesComplete: both languages have every text, so that the
// Norwegian report never falls back to English.
func TestCataloguesComplete(t *testing.T) {
	t.Parallel()
	for k := range english.texts {
		if _, ok := norwegian.texts[k]; !ok {
			t.Errorf("nb lacks %q", k)
		}
	}
	for k := range norwegian.texts {
		if _, ok := english.texts[k]; !ok {
			t.Errorf("en lacks %q", k)
		}
	}
}
