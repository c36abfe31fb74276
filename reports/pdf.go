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

// PDF renders r as PDF with the configured engine and returns the bytes and
// the engine used ("chromium" or "builtin").
func (g *Renderer) PDF(ctx context.Context, r *Report) ([]byte, string, error) {
	engine := g.Config.PDFEngine
	if engine == "" || engine == PDFAuto {
		engine = PDFBuiltin
		if ChromiumAvailable(g.Config.Chromium) {
			engine = PDFChromium
		}
	}
	switch engine {
	case PDFChromium:
		if !ChromiumAvailable(g.Config.Chromium) {
			return nil, "", ErrNoChromium
		}
		html, err := g.HTML(r)
		if err != nil {
			return nil, "", err
		}
		pdf, err := ChromiumPDF(ctx, g.Config.Chromium, html, g.Config.PDFTimeout)
		return pdf, PDFChromium, err
	default:
		pdf, err := g.BuiltinPDF(r)
		return pdf, PDFBuiltin, err
	}
}
