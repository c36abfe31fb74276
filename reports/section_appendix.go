package reports

import (
	"context"
	"strings"
)

// The last sections: the period's questions and tips, which the team
// writes (Archive.SetTips), and the appendix of definitions: every figure
// of the report with the one definition it is computed by
// (docs/reports.md, "Definitions").

var tipsSection = section{
	id:    "tips",
	build: func(*builder, context.Context) error { return nil },
	body:  tipsBody,
}

// tipsBody shows the questions and tips as a table, or says there are none.
func tipsBody(r *Report, c *catalogT) []block {
	if len(r.Tips) == 0 {
		return []block{notesBlock([]string{c.t("tips.none")})}
	}
	t := table{Class: "tips", Columns: []column{
		{Head: c.t("col.question"), Width: 70},
		{Head: c.t("col.answer"), Width: 112},
	}}
	for _, tip := range r.Tips {
		t.Rows = append(t.Rows, texts(tip.Question, tip.Answer))
	}
	return []block{tableBlock(t)}
}

// allSections is sections, set in init: the appendix walks every
// section's body, and sections holds the appendix.
var allSections []section

func init() { allSections = sections[:] }

var definitionsSection = section{
	id:    "definitions",
	build: func(*builder, context.Context) error { return nil },
	body:  definitionsBody,
}

// DefinitionKey returns the key of the definition of a figure or record
// key: the key itself when the catalogue defines it, else the key with
// its variable parts (a protocol, a service, a verdict) as "*":
// "logins.imap.ok" is defined by "logins.*.ok". "" when none defines it.
func DefinitionKey(key string) string {
	c := english
	if c.has("def." + key) {
		return key
	}
	parts := strings.Split(key, ".")
	for i := 1; i < len(parts); i++ {
		p := append([]string(nil), parts...)
		p[i] = "*"
		if k := strings.Join(p, "."); c.has("def." + k) {
			return k
		}
	}
	all := []string{parts[0]}
	for range parts[1:] {
		all = append(all, "*")
	}
	if k := strings.Join(all, "."); c.has("def." + k) {
		return k
	}
	return ""
}

// definitionRules are the definitions the appendix always ends with: the
// mail flow's sides and outcomes, coverage, reasons and the analysis.
var definitionRules = []string{"flow", "flow.refused", "flow.sides", "flow.outcomes", "coverage", "missing", "change",
	"per_day", "analysis", "tables.reasons", "tables.names", "to_date"}

// definitionsBody lists the definition of every figure the report shows,
// in the order they appear, each once, then the rules.
func definitionsBody(r *Report, c *catalogT) []block {
	t := table{Class: "definitions", Columns: []column{
		{Head: c.t("col.figure"), Width: 56},
		{Head: c.t("col.definition"), Width: 126},
	}}
	seen := map[string]bool{}
	for _, s := range allSections {
		if s.id == "definitions" || (s.shown != nil && !s.shown(r)) {
			continue
		}
		for _, b := range s.body(r, c) {
			for _, rec := range b.Records {
				if !rec.isFigure {
					continue
				}
				k := DefinitionKey(rec.Key)
				if k == "" || seen[k] {
					continue
				}
				seen[k] = true
				name := c.t("defname." + k)
				if !c.has("defname."+k) && c.has("fig."+k) {
					name = c.t("fig." + k)
				}
				t.Rows = append(t.Rows, texts(name, c.t("def."+k)))
			}
		}
	}
	for _, k := range definitionRules {
		t.Rows = append(t.Rows, texts(c.t("defname."+k), c.t("def."+k)))
	}
	return []block{tableBlock(t)}
}

// Definitions returns the appendix of r as definition key → text, in r's
// language: what the report prints (docs/reports.md, "Definitions").
func Definitions(r *Report) map[string]string {
	c := catalog(r.Lang)
	out := map[string]string{}
	for _, s := range allSections {
		if s.id == "definitions" || (s.shown != nil && !s.shown(r)) {
			continue
		}
		for _, b := range s.body(r, c) {
			for _, rec := range b.Records {
				if k := DefinitionKey(rec.Key); rec.isFigure && k != "" {
					out[k] = c.t("def." + k)
				}
			}
		}
	}
	for _, k := range definitionRules {
		out[k] = c.t("def." + k)
	}
	return out
}
