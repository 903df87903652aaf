package agent

import (
	"embed"
	"io/fs"
	"net/http"
)

// uiFiles are the status page: plain HTML, CSS and JavaScript, built into
// the binary so that the page works offline and needs no build step.
//
//go:embed ui
var uiFiles embed.FS

// uiPolicy is the status page's Content-Security-Policy: its own script
// and style files only (no inline script, so injected markup cannot run),
// requests to this origin only, no framing (clickjacking) and no form
// submission outside the script (a login form must never end up in a URL).
const uiPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"form-action 'none'; frame-ancestors 'none'; base-uri 'none'"

// uiHandler serves the status page under /ui/. The files hold no data:
// the page reads and does everything through the API with the session of
// the user who logs in on it, so they answer without a session, like
// /healthz. The session token stays in the tab's sessionStorage and goes
// out only as an Authorization header, which a browser never adds by
// itself: another site cannot make a logged-in browser call the API.
func uiHandler() http.Handler {
	files, err := fs.Sub(uiFiles, "ui")
	if err != nil {
		panic("agent: the status page is not embedded: " + err.Error())
	}
	serve := http.StripPrefix("/ui/", http.FileServerFS(files))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", uiPolicy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		// An upgraded agent serves new files at once.
		h.Set("Cache-Control", "no-cache")
		serve.ServeHTTP(w, r)
	})
}
