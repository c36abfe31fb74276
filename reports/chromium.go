package reports

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/chromedp/chromedp"
)

// Browser is a headless Chromium started for printing reports: started
// in the background (StartChromium) so that its start-up overlaps reading
// the data, then used for one or more prints and closed.
type Browser struct {
	dir    string
	ctx    context.Context // the tab
	cancel func()
	ready  chan struct{}
	err    error
}

// StartChromium starts Chromium at path in the background with a fresh
// profile directory, no sandbox, GPU, extensions, background networking or
// component updates. The browser lives until Close or until ctx ends or
// timeout passes.
func StartChromium(ctx context.Context, path string, timeout time.Duration) *Browser {
	if timeout <= 0 {
		timeout = time.Minute
	}
	b := &Browser{ready: make(chan struct{})}
	dir, err := os.MkdirTemp("", "postvakt-chromium-")
	if err != nil {
		b.err = err
		close(b.ready)
		b.cancel = func() {}
		return b
	}
	b.dir = dir
	ctx, cancelTimeout := context.WithTimeout(ctx, timeout)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(filepath.Join(dir, "profile")),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("mute-audio", true),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	taskCtx, cancelTask := chromedp.NewContext(allocCtx)
	b.ctx = taskCtx
	b.cancel = func() { cancelTask(); cancelAlloc(); cancelTimeout() }
	go func() {
		defer close(b.ready)
		// The first Do on a context launches the browser.
		if err := chromedp.Do(taskCtx); err != nil {
			b.err = fmt.Errorf("chromium: start %s: %w", path, err)
		}
	}()
	return b
}

// PrintPDF loads html from a file in the browser's private directory and
// prints it; page size and margins come from the document's print CSS.
func (b *Browser) PrintPDF(html []byte) ([]byte, error) {
	<-b.ready
	if b.err != nil {
		return nil, b.err
	}
	f, err := os.CreateTemp(b.dir, "report-*.html")
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(html); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	if err := chromedp.Do(b.ctx, chromedp.Navigate("file://"+f.Name())); err != nil {
		return nil, fmt.Errorf("chromium: load report: %w", err)
	}
	pdf, err := chromedp.Run(b.ctx, chromedp.PrintToPDF(
		chromedp.PDFPaper(chromedp.PaperA4),
		chromedp.PDFPreferCSSPageSize(),
		chromedp.PDFPrintBackground(),
		chromedp.PDFOutlineAndTagged(),
		chromedp.PDFHeaderTemplate(`<span></span>`),
		chromedp.PDFFooterTemplate(`<div style="font-size:7pt;width:100%;text-align:center;color:#5b6475;font-family:'DejaVu Sans',sans-serif"><span class="pageNumber"></span> / <span class="totalPages"></span></div>`),
	))
	if err != nil {
		return nil, fmt.Errorf("chromium: print to pdf: %w", err)
	}
	return pdf, nil
}

// Close stops the browser and removes its profile directory.
func (b *Browser) Close() {
	b.cancel()
	<-b.ready
	if b.dir == "" {
		return
	}
	// Chromium's helpers can still write for a moment after it exits.
	for range 50 {
		if os.RemoveAll(b.dir) == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ChromiumPDF prints an HTML document to PDF with a headless Chromium at
// path started for this one document.
func ChromiumPDF(ctx context.Context, path string, html []byte, timeout time.Duration) ([]byte, error) {
	b := StartChromium(ctx, path, timeout)
	defer b.Close()
	return b.PrintPDF(html)
}
