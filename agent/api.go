package agent

import (
	"context"
	"errors"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pelletier/go-toml/v2"

	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/stamping/sale"
	"github.com/egsd/egsd/stamping/strictjson"
)

// route is one API endpoint. Every route names the roles that may call it;
// only the routes in publicRoutes may have none. routes() is the one place
// endpoints are added, so the auth table test sees every one of them.
type route struct {
	method, path string
	roles        []Role // nil only for a public route
	handle       func(w http.ResponseWriter, r *http.Request, p *Principal)
}

// queryParam is a query parameter a route takes. values lists the values
// it accepts; nil leaves the value to the handler (numbers).
type queryParam struct {
	name   string
	values []string
}

// pageParams page through a listing (see queryPage).
var pageParams = []queryParam{{name: "since"}, {name: "limit"}}

// routeQueries are the query parameters of the routes that take any. A
// request with another parameter, a parameter given twice, or a value
// outside values is refused (400) before the handler runs, so that a
// mistyped option is never silently ignored.
var routeQueries = map[string][]queryParam{
	"GET /v1/documents":              append(slices.Clone(pageParams), queryParam{"include", []string{"document"}}, queryParam{"status", statusNames()}),
	"GET /v1/documents/{id}/content": {{"form", []string{"issued", "cleared", "handover"}}},
	"GET /v1/incidents":              {{"open", []string{"true", "false"}}},
	"GET /v1/audit":                  pageParams,
	"GET /v1/audit/checkpoints":      pageParams,
}

// statusNames are the names of the documents' statuses, which GET
// /v1/documents?status= filters by.
func statusNames() []string {
	var names []string
	for _, s := range queue.Statuses() {
		names = append(names, s.String())
	}
	return names
}

// publicRoutes answer without a session: the health probe, and logging in.
var publicRoutes = []string{"GET /healthz", "POST /v1/sessions"}

// ownAuthRoutes are served outside the route table because they take no
// session: the caller proves itself its own way. GET /metrics takes the
// scrape token (metrics.token_file) or a connection over api.unix_socket.
var ownAuthRoutes = []string{"GET /metrics"}

var (
	anyRole    = []Role{RoleCashier, RoleManager, RoleTechnician}
	sellers    = []Role{RoleCashier, RoleManager}
	userAdmins = []Role{RoleManager, RoleOwner}
	overseers  = []Role{RoleManager, RoleTechnician}
	managers   = []Role{RoleManager}
)

func (a *Agent) routeTable() []route {
	return []route{
		{"GET", "/healthz", nil, a.handleHealth},
		{"POST", "/v1/sessions", nil, a.handleLogin},
		{"GET", "/v1/sessions/current", append(slices.Clone(anyRole), RoleOwner), a.handleWhoAmI},
		{"DELETE", "/v1/sessions", anyRole, a.handleLogout},
		{"POST", "/v1/sales", sellers, a.handleSale},
		{"GET", "/v1/documents", sellers, a.handleListDocuments},
		{"GET", "/v1/documents/{id}", sellers, a.handleGetDocument},
		{"GET", "/v1/documents/{id}/content", sellers, a.handleGetDocumentContent},
		{"POST", "/v1/documents/{id}/credit-note", managers, a.handleCorrectiveCreditNote},
		{"POST", "/v1/documents/{id}/print", sellers, a.handlePrintDocument},
		{"GET", "/v1/printer", overseers, a.handlePrinter},
		{"POST", "/v1/printer/test", overseers, a.handlePrinterTest},
		{"GET", "/v1/status", anyRole, a.handleStatus},
		{"GET", "/v1/users", userAdmins, a.handleListUsers},
		{"POST", "/v1/users", userAdmins, a.handleAddUser},
		{"PATCH", "/v1/users/{name}", userAdmins, a.handleChangeUser},
		{"DELETE", "/v1/users/{name}", userAdmins, a.handleRemoveUser},
		{"POST", "/v1/users/{name}/sessions", []Role{RoleOwner}, a.handleOwnerSession},
		{"GET", "/v1/config", overseers, a.handleConfig},
		{"GET", "/v1/incidents", overseers, a.handleIncidents},
		{"POST", "/v1/incidents/{id}/notifications", managers, a.handleNotification},
		{"POST", "/v1/incidents", managers, a.handleOpenIncident},
		{"POST", "/v1/incidents/{id}/close", managers, a.handleCloseIncident},
		{"POST", "/v1/replay", managers, a.handleReplay},
		{"GET", "/v1/replay", managers, a.handleReplayProgress},
		{"GET", "/v1/audit", managers, a.handleAudit},
		{"GET", "/v1/audit/verify", managers, a.handleAuditVerify},
		{"GET", "/v1/audit/checkpoints", managers, a.handleAuditCheckpoints},
		{"POST", "/v1/audit/checkpoints", managers, a.handleNewAuditCheckpoint},
		{"POST", "/v1/onboarding", []Role{RoleTechnician}, a.handlePostOnboarding},
		{"GET", "/v1/onboarding", overseers, a.handleGetOnboarding},
		{"GET", "/v1/shift", managers, a.handleShift},
		{"POST", "/v1/shift/close", managers, a.handleShiftClose},
	}
}

// routes builds the HTTP handler from the route table.
func (a *Agent) routes() http.Handler {
	mux := http.NewServeMux()
	served := map[string]bool{}
	for _, rt := range a.routeTable() {
		pattern := rt.method + " " + rt.path
		public := slices.Contains(publicRoutes, pattern)
		if public != (rt.roles == nil) {
			panic("agent: route " + pattern + " must have roles unless it is in publicRoutes")
		}
		rt.handle = checkingQuery(rt, routeQueries[pattern])
		served[pattern] = true
		mux.HandleFunc(pattern, a.guard(rt, public))
	}
	for pattern := range routeQueries {
		if !served[pattern] {
			panic("agent: routeQueries names " + pattern + ", which is not in the route table")
		}
	}
	// The status page's static files: public, as they hold no data (see
	// uiHandler). Not in the route table, which is the JSON API.
	mux.Handle("GET /ui/", uiHandler())
	mux.Handle("GET /metrics", http.HandlerFunc(a.handleMetrics))
	// Everything else needs a session too, so that probing paths without
	// one learns nothing.
	mux.HandleFunc("/", a.guard(route{roles: append(slices.Clone(anyRole), RoleOwner), handle: func(w http.ResponseWriter, r *http.Request, _ *Principal) {
		writeProblem(w, Problem{Type: problemNotFound, Title: "No such endpoint", Status: http.StatusNotFound,
			Detail: r.Method + " " + r.URL.Path + " is not an endpoint of this API; see docs/api.md"})
	}}, false))
	return a.logRequests(mux)
}

// guard authenticates the caller and checks its role before the handler runs.
func (a *Agent) guard(rt route, public bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if public {
			rt.handle(w, r, nil)
			return
		}
		p, err := a.auth.Authenticate(bearerToken(r))
		if err != nil {
			if !errors.Is(err, ErrNoSession) && !strings.HasPrefix(err.Error(), "session expired") {
				a.internalError(w, r, err)
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="egsd"`)
			writeProblem(w, Problem{Type: problemUnauthorized, Title: "Not logged in", Status: http.StatusUnauthorized, Detail: err.Error()})
			return
		}
		if !slices.Contains(rt.roles, p.Role) {
			writeProblem(w, Problem{Type: problemForbidden, Title: "Not allowed for this role", Status: http.StatusForbidden,
				Detail: "role " + string(p.Role) + " may not call " + r.Method + " " + r.URL.Path + "; allowed: " + joinRoles(rt.roles)})
			return
		}
		setUser(r, p.User)
		rt.handle(w, r, p)
	}
}

// checkingQuery wraps a route's handler so that it runs only when the
// query string holds nothing but the parameters the route takes, each
// once, with a value it accepts.
func checkingQuery(rt route, params []queryParam) func(http.ResponseWriter, *http.Request, *Principal) {
	return func(w http.ResponseWriter, r *http.Request, p *Principal) {
		if checkQuery(w, r, rt, params) {
			rt.handle(w, r, p)
		}
	}
}

// checkQuery refuses a query string with a parameter the route does not
// take, a parameter given more than once, or a value the parameter does
// not accept; on failure it has written the problem, naming each
// parameter and what is allowed, and returns false.
func checkQuery(w http.ResponseWriter, r *http.Request, rt route, params []queryParam) bool {
	if r.URL.RawQuery == "" {
		return true
	}
	values, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		writeProblem(w, fieldProblem("query", "is not a valid query string: "+err.Error()))
		return false
	}
	var errs []sale.FieldError
	for _, name := range slices.Sorted(maps.Keys(values)) {
		i := slices.IndexFunc(params, func(q queryParam) bool { return q.name == name })
		if i < 0 {
			errs = append(errs, sale.FieldError{Field: name, Rule: "is not a parameter of " + rt.method + " " + rt.path + "; " + takes(params)})
			continue
		}
		q, vs := params[i], values[name]
		switch {
		case len(vs) > 1:
			errs = append(errs, sale.FieldError{Field: name, Rule: "is given more than once; give it once"})
		case q.values != nil && !slices.Contains(q.values, vs[0]):
			errs = append(errs, sale.FieldError{Field: name, Rule: "must be " + orList(q.values) + ", not " + strconv.Quote(vs[0])})
		}
	}
	if len(errs) == 0 {
		return true
	}
	details := make([]string, len(errs))
	for i, e := range errs {
		details[i] = e.Error()
	}
	writeProblem(w, Problem{Type: problemInvalidInput, Title: "Invalid query parameter", Status: http.StatusBadRequest,
		Detail: strings.Join(details, "; "), Errors: errs})
	return false
}

// takes says which query parameters a route takes.
func takes(params []queryParam) string {
	if len(params) == 0 {
		return "it takes no query parameters"
	}
	names := make([]string, len(params))
	for i, q := range params {
		names[i] = q.name
	}
	return "it takes " + strings.Join(names, ", ")
}

// orList joins values as "a", "a or b", "a, b or c".
func orList(values []string) string {
	if len(values) < 2 {
		return strings.Join(values, "")
	}
	return strings.Join(values[:len(values)-1], ", ") + " or " + values[len(values)-1]
}

// bearerToken returns the token of an "Authorization: Bearer <token>"
// header; the scheme is case-insensitive (RFC 9110 §11.1).
func bearerToken(r *http.Request) string {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

func joinRoles(rs []Role) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

type ctxUserKey struct{}

// userSlot carries the authenticated user name from guard to the request log.
type userSlot struct{ name string }

func setUser(r *http.Request, name string) {
	if s, ok := r.Context().Value(ctxUserKey{}).(*userSlot); ok {
		s.name = name
	}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) { s.status = code; s.ResponseWriter.WriteHeader(code) }

// logRequests logs one line per request: never headers or bodies, which
// carry tokens and passwords.
func (a *Agent) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		slot := &userSlot{}
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), ctxUserKey{}, slot)))
		ev := a.log.Debug()
		if rec.status >= 500 {
			ev = a.log.Error()
		}
		ev.Str("method", r.Method).Str("path", r.URL.Path).Int("status", rec.status).
			Str("user", slot.name).Dur("took", time.Since(start)).Msg("request")
	})
}

func (a *Agent) internalError(w http.ResponseWriter, r *http.Request, err error) {
	if isNoSpace(err) {
		// Whatever the request wrote was rolled back whole: say so, and
		// what frees the unit, rather than a bare 500.
		writeProblem(w, a.disk.insufficientStorage(a.disk.noSpace(err)))
		return
	}
	a.log.Error().Err(err).Str("path", r.URL.Path).Msg("request failed")
	writeProblem(w, Problem{Type: problemInternal, Title: "Internal error", Status: http.StatusInternalServerError,
		Detail: "the agent could not complete the request; see its log"})
}

// readJSON reads a small JSON request body strictly into v (the rules of
// package strictjson, as for sales); on failure it has written the problem
// and returns false.
func readJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) bool {
	if prob, ok := checkJSONMediaType(r); !ok {
		writeProblem(w, prob)
		return false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		writeProblem(w, Problem{Type: problemTooLarge, Title: "Body too large", Status: http.StatusRequestEntityTooLarge,
			Detail: "the body is larger than " + strconv.FormatInt(limit, 10) + " bytes"})
		return false
	}
	if err != nil {
		writeProblem(w, fieldProblem("body", "could not be read: "+err.Error()))
		return false
	}
	if err := strictjson.Decode(body, v, ""); err != nil {
		var e *strictjson.Error
		if errors.As(err, &e) {
			writeProblem(w, fieldProblem(e.Field, e.Rule))
		} else {
			writeProblem(w, fieldProblem(strictjson.Body, err.Error()))
		}
		return false
	}
	return true
}

// checkJSONMediaType accepts the one media type request bodies are read
// as: application/json, with no parameter or charset=utf-8 (any case).
// Anything else — another type, another charset, another parameter — is
// a 415 that says what to send.
func checkJSONMediaType(r *http.Request) (Problem, bool) {
	ct := r.Header.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	ok := err == nil && mt == "application/json"
	for name, value := range params {
		if name != "charset" || !strings.EqualFold(value, "utf-8") {
			ok = false
		}
	}
	if ok {
		return Problem{}, true
	}
	got := "no Content-Type"
	if ct != "" {
		got = "Content-Type " + strconv.Quote(ct)
	}
	return Problem{Type: problemMediaType, Title: "Unsupported media type", Status: http.StatusUnsupportedMediaType,
		Detail: got + " is not accepted: send the body as UTF-8 JSON with Content-Type: application/json (optionally ; charset=utf-8)"}, false
}

func (a *Agent) handleHealth(w http.ResponseWriter, r *http.Request, _ *Principal) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

type loginRequest struct {
	User     string `json:"user"`
	Password string `json:"password"`
}

// SessionView is the answer to a login.
type SessionView struct {
	Token   string    `json:"token,omitempty"`
	User    string    `json:"user"`
	Role    string    `json:"role"`
	Expires time.Time `json:"expires,omitzero"`
}

// maxLoginBody bounds a login request: a user name is at most 32
// characters and a password 72 bytes, which even fully \u-escaped fit
// well within it.
const maxLoginBody = 4 << 10

func (a *Agent) handleLogin(w http.ResponseWriter, r *http.Request, _ *Principal) {
	var req loginRequest
	if !readJSON(w, r, maxLoginBody, &req) {
		return
	}
	if req.User == "" || req.Password == "" {
		writeProblem(w, fieldProblem("user", "user and password are required"))
		return
	}
	token, sess, err := a.auth.Login(req.User, req.Password, r.RemoteAddr)
	var locked *LockedError
	switch {
	case errors.As(err, &locked):
		// The agent's clock, not the system's: the lock was set by it.
		w.Header().Set("Retry-After", strconv.Itoa(int(locked.Until.Sub(a.time.Wall()).Seconds())+1))
		writeProblem(w, Problem{Type: problemLocked, Title: "Account locked", Status: http.StatusTooManyRequests, Detail: err.Error()})
	case errors.Is(err, ErrBadCredentials):
		writeProblem(w, Problem{Type: problemUnauthorized, Title: "Login failed", Status: http.StatusUnauthorized, Detail: err.Error()})
	case err != nil:
		a.internalError(w, r, err)
	default:
		writeJSON(w, http.StatusCreated, SessionView{Token: token, User: sess.User, Role: sess.Role, Expires: sess.Expires})
	}
}

// handleOwnerSession opens a session for a user on the owner token's word:
// the way in for a manager who is locked out.
func (a *Agent) handleOwnerSession(w http.ResponseWriter, r *http.Request, p *Principal) {
	token, sess, err := a.auth.OwnerSession(r.PathValue("name"), r.RemoteAddr)
	if errors.Is(err, ErrUserDisabled) {
		writeProblem(w, Problem{Type: problemConflict, Title: "User disabled", Status: http.StatusConflict, Detail: err.Error()})
		return
	}
	if a.userError(w, r, err) {
		return
	}
	writeJSON(w, http.StatusCreated, SessionView{Token: token, User: sess.User, Role: sess.Role, Expires: sess.Expires})
}

func (a *Agent) handleWhoAmI(w http.ResponseWriter, r *http.Request, p *Principal) {
	writeJSON(w, http.StatusOK, SessionView{User: p.User, Role: string(p.Role)})
}

func (a *Agent) handleLogout(w http.ResponseWriter, r *http.Request, p *Principal) {
	if err := a.auth.Logout(p); err != nil {
		a.internalError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *Agent) handleListUsers(w http.ResponseWriter, r *http.Request, p *Principal) {
	users, err := a.auth.Users()
	if err != nil {
		a.internalError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": users})
}

type addUserRequest struct {
	Name     string `json:"name"`
	Role     string `json:"role"`
	Password string `json:"password"`
}

func (a *Agent) handleAddUser(w http.ResponseWriter, r *http.Request, p *Principal) {
	var req addUserRequest
	if !readJSON(w, r, 64<<10, &req) {
		return
	}
	u, err := a.auth.AddUser(p.Actor(), req.Name, req.Role, req.Password)
	if a.userError(w, r, err) {
		return
	}
	writeJSON(w, http.StatusCreated, u)
}

func (a *Agent) handleChangeUser(w http.ResponseWriter, r *http.Request, p *Principal) {
	var ch UserChange
	if !readJSON(w, r, 64<<10, &ch) {
		return
	}
	u, err := a.auth.ChangeUser(p.Actor(), r.PathValue("name"), ch)
	if a.userError(w, r, err) {
		return
	}
	writeJSON(w, http.StatusOK, u)
}

func (a *Agent) handleRemoveUser(w http.ResponseWriter, r *http.Request, p *Principal) {
	if a.userError(w, r, a.auth.RemoveUser(p.Actor(), r.PathValue("name"))) {
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// userError writes the problem for a user-management error; it returns
// false when err is nil.
func (a *Agent) userError(w http.ResponseWriter, r *http.Request, err error) bool {
	var input *InputError
	switch {
	case err == nil:
		return false
	case errors.As(err, &input):
		writeProblem(w, fieldProblem(input.Field, input.Rule))
	case errors.Is(err, queue.ErrNotFound):
		writeProblem(w, Problem{Type: problemNotFound, Title: "No such user", Status: http.StatusNotFound, Detail: err.Error()})
	case errors.Is(err, queue.ErrExists), errors.Is(err, ErrLastManager):
		writeProblem(w, Problem{Type: problemConflict, Title: "Conflict", Status: http.StatusConflict, Detail: err.Error()})
	default:
		a.internalError(w, r, err)
	}
	return true
}

// handleConfig answers the configuration in force, as TOML with every key
// (defaults filled in), so that a technician sees what the unit really runs
// with. The configuration holds no secrets: credentials live in the data
// directory.
func (a *Agent) handleConfig(w http.ResponseWriter, r *http.Request, p *Principal) {
	data, err := toml.Marshal(a.cfg)
	if err != nil {
		a.internalError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/toml")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(data)
}

func (a *Agent) handleIncidents(w http.ResponseWriter, r *http.Request, p *Principal) {
	incs, err := a.store.Incidents(r.URL.Query().Get("open") == "true", 1000)
	if err != nil {
		a.internalError(w, r, err)
		return
	}
	if incs == nil {
		incs = []queue.Incident{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"incidents": incs})
}

type notificationRequest struct {
	Reference string `json:"reference"`
}

// handleNotification records the reference of the notice a manager filed
// with the authority about an incident.
func (a *Agent) handleNotification(w http.ResponseWriter, r *http.Request, p *Principal) {
	id, ok := incidentID(w, r)
	if !ok {
		return
	}
	var req notificationRequest
	if !readJSON(w, r, 64<<10, &req) {
		return
	}
	ref := strings.TrimSpace(req.Reference)
	if ref == "" || utf8.RuneCountInString(ref) > 200 {
		writeProblem(w, fieldProblem("reference", "is required: the authority's reference for the notice, at most 200 characters"))
		return
	}
	inc, err := a.store.AddNotification(id, queue.Notification{Reference: ref, By: p.User})
	if errors.Is(err, queue.ErrNotFound) {
		writeProblem(w, Problem{Type: problemNotFound, Title: "No such incident", Status: http.StatusNotFound, Detail: "no incident " + r.PathValue("id")})
		return
	}
	if err != nil {
		a.internalError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, inc)
}

// handleReplay makes every pending document due now (after an outage).
func (a *Agent) handleReplay(w http.ResponseWriter, r *http.Request, p *Principal) {
	if !a.cfg.Submit.Enabled {
		writeProblem(w, Problem{Type: problemConflict, Title: "Submission disabled", Status: http.StatusConflict, Detail: errSubmissionOff.Error()})
		return
	}
	progress, err := a.submit.Replay(p.User)
	if err != nil {
		a.internalError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, progress)
}

func (a *Agent) handleReplayProgress(w http.ResponseWriter, r *http.Request, p *Principal) {
	progress, ok := a.submit.Progress()
	if !ok {
		writeProblem(w, Problem{Type: problemNotFound, Title: "No replay", Status: http.StatusNotFound, Detail: "no replay has run since the agent started"})
		return
	}
	ob, err := a.store.OutboxStats()
	if err != nil {
		a.internalError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"replay": progress, "pending": ob.Pending})
}

func (a *Agent) handleAudit(w http.ResponseWriter, r *http.Request, p *Principal) {
	since, limit, ok := queryPage(w, r)
	if !ok {
		return
	}
	// Counts of refused logins still being tallied belong in what a
	// manager reads now.
	if err := a.auth.FlushRefusals(true); err != nil {
		a.internalError(w, r, err)
		return
	}
	entries, err := a.store.AuditEntries(since, limit)
	if err != nil {
		a.internalError(w, r, err)
		return
	}
	if entries == nil {
		entries = []queue.AuditEntry{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": entries})
}

// AuditVerifyView is the answer of GET /v1/audit/verify.
type AuditVerifyView struct {
	OK      bool `json:"ok"`
	Entries int  `json:"entries"`
	// Checkpoints is the number of signed checkpoints that verified, and
	// AnchoredThrough the entry the newest of them covers.
	Checkpoints     int    `json:"checkpoints"`
	AnchoredThrough uint64 `json:"anchored_through"`
	// Key is the audit key's fingerprint and PublicKey its DER
	// SubjectPublicKeyInfo, to compare with an exported checkpoint's.
	Key       string `json:"key"`
	PublicKey []byte `json:"public_key"`
	// BrokenAt is the first entry that does not verify, Checkpoint the
	// checkpoint through which that was found, if any.
	BrokenAt   uint64 `json:"broken_at,omitempty"`
	Checkpoint uint64 `json:"checkpoint,omitempty"`
	Reason     string `json:"reason,omitempty"`
}

func (a *Agent) handleAuditVerify(w http.ResponseWriter, r *http.Request, p *Principal) {
	if err := a.auth.FlushRefusals(true); err != nil {
		a.internalError(w, r, err)
		return
	}
	v := AuditVerification{PublicKey: a.auditKey.PublicKeyDER(), KeyFromFile: true}
	err := verifyAuditWith(a.store, &v)
	view := AuditVerifyView{OK: err == nil, Entries: v.Entries, Checkpoints: v.Checkpoints, AnchoredThrough: v.AnchoredThrough,
		Key: a.auditKey.Fingerprint(), PublicKey: v.PublicKey}
	var brk *queue.AuditBreak
	switch {
	case errors.As(err, &brk):
		view.BrokenAt, view.Checkpoint, view.Reason = brk.Seq, brk.Checkpoint, brk.Reason
	case err != nil:
		a.internalError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, view)
}

// handleAuditCheckpoints lists the signed checkpoints of the audit log.
func (a *Agent) handleAuditCheckpoints(w http.ResponseWriter, r *http.Request, p *Principal) {
	since, limit, ok := queryPage(w, r)
	if !ok {
		return
	}
	cps, err := a.store.AuditCheckpoints(since, limit)
	if err != nil {
		a.internalError(w, r, err)
		return
	}
	if cps == nil {
		cps = []queue.AuditCheckpoint{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"checkpoints": cps})
}

// handleNewAuditCheckpoint signs a checkpoint of the audit log's head now
// and answers it, for a manager to keep off the unit: a rewrite of anything
// it covers is then detectable even by someone who can read the key.
func (a *Agent) handleNewAuditCheckpoint(w http.ResponseWriter, r *http.Request, p *Principal) {
	if err := a.auth.FlushRefusals(true); err != nil {
		a.internalError(w, r, err)
		return
	}
	cp, err := a.store.Checkpoint("requested by "+p.User, a.time.Wall())
	if err != nil {
		a.internalError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, cp)
}

// queryPage reads the since and limit parameters of a listing: since
// defaults to 0, limit to 100 and must be 1–1000.
func queryPage(w http.ResponseWriter, r *http.Request) (since uint64, limit int, ok bool) {
	if since, ok = queryUint(w, r, "since", 0); !ok {
		return 0, 0, false
	}
	l, ok := queryUint(w, r, "limit", 100)
	if !ok {
		return 0, 0, false
	}
	if l == 0 || l > 1000 {
		writeProblem(w, fieldProblem("limit", "must be between 1 and 1000"))
		return 0, 0, false
	}
	return since, int(l), true
}

// queryUint reads an optional unsigned query parameter; given empty, it
// is refused like any other value that is not a number.
func queryUint(w http.ResponseWriter, r *http.Request, name string, def uint64) (uint64, bool) {
	if !r.URL.Query().Has(name) {
		return def, true
	}
	v, err := strconv.ParseUint(r.URL.Query().Get(name), 10, 64)
	if err != nil {
		writeProblem(w, fieldProblem(name, "must be a non-negative whole number"))
		return 0, false
	}
	return v, true
}
