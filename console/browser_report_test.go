package console_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// reportPrints checks the Reports page on paper: under print media the
// navigation, forms and buttons are gone and the text is black on white;
// the print view (?print=1) passes axe and prints to A4 (the PDF is kept
// beside the screenshots).
func reportPrints(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	var hidden []string
	var ink, paper string
	run(t, ctx, chromedp.Navigate(url), chromedp.WaitVisible("table.figures"),
		emulation.SetEmulatedMedia().WithMedia("print"),
		chromedp.Evaluate(`["header.top", "form", "button", "#print"].filter(s => [...document.querySelectorAll(s)].every(e => e.getClientRects().length === 0))`, &hidden),
		chromedp.Evaluate(`getComputedStyle(document.querySelector("table.figures td")).color`, &ink),
		chromedp.Evaluate(`getComputedStyle(document.body).backgroundColor`, &paper),
		emulation.SetEmulatedMedia().WithMedia(""))
	if len(hidden) != 4 {
		t.Errorf("printed, only %v are hidden; want header.top, form, button, #print", hidden)
	}
	if ink != "rgb(0, 0, 0)" || paper != "rgb(255, 255, 255)" {
		t.Errorf("printed: ink %s on %s, want black on white", ink, paper)
	}

	// The figures by gender and the chart, below the fold of 14-reports.
	run(t, ctx, chromedp.Evaluate(`document.querySelector("#figures").scrollIntoView()`, nil))
	shoot(t, ctx, "14-reports-figures")
	run(t, ctx, chromedp.Evaluate(`window.scrollTo(0, 0)`, nil))

	var link string
	run(t, ctx, chromedp.AttributeValue("#print", "href", &link, nil))
	run(t, ctx, chromedp.Click("#print"), chromedp.WaitVisible("body.print table.figures"))
	var navs int
	run(t, ctx, chromedp.Evaluate(`document.querySelectorAll("nav, form, button").length`, &navs))
	if navs != 0 {
		t.Errorf("print view has %d nav/form/button elements", navs)
	}
	axe(t, ctx, "14-reports-print")
	shoot(t, ctx, "14-reports-print")
	var pdf []byte
	run(t, ctx, chromedp.ActionFunc(func(ctx context.Context) (err error) {
		pdf, _, err = page.PrintToPDF().WithPaperWidth(8.27).WithPaperHeight(11.69).WithPreferCSSPageSize(true).Do(ctx)
		return err
	}))
	pages := bytes.Count(pdf, []byte("/Type /Page\n")) + bytes.Count(pdf, []byte("/Type /Page\r")) + bytes.Count(pdf, []byte("/Type /Page/")) + bytes.Count(pdf, []byte("/Type /Page>"))
	t.Logf("print view %s: A4 PDF of %d bytes, %d page(s)", link, len(pdf), pages)
	if len(pdf) == 0 || !bytes.HasPrefix(pdf, []byte("%PDF")) {
		t.Fatal("no PDF")
	}
	if dir := os.Getenv("CLAVIS_SCREENSHOTS"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, "14-reports-print-A4.pdf"), pdf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
