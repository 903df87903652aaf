package agent

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// TestStatusPageFiles: the status page's files answer without a session
// (they hold no data), under a policy that runs no inline script and
// allows no framing; nothing else becomes public with them.
func TestStatusPageFiles(t *testing.T) {
	h := newHarness(t, nil)
	index := h.do(request{method: "GET", path: "/ui/"})
	if index.Code != http.StatusOK || !strings.HasPrefix(index.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("GET /ui/ = %d %q, want 200 text/html", index.Code, index.Header().Get("Content-Type"))
	}
	page := index.Body.String()

	// Every file the page loads is served, with its type and the headers.
	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(refs) < 2 {
		t.Fatalf("the page loads %d files, want its script and style sheet", len(refs))
	}
	wantType := map[string]string{".js": "text/javascript", ".css": "text/css"}
	for _, path := range append([]string{"/ui/"}, "/ui/"+refs[0][1], "/ui/"+refs[1][1]) {
		w := h.do(request{method: "GET", path: path})
		if w.Code != http.StatusOK {
			t.Errorf("GET %s = %d, want 200", path, w.Code)
			continue
		}
		for ext, ct := range wantType {
			if strings.HasSuffix(path, ext) && !strings.HasPrefix(w.Header().Get("Content-Type"), ct) {
				t.Errorf("GET %s: Content-Type %q, want %s", path, w.Header().Get("Content-Type"), ct)
			}
		}
		csp := w.Header().Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "form-action 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("GET %s: Content-Security-Policy %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe") {
			t.Errorf("GET %s: Content-Security-Policy %q allows unsafe sources", path, csp)
		}
		if got := w.Header().Get("X-Frame-Options"); got != "DENY" {
			t.Errorf("GET %s: X-Frame-Options %q, want DENY", path, got)
		}
		if got := w.Header().Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("GET %s: X-Content-Type-Options %q, want nosniff", path, got)
		}
	}

	// No inline script, which the policy would block anyway: every script
	// is a file, and no element has an event handler attribute.
	for _, tag := range regexp.MustCompile(`<script[^>]*>`).FindAllString(page, -1) {
		if !strings.Contains(tag, ` src="`) {
			t.Errorf("inline script in the page: %s", tag)
		}
	}
	if m := regexp.MustCompile(`\son[a-z]+\s*=`).FindString(page); m != "" {
		t.Errorf("the page has an event handler attribute: %q", m)
	}
	// The script shows the API's text as text, never as markup.
	script := h.do(request{method: "GET", path: "/ui/app.js"}).Body.String()
	for _, sink := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"} {
		if strings.Contains(script, sink) {
			t.Errorf("app.js uses %s: text from the API could run as markup", sink)
		}
	}

	// Only GET and HEAD of the files are public; the API still needs a
	// session, however the path is spelled.
	for _, r := range []request{
		{method: "POST", path: "/ui/"},
		{method: "GET", path: "/v1/status"},
		{method: "GET", path: "/ui/../v1/status"},
		{method: "GET", path: "/ui/%2e%2e/v1/status"},
	} {
		w := h.do(r)
		if w.Code == http.StatusOK || strings.Contains(w.Body.String(), `"counter"`) {
			t.Errorf("%s %s without a session = %d %s", r.method, r.path, w.Code, w.Body)
		}
	}
	if w := h.do(request{method: "GET", path: "/ui/nothing.js"}); w.Code != http.StatusNotFound {
		t.Errorf("GET /ui/nothing.js = %d, want 404", w.Code)
	}
	if w := h.do(request{method: "GET", path: "/ui"}); w.Code/100 != 3 || w.Header().Get("Location") != "/ui/" {
		t.Errorf("GET /ui = %d to %q, want a redirect to /ui/", w.Code, w.Header().Get("Location"))
	}
}
