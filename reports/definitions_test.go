package reports_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/uni-mail/postvakt/reports"
)

// TestEveryFigureIsDefined: every figure the report shows has a
// definition in the appendix (docs/reports.md, "Definitions"), in both
// languages, and docs/reports.md gives the same definition word for word.
func TestEveryFigureIsDefined(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile(filepath.Join("..", "docs", "reports.md"))
	if err != nil {
		t.Fatal(err)
	}
	docs := string(doc)
	for _, lang := range reports.Languages() {
		r, _ := october(t, lang)
		defs := reports.Definitions(r)
		for _, f := range r.AllFigures() {
			k := reports.DefinitionKey(f.Key)
			if k == "" {
				t.Errorf("%s: figure %s has no definition", lang, f.Key)
				continue
			}
			if defs[k] == "" || strings.HasPrefix(defs[k], "def.") {
				t.Errorf("%s: definition of %s (%s) missing from the appendix", lang, f.Key, k)
			}
			if lang == "en" {
				line := "| `" + k + "` | "
				i := strings.Index(docs, line)
				if i < 0 {
					t.Errorf("docs/reports.md has no definition of %s", k)
					continue
				}
				row := docs[i : i+strings.IndexByte(docs[i:], '\n')]
				if !strings.Contains(row, strings.ReplaceAll(defs[k], "|", `\|`)) {
					t.Errorf("docs/reports.md defines %s differently from the report:\n%s\nwant %q", k, row, defs[k])
				}
			}
		}
	}
}
