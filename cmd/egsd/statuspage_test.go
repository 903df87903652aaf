package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/egsd/egsd/agent"
	"github.com/egsd/egsd/queue"
	zatcasim "github.com/egsd/egsd/sim/zatca"
)

var uiScreenshot = flag.String("ui.screenshot", "", "write a screenshot of the status page during an outage to `file` (PNG)")

// pageDeadline bounds one wait for the status page, which refreshes every
// few seconds; no test asserts on how long anything took.
const pageDeadline = 30 * time.Second

// statusPage is the status page open in headless Chromium.
type statusPage struct {
	t   *testing.T
	ctx context.Context

	mu       sync.Mutex
	problems []string // script exceptions and policy violations on the page
}

// chromium returns the path of the Chromium browser; it skips the test
// when Chromium is not installed.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("chromium is not installed: the status page's browser test needs it (Debian: apt-get install chromium chromium-driver; CI installs both)")
	return ""
}

// openStatusPage starts the headless browser on url+"/ui/".
func openStatusPage(t *testing.T, browser, url string) *statusPage {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser),
		chromedp.NoSandbox, // CI runs as root, where Chromium's sandbox cannot start
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	p := &statusPage{t: t, ctx: ctx}
	watched := make(chan struct{})
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		<-watched
		for _, m := range p.problems {
			t.Errorf("on the status page: %s", m)
		}
	})
	// The first action starts the browser, with no timeout of its own: a
	// timeout would stop the browser with it.
	messages := chromedp.Console(ctx)
	go func() {
		defer close(watched)
		for m, err := range messages {
			if err != nil {
				return
			}
			// A refused request (403, 404) is logged as an error too: the
			// page handles those; exceptions and policy violations are bugs.
			if m.Type == chromedp.ConsoleException || m.Source == "security" || strings.Contains(m.Text, "Content Security Policy") {
				p.mu.Lock()
				p.problems = append(p.problems, fmt.Sprintf("%s %s (%s:%d)", m.Type, m.Text, m.URL, m.Line))
				p.mu.Unlock()
			}
		}
	}()
	if err := chromedp.Do(ctx, chromedp.Navigate(url+"/ui/")); err != nil {
		t.Fatalf("open the status page in %s: %v", browser, err)
	}
	return p
}

// do runs the actions, each wait bounded by pageDeadline.
func (p *statusPage) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, pageDeadline)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.t.Fatalf("%s: %v", what, err)
	}
}

// await waits until the JavaScript expression is true on the page.
func (p *statusPage) await(what, expr string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, pageDeadline)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(100*time.Millisecond))); err != nil {
		p.t.Fatalf("waiting for %s on the status page: %v", what, err)
	}
}

// read runs an action that reads something off the page.
func read[T any](p *statusPage, what string, action chromedp.Action[T]) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, pageDeadline)
	defer cancel()
	v, err := chromedp.Run(ctx, action)
	if err != nil {
		p.t.Fatalf("read %s: %v", what, err)
	}
	return v
}

// text returns the text content of the element that selector finds.
func (p *statusPage) text(selector string) string {
	p.t.Helper()
	return strings.TrimSpace(read(p, selector, chromedp.TextContent(chromedp.CSS(selector))))
}

// press clicks the element that selector finds, once it is visible, from
// the page itself. A click at the element's coordinates could land on
// something else when a refresh changes the layout between finding the
// element and clicking.
func press(selector string) chromedp.Action[chromedp.Void] {
	click := fmt.Sprintf(`(() => { const e = document.querySelector(%q); if (!e || !e.checkVisibility()) return false; e.click(); return true; })()`, selector)
	poll := chromedp.Poll[bool](click, chromedp.WithPollingInterval(50*time.Millisecond))
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := poll(ctx, t); err != nil {
			return fmt.Errorf("click %s: %w", selector, err)
		}
		return nil
	})
}

// textIs is a JavaScript expression: the element's text is want.
func textIs(selector, want string) string {
	return fmt.Sprintf(`(document.querySelector(%q)?.textContent ?? "").trim() === %q`, selector, want)
}

// textHas is a JavaScript expression: the element's text contains part.
func textHas(selector, part string) string {
	return fmt.Sprintf(`(document.querySelector(%q)?.textContent ?? "").includes(%q)`, selector, part)
}

// TestStatusPage drives the status page in headless Chromium through an
// outage, as a store manager would: log in, see a rejected document, see
// the outage incident appear with the notification to file, record its
// reference, bring the authority back, replay, see the outbox drain and
// the incident close, and issue the rejected document's credit note.
func TestStatusPage(t *testing.T) {
	browser := chromium(t)
	u := newZATCAUnit(t, nil)
	for _, user := range []struct{ name, role string }{{"boss", "manager"}, {"cashier", "cashier"}} {
		if _, err := u.a.Auth().AddUser(queue.SystemActor, user.name, user.role, user.name+"-password-1"); err != nil {
			t.Fatal(err)
		}
	}
	page := openStatusPage(t, browser, u.url)

	// A wrong password is refused with the API's reason, and cleared.
	page.do("log in with a wrong password",
		chromedp.WaitVisible(chromedp.CSS("#login-user")),
		chromedp.SendKeys(chromedp.CSS("#login-user"), "boss"),
		chromedp.SendKeys(chromedp.CSS("#login-password"), "not-the-password"),
		press("#login-submit"))
	page.await("the login refusal", textHas("#login-error", "Login failed: "))
	page.do("log in",
		chromedp.SendKeys(chromedp.CSS("#login-password"), "boss-password-1"),
		press("#login-submit"),
		chromedp.WaitVisible(chromedp.CSS("#main")))
	if got := page.text("#user"); got != "boss (manager)" {
		t.Errorf("the page says the user is %q, want boss (manager)", got)
	}
	page.await("the unit to show ready", textIs("#state", "ready"))

	// The authority rejects the first document: it is listed with the
	// button for its credit note.
	if err := u.sim.SetFaults(zatcasim.Faults{RejectICVs: []uint64{1}}); err != nil {
		t.Fatal(err)
	}
	u.issue(0, 1)
	page.await("the rejected document with its credit note button", `document.querySelector('#rejected-rows tr[data-counter="1"] button.credit-note') !== null`)

	// The authority goes down, asking for an hour's patience: nothing is
	// retried before then unless the manager replays.
	if err := u.sim.SetFaults(zatcasim.Faults{Status: 503, RetryAfter: time.Hour}); err != nil {
		t.Fatal(err)
	}
	// Sales go on (simplified invoices, one every few hundred
	// milliseconds) until the failures have lasted long enough
	// (submission.outage_after) for an outage incident.
	issued := 1
	for end := time.Now().Add(pageDeadline); ; {
		u.issue(4*issued, 4*issued+1)
		issued++
		st, err := u.a.Status()
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Incidents) == 1 && st.Incidents[0].Kind == "outage" {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("no outage incident after %d sales during the outage", issued-1)
		}
		time.Sleep(300 * time.Millisecond)
	}
	st, err := u.a.Status()
	if err != nil {
		t.Fatal(err)
	}
	inc := st.Incidents[0]
	item := fmt.Sprintf("#incident-%d", inc.ID)
	page.await("the outage incident, open", fmt.Sprintf(`document.querySelector(%q)?.dataset.open === "true"`, item))
	page.await("the unit to show offline", textIs("#state", "offline"))
	page.await("the outbox depth", textIs("#outbox-pending", fmt.Sprint(issued-1)))
	page.await("the deadline clock", textHas("#deadline", "due by"))
	notice := read(page, "the notification", chromedp.Value(chromedp.CSS(item+" .notice-text")))
	for _, want := range []string{"Notification of a failure", st.DeviceID, inc.Title, inc.Start.UTC().Format("2006-01-02T15:04:05"), "503"} {
		if !strings.Contains(notice, want) {
			t.Errorf("the notification to file lacks %q:\n%s", want, notice)
		}
	}

	// The manager files it and records the authority's reference.
	const reference = "ZATCA-NOTICE-2026-0042"
	page.do("record the reference",
		chromedp.SendKeys(chromedp.CSS(item+" .notice-ref"), reference),
		press(item+" .notice-submit"))
	page.await("the recorded reference", textHas(item+" .notice-refs", reference))
	incs, err := u.a.Store().Incidents(false, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(incs) != 1 || len(incs[0].Notified) != 1 || incs[0].Notified[0].Reference != reference || incs[0].Notified[0].By != "boss" {
		t.Fatalf("incidents in the store: %+v; want the reference recorded by boss", incs)
	}
	page.await("the success message", textHas("#message", reference))
	if *uiScreenshot != "" {
		png := read(page, "a screenshot", chromedp.FullScreenshot(100))
		if err := os.WriteFile(*uiScreenshot, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// An action the API refuses shows the API's reason.
	page.do("print a test page", press("#printer-test"))
	page.await("the printer's problem", textHas("#message", "no receipt printer configured"))

	// The authority is back. Every document issued during the outage was
	// tried and told to wait an hour, so all are still waiting: the
	// replay is what sends them.
	waitFor(t, "every document to have been tried", pageDeadline, func() bool { return u.sim.Stats().Faults >= issued-1 })
	if err := u.sim.SetFaults(zatcasim.Faults{}); err != nil {
		t.Fatal(err)
	}
	if got := u.pending(); got != issued-1 {
		t.Fatalf("%d documents pending before the replay, want %d", got, issued-1)
	}
	page.do("replay", press("#replay-now"))
	page.await("the replay to finish", `document.querySelector("#replay-progress")?.dataset.finished === "true"`)
	page.await("the outbox to drain", textIs("#outbox-pending", "0"))
	page.await("the incident to close", fmt.Sprintf(`document.querySelector(%q)?.dataset.open === "false"`, item))
	page.await("the unit to show ready again", textIs("#state", "ready"))
	if got, want := page.text("#replay-text"), fmt.Sprintf("%d of %d answered", issued-1, issued-1); !strings.Contains(got, want) || !strings.Contains(got, " 0 rejected") {
		t.Errorf("replay progress %q, want %q and none rejected", got, want)
	}
	if u.pending() != 0 {
		t.Fatalf("%d documents pending after the replay", u.pending())
	}

	// The rejected document's corrective credit note, from its button.
	page.do("issue the credit note", press(`#rejected-rows tr[data-counter="1"] button.credit-note`))
	page.await("the rejected document to show its credit note", textHas(`#rejected-rows tr[data-counter="1"]`, "corrected by credit note"))
	st, err = u.a.Status()
	if err != nil {
		t.Fatal(err)
	}
	if st.Rejected.WithoutCreditNote != 0 || len(st.Rejected.Newest) != 1 || st.Rejected.Newest[0].CreditNote == 0 {
		t.Fatalf("rejected documents after the credit note: %+v", st.Rejected)
	}
	note, err := u.a.Store().Document(st.Rejected.Newest[0].CreditNote)
	if err != nil {
		t.Fatal(err)
	}
	if note.Kind != "credit_note" || note.User != "boss" {
		t.Errorf("the corrective note is a %s by %s, want a credit note by boss", note.Kind, note.User)
	}
	u.drained(pageDeadline)

	// Logging out forgets the session; a cashier then sees what a cashier
	// may: the unit and their own documents, no incidents, no replay.
	page.do("log out", press("#logout"))
	page.await("the login form", `!document.querySelector("#login").hidden && sessionStorage.getItem("egsd.session") === null`)
	page.do("log in as the cashier",
		chromedp.SendKeys(chromedp.CSS("#login-user"), "cashier"),
		chromedp.SendKeys(chromedp.CSS("#login-password"), "cashier-password-1"),
		press("#login-submit"),
		chromedp.WaitVisible(chromedp.CSS("#main")))
	page.await("the cashier's view", `document.querySelector("#incidents").hidden && document.querySelector("#replay").hidden && `+
		`document.querySelectorAll("#document-rows tr").length > 0`)
	if got := page.text("#user"); got != "cashier (cashier)" {
		t.Errorf("the page says the user is %q, want cashier (cashier)", got)
	}
	if rows := page.text("#document-rows"); strings.Contains(rows, "boss") {
		t.Errorf("the cashier's recent documents include the manager's credit note: %s", rows)
	}

	// A session that ends on the agent (here: the account is disabled)
	// takes the page back to the login form, saying why.
	disabled := true
	if _, err := u.a.Auth().ChangeUser(queue.SystemActor, "cashier", agent.UserChange{Disabled: &disabled}); err != nil {
		t.Fatal(err)
	}
	page.await("the login form after the session ended", `!document.querySelector("#login").hidden && `+
		textHas("#login-error", "Your session has ended"))
}
