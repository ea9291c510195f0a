package console_test

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// One headless Chromium serves every browser test of this binary; each
// test gets a tab of its own and starts without cookies.
var (
	browserOnce   sync.Once
	browserCtx    context.Context
	browserErr    error
	browserCancel = func() {}
)

//go:embed testdata/axe/axe.min.js
var axeSource string

func TestMain(m *testing.M) {
	code := m.Run()
	browserCancel()
	os.Exit(code)
}

func chromiumPath() string {
	if p := os.Getenv("CLAVIS_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// tab opens a fresh browser context; without Chromium the test skips,
// except under CI where it fails.
func tab(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium is not installed (apt-get install -y chromium); browser tests cannot run under CI without it")
		}
		t.Skip("chromium is not installed")
	}
	browserOnce.Do(func() {
		dir, err := os.MkdirTemp("", "clavis-chromium-")
		if err != nil {
			browserErr = err
			return
		}
		opts := []chromedp.ExecAllocatorOption{
			chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
			chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(dir),
			chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
			chromedp.WindowSize(1280, 800),
		}
		actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		bctx, cancelBrowser := chromedp.NewContext(actx)
		browserCancel = func() { cancelBrowser(); cancelAlloc(); os.RemoveAll(dir) }
		browserCtx, browserErr = bctx, chromedp.Run(bctx)
	})
	if browserErr != nil {
		t.Fatalf("start chromium: %v", browserErr)
	}
	// A new tab; the tests run one after another, so clearing the cookies
	// gives each a fresh start (a browser context per test is refused by
	// headless Chromium 148 through chromedp: "no browser is open").
	ctx, cancel := chromedp.NewContext(browserCtx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancel() })
	// In front: headless Chromium paints (screenshots) and runs timers
	// (htmx polling) at full rate only for the visible tab.
	run(t, ctx, network.ClearBrowserCookies(), page.BringToFront())
	return ctx
}

func run(t *testing.T, ctx context.Context, actions ...chromedp.Action) {
	t.Helper()
	if err := chromedp.Run(ctx, actions...); err != nil {
		t.Fatal(err)
	}
}

// status runs actions that load a page and returns its HTTP status.
func status(t *testing.T, ctx context.Context, actions ...chromedp.Action) int64 {
	t.Helper()
	resp, err := chromedp.RunResponse(ctx, actions...)
	if err != nil {
		t.Fatal(err)
	}
	if resp == nil {
		t.Fatal("no response")
	}
	return resp.Status
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	var s string
	run(t, ctx, chromedp.Text(sel, &s, chromedp.ByQuery))
	return s
}

func browserSignIn(t *testing.T, ctx context.Context, e *env, p person) {
	t.Helper()
	run(t, ctx, chromedp.Navigate(e.URL+"/console/login"), chromedp.WaitVisible("#email"),
		chromedp.SendKeys("#email", p.Email), chromedp.SendKeys("#password", password))
	if s := status(t, ctx, chromedp.Click("#signin")); s != 200 {
		t.Fatalf("sign in: %d", s)
	}
	run(t, ctx, chromedp.WaitVisible("#today"))
}

type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  int    `json:"nodes"`
}

// axe runs axe-core (vendored test data, injected through DevTools so the
// page's CSP stays strict) and fails on serious or critical violations.
func axe(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	var out []axeViolation
	run(t, ctx, chromedp.Evaluate(axeSource, nil), chromedp.Evaluate(`axe.run(document, {resultTypes: ["violations"]}).then(r =>
		r.violations.map(v => ({id: v.id, impact: v.impact || "", help: v.help, nodes: v.nodes.length})))`, &out,
		func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
	counts := map[string]int{}
	for _, v := range out {
		counts[v.Impact]++
		if v.Impact == "serious" || v.Impact == "critical" {
			t.Errorf("axe %s on %s: %s (%s, %d nodes)", v.Impact, page, v.ID, v.Help, v.Nodes)
		}
	}
	b, _ := json.Marshal(out)
	t.Logf("axe %-22s critical=%d serious=%d moderate=%d minor=%d %s", page, counts["critical"], counts["serious"], counts["moderate"], counts["minor"], b)
}

// shoot writes the page at desktop and phone size into $CLAVIS_SCREENSHOTS.
func shoot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("CLAVIS_SCREENSHOTS")
	if dir == "" {
		return
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, size := range [][2]int64{{1280, 800}, {390, 844}} {
		var png []byte
		// page.CaptureScreenshot without fromSurface: chromedp's
		// CaptureScreenshot hangs after a viewport change in this Chromium.
		run(t, ctx, page.BringToFront(), emulation.SetDeviceMetricsOverride(size[0], size[1], 1, size[0] < 500),
			chromedp.ActionFunc(func(ctx context.Context) (err error) {
				png, err = page.CaptureScreenshot().Do(ctx)
				return err
			}))
		f := filepath.Join(dir, fmt.Sprintf("%s-%dx%d.png", name, size[0], size[1]))
		if err := os.WriteFile(f, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run(t, ctx, emulation.SetDeviceMetricsOverride(1280, 800, 1, false))
}

// pageWeight sums the bytes the browser received for the current page.
func pageWeight(t *testing.T, ctx context.Context) int {
	t.Helper()
	var n int
	run(t, ctx, chromedp.Evaluate(`performance.getEntriesByType("navigation").concat(performance.getEntriesByType("resource"))
		.reduce((s, e) => s + (e.decodedBodySize || 0), 0)`, &n))
	return n
}

func TestBrowserEveryPage(t *testing.T) {
	e := newEnv(t)
	d := e.seed()
	e.Clock.Advance(55 * time.Minute) // the confirmed outing's check-in is missed
	ctx := tab(t)
	// Whatever the browser refuses under the CSP (an inline script or
	// style htmx might add) is logged; any such entry fails the test.
	var mu sync.Mutex
	var refused []string
	chromedp.ListenTarget(ctx, func(ev any) {
		if e, ok := ev.(*cdplog.EventEntryAdded); ok && strings.Contains(e.Entry.Text, "Content Security Policy") {
			mu.Lock()
			refused = append(refused, e.Entry.Text)
			mu.Unlock()
		}
	})
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		if len(refused) > 0 {
			t.Errorf("CSP violations: %q", refused)
		}
	})
	run(t, ctx, cdplog.Enable(), network.Enable(), chromedp.Navigate(e.URL+"/console/login"), chromedp.WaitVisible("#email"))
	axe(t, ctx, "login")
	shoot(t, ctx, "01-login")
	browserSignIn(t, ctx, e, e.Coord)
	pages := []struct{ name, path, wait string }{
		{"02-today", "/console/today", ".badge-missed"},
		{"03-requests", "/console/requests", "table.list"},
		{"04-request", "/console/requests/" + d.Open, ".candidate"},
		{"05-approvals", "/console/approvals", ".approval"},
		{"06-members", "/console/members", "#pending-h"},
		{"07-participant", "/console/people/" + d.Pia.ID, "svg.chart"},
		{"08-volunteer", "/console/people/" + d.Vera.ID, "table.week"},
		{"09-not-found", "/console/people/" + d.Other.ID, ".problem"},
	}
	for _, p := range pages {
		run(t, ctx, chromedp.Navigate(e.URL+p.path), chromedp.WaitVisible(p.wait))
		axe(t, ctx, p.name)
		if w := pageWeight(t, ctx); w > 150*1024 {
			t.Errorf("%s weighs %d bytes, over 150 KB", p.name, w)
		} else {
			t.Logf("weight %-14s %6d bytes (HTML, CSS, htmx, uncompressed)", p.name, w)
		}
		shoot(t, ctx, p.name)
	}
	// axe can fail: an image without a text alternative is reported.
	var bad []axeViolation
	run(t, ctx, chromedp.Evaluate(`document.querySelector("main").insertAdjacentHTML("beforeend", "<img src='/console/static/none.png'>")`, nil),
		chromedp.Evaluate(`axe.run(document, {resultTypes: ["violations"]}).then(r => r.violations.map(v => ({id: v.id, impact: v.impact || ""})))`, &bad,
			func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
	if len(bad) == 0 || bad[0].ID != "image-alt" || bad[0].Impact != "critical" {
		t.Fatalf("axe missed an image without alt: %+v", bad)
	}
	run(t, ctx, chromedp.Navigate(e.URL+"/console/today"), chromedp.WaitVisible("#today"),
		chromedp.Click(`a[hreflang="en"]`), chromedp.WaitVisible("#today"))
	if h := text(t, ctx, "h1"); h != "Outings today and tomorrow" {
		t.Fatalf("English Today: %q", h)
	}
	axe(t, ctx, "10-today-en")
	shoot(t, ctx, "10-today-en")
	// Sign out: back at the sign-in page, and the pages are closed.
	run(t, ctx, chromedp.Click("#logout"), chromedp.WaitVisible("#email"))
	run(t, ctx, chromedp.Navigate(e.URL+"/console/approvals"), chromedp.WaitVisible("#email"))
}

func TestBrowserVetVolunteer(t *testing.T) {
	e := newEnv(t)
	d := e.seed()
	ctx := tab(t)
	browserSignIn(t, ctx, e, e.Coord)
	run(t, ctx, chromedp.Navigate(e.URL+"/console/members"), chromedp.WaitVisible("#note-"+d.Pending.ID),
		chromedp.SendKeys("#note-"+d.Pending.ID, "Intervju 20/11, referenser kontrollerade"))
	if s := status(t, ctx, chromedp.Click("#vet-"+d.Pending.ID)); s != 200 {
		t.Fatalf("vet: %d", s)
	}
	if n := text(t, ctx, ".notice"); n != "Volontären är godkänd." {
		t.Fatalf("notice: %q", n)
	}
	u, err := e.Auth.User(context.Background(), d.Pending.ID)
	if err != nil || u.Status != "active" || u.Vetting == nil || u.Vetting.Note != "Intervju 20/11, referenser kontrollerade" {
		t.Fatalf("after vetting: %+v %v", u, err)
	}
	if row := text(t, ctx, `tr[data-member="`+d.Pending.ID+`"]`); !strings.Contains(row, "referenser kontrollerade") {
		t.Fatalf("active list row: %q", row)
	}
}

func TestBrowserCandidateReasons(t *testing.T) {
	e := newEnv(t)
	d := e.seed()
	ctx := tab(t)
	browserSignIn(t, ctx, e, e.Coord)
	run(t, ctx, chromedp.Navigate(e.URL+"/console/requests"), chromedp.WaitVisible(`tr[data-outing="`+d.Open+`"] a`),
		chromedp.Click(`tr[data-outing="`+d.Open+`"] a`), chromedp.WaitVisible(".candidate"))
	page, err := e.Matcher.Candidates(context.Background(), e.Coord.Who, d.Open, candidatesQuery())
	if err != nil || len(page.Items) == 0 {
		t.Fatalf("candidates: %v %v", page, err)
	}
	first := page.Items[0]
	var reasons []string
	run(t, ctx, chromedp.Evaluate(`[...document.querySelectorAll(".candidate:first-child .reasons li")].map(li => li.textContent)`, &reasons))
	if strings.Join(reasons, "|") != strings.Join(first.Reasons, "|") || len(reasons) == 0 {
		t.Fatalf("page reasons %q, service %q", reasons, first.Reasons)
	}
	if h := text(t, ctx, ".candidate:first-child h3"); !strings.Contains(h, first.Name) {
		t.Fatalf("first candidate %q, want %s", h, first.Name)
	}
	excl := text(t, ctx, "table.excluded")
	if !strings.Contains(excl, "Tove Söndag") || !strings.Contains(excl, page.Excluded[0].Message) {
		t.Fatalf("excluded: %q, want %+v", excl, page.Excluded)
	}
	t.Logf("candidate %s: %s", first.Name, strings.Join(reasons, "; "))
	t.Logf("excluded: %s", strings.Join(strings.Fields(excl), " "))
}

func TestBrowserApproveAndReject(t *testing.T) {
	e := newEnv(t)
	d := e.seed()
	ctx := tab(t)
	browserSignIn(t, ctx, e, e.Coord)
	run(t, ctx, chromedp.Navigate(e.URL+"/console/approvals"), chromedp.WaitVisible("#approve-"+d.PendingA))
	if together := text(t, ctx, `article[data-outing="`+d.PendingA+`"]`); !strings.Contains(together, "betyg 5 av 5") {
		t.Fatalf("history together missing: %q", together)
	}
	if s := status(t, ctx, chromedp.Click("#approve-"+d.PendingA)); s != 200 {
		t.Fatalf("approve: %d", s)
	}
	if n := text(t, ctx, ".notice"); n != "Matchningen är godkänd." {
		t.Fatalf("notice: %q", n)
	}
	run(t, ctx, chromedp.SendKeys("#reason-"+d.PendingB, "Ville har redan två utflykter den dagen"))
	if s := status(t, ctx, chromedp.Click("#reject-"+d.PendingB)); s != 200 {
		t.Fatalf("reject: %d", s)
	}
	if n := text(t, ctx, ".notice"); !strings.HasPrefix(n, "Matchningen är avvisad") {
		t.Fatalf("notice: %q", n)
	}
	bg := context.Background()
	a, _ := e.Outings.Outing(bg, e.Coord.Who, d.PendingA)
	b, _ := e.Outings.Outing(bg, e.Coord.Who, d.PendingB)
	h, _ := e.Outings.History(bg, e.Coord.Who, d.PendingB)
	if a.Status != "confirmed" || b.Status != "open" || h[len(h)-1].Reason != "Ville har redan två utflykter den dagen" {
		t.Fatalf("after: %s %s %+v", a.Status, b.Status, h)
	}
}

func TestBrowserApproveWithKeyboardOnly(t *testing.T) {
	e := newEnv(t)
	d := e.seed()
	ctx := tab(t)
	browserSignIn(t, ctx, e, e.Coord)
	// From the Today page: Tab to "Godkännanden", Enter, Tab to the approve button, Enter.
	tabTo := func(want string) {
		for range 80 {
			var active string
			run(t, ctx, chromedp.KeyEvent("\t"), chromedp.Evaluate(`(document.activeElement.id || "") + "|" + (document.activeElement.getAttribute("href") || "")`, &active))
			if strings.Contains(active, want) {
				return
			}
		}
		t.Fatalf("Tab never reached %s", want)
	}
	tabTo("/console/approvals")
	run(t, ctx, chromedp.KeyEvent("\r"), chromedp.WaitVisible("#approve-"+d.PendingB))
	tabTo("approve-" + d.PendingB) // PendingB starts first, so it is listed first
	if s := status(t, ctx, chromedp.KeyEvent("\r")); s != 200 {
		t.Fatalf("approve by keyboard: %d", s)
	}
	if n := text(t, ctx, ".notice"); n != "Matchningen är godkänd." {
		t.Fatalf("notice: %q", n)
	}
	if o, _ := e.Outings.Outing(context.Background(), e.Coord.Who, d.PendingB); o.Status != "confirmed" {
		t.Fatalf("status %s", o.Status)
	}
}

func TestBrowserLostRaceIs409Kindly(t *testing.T) {
	e := newEnv(t)
	d := e.seed()
	ctx := tab(t)
	browserSignIn(t, ctx, e, e.Coord)
	run(t, ctx, chromedp.Navigate(e.URL+"/console/approvals"), chromedp.WaitVisible("#approve-"+d.PendingA))
	other := e.user("coordinator", e.Org, "active", "Cecilia Ek")
	e.must(e.Outings.Approve(context.Background(), other.Who, d.PendingA))
	if s := status(t, ctx, chromedp.Click("#approve-"+d.PendingA)); s != 409 {
		t.Fatalf("lost race: %d", s)
	}
	if p := text(t, ctx, ".problem"); !strings.HasPrefix(p, "Någon annan hann före") {
		t.Fatalf("409 text: %q", p)
	}
	axe(t, ctx, "11-conflict")
	shoot(t, ctx, "11-conflict")
}

func TestBrowserMissedCheckInAppears(t *testing.T) {
	e := newEnv(t, func(c *cfg) { c.Poll = 2 * time.Second })
	d := e.seed()
	ctx := tab(t)
	browserSignIn(t, ctx, e, e.Coord)
	run(t, ctx, chromedp.WaitVisible(`li[data-outing="`+d.Confirmed+`"]`))
	var n int
	run(t, ctx, chromedp.Evaluate(`window.clavisMark = 7; document.querySelectorAll(".badge-missed").length`, &n))
	if n != 0 {
		t.Fatal("missed before the start")
	}
	e.Clock.Advance(51 * time.Minute) // 40 min to the start + 10 min grace, passed
	start := time.Now()
	run(t, ctx, chromedp.WaitVisible(`li.missed[data-outing="`+d.Confirmed+`"] .badge-missed`))
	took := time.Since(start)
	var mark int
	run(t, ctx, chromedp.Evaluate(`window.clavisMark || 0`, &mark))
	if mark != 7 {
		t.Fatal("the page reloaded")
	}
	if w := text(t, ctx, ".badge-missed"); w != "MISSAD INCHECKNING" {
		t.Fatalf("word: %q", w)
	}
	t.Logf("missed check-in shown %v after it became missed, without reloading (poll every 2 s)", took.Round(time.Millisecond))
}

func TestBrowserCSRFAndOtherOrganisation(t *testing.T) {
	e := newEnv(t)
	d := e.seed()
	ctx := tab(t)
	browserSignIn(t, ctx, e, e.Coord)
	run(t, ctx, chromedp.Navigate(e.URL+"/console/approvals"), chromedp.WaitVisible("#approve-"+d.PendingA),
		chromedp.Evaluate(`document.querySelectorAll('input[name="csrf"]').forEach(i => i.remove())`, nil))
	if s := status(t, ctx, chromedp.Click("#approve-"+d.PendingA)); s != 403 {
		t.Fatalf("without CSRF: %d", s)
	}
	t.Logf("form without its CSRF token: 403, %q", text(t, ctx, ".problem"))
	if o, _ := e.Outings.Outing(context.Background(), e.Coord.Who, d.PendingA); o.Status != "pending_approval" {
		t.Fatalf("changed without a token: %s", o.Status)
	}
	if s := status(t, ctx, chromedp.Navigate(e.URL+"/console/people/"+d.Other.ID)); s != 404 {
		t.Fatalf("other organisation's person: %d", s)
	}
	if body := text(t, ctx, "main"); strings.Contains(body, "Otto") || !strings.Contains(body, "Det finns ingen sådan sida eller person.") {
		t.Fatalf("404 page: %q", body)
	}
	t.Logf("another organisation's person: 404, %q", text(t, ctx, ".problem"))
}
