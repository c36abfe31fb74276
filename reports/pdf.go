package reports

import (
	"context"
	"errors"
	"os"
	"os/exec"
)

// PDF engines (reports.pdf_engine).
const (
	PDFAuto     = "auto"
	PDFChromium = "chromium"
	PDFBuiltin  = "builtin"
)

// ErrNoChromium is returned when the chromium engine is asked for and the
// browser is not installed.
var ErrNoChromium = errors.New("chromium not installed")

// ChromiumAvailable reports whether the Chromium binary at path (or on
// PATH when path is a bare name) can be run.
func ChromiumAvailable(path string) bool {
	if path == "" {
		return false
	}
	if _, err := exec.LookPath(path); err == nil {
		return true
	}
	st, err := os.Stat(path)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// Engine resolves reports.pdf_engine: "auto" is chromium when the browser
// is installed, else builtin.
func (g *Renderer) Engine() string {
	engine := g.Config.PDFEngine
	if engine == "" || engine == PDFAuto {
		engine = PDFBuiltin
		if ChromiumAvailable(g.Config.Chromium) {
			engine = PDFChromium
		}
	}
	return engine
}

// PDF renders r as PDF with the configured engine and returns the bytes and
// the engine used ("chromium" or "builtin").
func (g *Renderer) PDF(ctx context.Context, r *Report) ([]byte, string, error) {
	return g.PDFWith(ctx, r, nil)
}

// PDFWith is PDF with a browser already started (StartChromium), or nil to
// start one when the chromium engine is used.
func (g *Renderer) PDFWith(ctx context.Context, r *Report, b *Browser) ([]byte, string, error) {
	switch g.Engine() {
	case PDFChromium:
		if b == nil && !ChromiumAvailable(g.Config.Chromium) {
			return nil, "", ErrNoChromium
		}
		html, err := g.HTML(r)
		if err != nil {
			return nil, "", err
		}
		if b == nil {
			b = StartChromium(ctx, g.Config.Chromium, g.Config.PDFTimeout)
			defer b.Close()
		}
		pdf, err := b.PrintPDF(html)
		if err != nil && (g.Config.PDFEngine == PDFAuto || g.Config.PDFEngine == "") {
			// auto: a report without Chromium's typesetting beats no report.
			if pdf, berr := g.BuiltinPDF(r); berr == nil {
				return pdf, PDFBuiltin, nil
			}
		}
		return pdf, PDFChromium, err
	default:
		pdf, err := g.BuiltinPDF(r)
		return pdf, PDFBuiltin, err
	}
}
