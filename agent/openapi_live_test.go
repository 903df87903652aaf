package agent

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/pelletier/go-toml/v2"

	"github.com/egsd/egsd/device"
	"github.com/egsd/egsd/device/fakeprinter"
	zatcasim "github.com/egsd/egsd/sim/zatca"
	_ "github.com/egsd/egsd/stamping/zatca"
)

// apiDocument is the API description the agent must match, answer for
// answer.
const apiDocument = "../docs/openapi.yaml"

// apiServer is the document's server; the validator routes requests by it.
const apiServer = "http://127.0.0.1:7070"

// liveBodyLimit is api.max_body_bytes of the live units: the same as the
// other JSON endpoints' limit, so one oversized body is too large for all.
const liveBodyLimit = 64 << 10

// apiSpec is the API document, loaded, validated and routed.
type apiSpec struct {
	doc    *openapi3.T
	router routers.Router
}

var registerBodyDecoders sync.Once

// loadAPISpec loads the API document and validates it with every check
// kin-openapi has: a document that is not valid OpenAPI (a stray key, a
// bad $ref, an example that breaks its schema) fails here.
func loadAPISpec(t *testing.T) *apiSpec {
	t.Helper()
	registerBodyDecoders.Do(func() {
		openapi3filter.RegisterBodyDecoder("application/xml", xmlBodyDecoder)
		openapi3filter.RegisterBodyDecoder("application/toml", tomlBodyDecoder)
	})
	doc, err := openapi3.NewLoader().LoadFromFile(apiDocument)
	if err != nil {
		t.Fatalf("load %s: %v", apiDocument, err)
	}
	if err := doc.Validate(context.Background(), openapi3.EnableMultiError(), openapi3.EnableSchemaFormatValidation(),
		openapi3.EnableSchemaPatternValidation(), openapi3.EnableSchemaDefaultsValidation(), openapi3.EnableExamplesValidation(),
		openapi3.ProhibitExtensionsWithRef()); err != nil {
		t.Fatalf("%s is not a valid OpenAPI document: %v", apiDocument, err)
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatalf("route %s: %v", apiDocument, err)
	}
	return &apiSpec{doc: doc, router: router}
}

// xmlBodyDecoder decodes a body the document describes as XML: it must be
// well-formed; its value is the text.
func xmlBodyDecoder(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
	data, err := io.ReadAll(body)
	if err != nil {
		return nil, err
	}
	dec := xml.NewDecoder(bytes.NewReader(data))
	for {
		if _, err := dec.Token(); err == io.EOF {
			return string(data), nil
		} else if err != nil {
			return nil, fmt.Errorf("not well-formed XML: %w", err)
		}
	}
}

// tomlBodyDecoder decodes a body the document describes as TOML: it must
// parse; its value is the text.
func tomlBodyDecoder(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
	data, err := io.ReadAll(body)
	if err != nil {
		return nil, err
	}
	var v map[string]any
	if err := toml.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("not TOML: %w", err)
	}
	return string(data), nil
}

// TestOpenAPIDocumentValid: docs/openapi.yaml is valid OpenAPI 3.1, and
// every operation has an operationId (Validate checks they are unique), by
// which clients generated from the document name their calls.
func TestOpenAPIDocumentValid(t *testing.T) {
	spec := loadAPISpec(t)
	for path, item := range spec.doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.OperationID == "" {
				t.Errorf("%s %s has no operationId", method, path)
			}
		}
	}
}

// TestOpenAPIQueryParameters: the query parameters the document gives each
// operation are the ones its route takes (routeQueries), with the same
// values, so that what the agent refuses is what the document says.
func TestOpenAPIQueryParameters(t *testing.T) {
	spec := loadAPISpec(t)
	for _, rt := range (&Agent{}).routeTable() {
		pattern := rt.method + " " + rt.path
		item := spec.doc.Paths.Value(rt.path)
		if item == nil || item.GetOperation(rt.method) == nil {
			t.Errorf("%s is not in %s", pattern, apiDocument)
			continue
		}
		documented := map[string][]string{}
		for _, p := range slices.Concat(item.Parameters, item.GetOperation(rt.method).Parameters) {
			if p.Value.In == openapi3.ParameterInQuery {
				documented[p.Value.Name] = acceptedValues(p.Value.Schema.Value)
			}
		}
		served := map[string][]string{}
		for _, q := range routeQueries[pattern] {
			served[q.name] = slices.Sorted(slices.Values(q.values))
		}
		if !maps.EqualFunc(documented, served, slices.Equal) {
			t.Errorf("%s: the document gives query parameters %v, the agent takes %v (name → accepted values, [] for a number)", pattern, documented, served)
		}
	}
}

// acceptedValues are the values a parameter's schema allows when it lists
// them (an enum, or a boolean's true and false), sorted; nil otherwise.
func acceptedValues(s *openapi3.Schema) []string {
	if s.Type.Is(openapi3.TypeBoolean) {
		return []string{"false", "true"}
	}
	var out []string
	for _, v := range s.Enum {
		out = append(out, fmt.Sprint(v))
	}
	slices.Sort(out)
	return out
}

// liveFixture is the agents the live test drives, and what it saw.
type liveFixture struct {
	t     *testing.T
	spec  *apiSpec
	units map[string]*liveUnit
	// answered is, per operation ("POST /v1/sales"), the statuses answered.
	answered map[string]map[int]bool
	requests int // requests sent and checked
}

// liveUnit is one agent with a session of each role.
type liveUnit struct {
	*harness
	name    string
	tokens  map[Role]string // a session of each role; RoleOwner is the owner token
	revoked string          // a session that was ended
	printer *fakeprinter.Printer
	sim     *zatcasim.Server
}

// The users of every live unit, all with testPassword. ana and bob are
// cashiers, so that one can be refused the other's documents.
var liveUsers = []liveUser{{"ana", RoleCashier}, {"bob", RoleCashier}, {"boss", RoleManager}, {"tech", RoleTechnician}}

type liveUser struct {
	name string
	role Role
}

// newLiveFixture starts the units the cases use:
//
//   - "test": the test regime (JSON documents), a fake printer, submission off;
//   - "zatca": the ZATCA regime against an in-process simulator, onboarded
//     through the API, submission on (the test steps the submitter);
//   - "fresh": the ZATCA regime, never onboarded.
func newLiveFixture(t *testing.T) *liveFixture {
	f := &liveFixture{t: t, spec: loadAPISpec(t), units: map[string]*liveUnit{}, answered: map[string]map[int]bool{}}
	scrapeToken := withScrapeToken(t, testScrapeToken, 0o600)
	h, p := printerHarness(t, func(c *Config) { c.API.MaxBodyBytes = liveBodyLimit; scrapeToken(c) })
	f.addUnit("test", h).printer = p
	f.addZATCAUnit("zatca")
	f.addZATCAUnit("fresh")
	return f
}

func (f *liveFixture) addUnit(name string, h *harness) *liveUnit {
	u := &liveUnit{harness: h, name: name, tokens: map[Role]string{}}
	for _, lu := range liveUsers {
		h.addUser(lu.name, lu.role)
		if u.tokens[lu.role] == "" {
			u.tokens[lu.role] = h.login(lu.name, testPassword)
		}
	}
	u.tokens[RoleOwner] = h.ownerToken()
	u.revoked = h.login("ana", testPassword)
	if w := h.do(request{method: "DELETE", path: "/v1/sessions", token: u.revoked}); w.Code != http.StatusNoContent {
		f.t.Fatalf("%s: log out = %d %s", name, w.Code, w.Body)
	}
	f.units[name] = u
	return u
}

// addZATCAUnit starts a ZATCA unit whose authority is a simulator on the
// unit's fake clock.
func (f *liveFixture) addZATCAUnit(name string) *liveUnit {
	t := f.t
	ft := device.NewFakeTime(t0)
	sim := zatcasim.New(zatcasim.Config{Now: ft.Wall})
	srv := httptest.NewServer(sim)
	t.Cleanup(func() { sim.Close(); srv.Close() })
	cfg := testConfig(t)
	cfg.API.MaxBodyBytes = liveBodyLimit
	cfg.Regime.Name = "zatca"
	cfg.Regime.Options = map[string]any{"base_url": srv.URL + "/e-invoicing/developer-portal", "invoice_prefix": "EGS1-"}
	cfg.Submit.Enabled = true
	u := f.addUnit(name, startHarness(t, cfg, ft))
	u.sim = sim
	return u
}

// liveRoute is how the live test reaches one route, and its cases.
type liveRoute struct {
	pattern string // "METHOD /path" as in routeTable
	// unit, path, header and body reach the handler as an allowed caller
	// (body: a JSON body the handler accepts, for routes that take one);
	// the generic cases (no session, each role refused, an unknown query
	// parameter, a wrong media type, bad JSON, an oversized body) start
	// from them.
	unit   string
	path   string
	header map[string]string
	body   string
	// cases are called when the route's turn comes, so that they can use
	// what earlier routes left.
	cases func() []liveCase
	// notReproduced lists documented statuses the test cannot make the
	// agent answer, each with the reason.
	notReproduced map[int]string
}

// liveCase is one request and the status it must get.
type liveCase struct {
	name   string
	unit   string            // default: the route's
	as     Role              // the caller: that role's session on the unit
	token  string            // or this token
	path   string            // default: the route's
	header map[string]string // over the route's; "" deletes
	body   string            // sent as application/json unless header says otherwise
	want   int
	// refused, when set, says the document itself refuses the request:
	// the validator's error must contain it. Unset, the request must be
	// one the document allows.
	refused string
	before  func(t *testing.T) // sets up what the case needs
	check   func(t *testing.T, w *httptest.ResponseRecorder)
}

// run sends c as a request to route lr, in a subtest.
func (f *liveFixture) run(t *testing.T, lr liveRoute, c liveCase) {
	t.Helper()
	t.Run(c.name, func(t *testing.T) {
		defer f.reportTo(t)()
		if c.before != nil {
			c.before(t)
		}
		header := maps.Clone(lr.header)
		if header == nil {
			header = map[string]string{}
		}
		maps.Copy(header, c.header)
		u := f.units[cmp.Or(c.unit, lr.unit)]
		token := c.token
		if token == "" && c.as != "" {
			token = u.tokens[c.as]
		}
		w := f.exchange(t, lr.pattern, u, cmp.Or(c.path, lr.path), token, header, c.body, c.want, c.refused)
		if c.check != nil && w != nil {
			c.check(t, w)
		}
	})
}

// reportTo makes the units' harness helpers report to t, the subtest
// that runs them, until the returned function puts the test back.
func (f *liveFixture) reportTo(t *testing.T) (restore func()) {
	saved := map[*liveUnit]*testing.T{}
	for _, u := range f.units {
		saved[u], u.t = u.t, t
	}
	return func() {
		for u, t := range saved {
			u.t = t
		}
	}
}

// exchange sends one request to unit u and checks the request and the
// answer against the document: the request must be one the document
// allows (or refuses with refused); the status must be want and one the
// document lists for the operation; the body, its media type and the
// headers must be the documented ones, every JSON member named.
func (f *liveFixture) exchange(t *testing.T, pattern string, u *liveUnit, path, token string, header map[string]string, body string, want int, refused string) *httptest.ResponseRecorder {
	t.Helper()
	method, _, _ := strings.Cut(pattern, " ")
	newRequest := func(target string) *http.Request {
		var r *http.Request
		if body == "" {
			r = httptest.NewRequest(method, target, nil)
		} else {
			r = httptest.NewRequest(method, target, strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
		}
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		for k, v := range header {
			if v == "" {
				r.Header.Del(k)
			} else {
				r.Header.Set(k, v)
			}
		}
		return r
	}
	what := method + " " + path

	ctx := context.Background()
	vreq := newRequest(apiServer + path)
	route, pathParams, err := f.spec.router.FindRoute(vreq)
	if err != nil {
		t.Errorf("%s: not in %s: %v", what, apiDocument, err)
		return nil
	}
	if got := route.Method + " " + route.Path; got != pattern {
		t.Errorf("%s: the document routes it to %s, the agent to %s", what, got, pattern)
	}
	reqInput := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: pathParams, Route: route,
		Options: &openapi3filter.Options{MultiError: true, AuthenticationFunc: bearerPresent}}
	reqErr := openapi3filter.ValidateRequest(ctx, reqInput)
	switch {
	case refused == "" && reqErr != nil:
		t.Errorf("%s: the document refuses this request, the case expects it to allow it: %v", what, reqErr)
	case refused != "" && reqErr == nil:
		t.Errorf("%s: the document allows this request; the case expects it to refuse it (%q)", what, refused)
	case refused != "" && !strings.Contains(reqErr.Error(), refused):
		t.Errorf("%s: the document refuses this request for another reason than %q: %v", what, refused, reqErr)
	}

	w := httptest.NewRecorder()
	u.a.Handler().ServeHTTP(w, newRequest(path))
	f.requests++
	if f.answered[pattern] == nil {
		f.answered[pattern] = map[int]bool{}
	}
	f.answered[pattern][w.Code] = true
	if w.Code != want {
		t.Errorf("%s on unit %s = %d, want %d: %.300s", what, u.name, w.Code, want, w.Body)
	}
	what = fmt.Sprintf("%s → %d", what, w.Code)
	resp := route.Operation.Responses.Status(w.Code)
	if resp == nil {
		t.Errorf("%s: the document lists no %d for %s: %.300s", what, w.Code, pattern, w.Body)
		return w
	}
	if err := openapi3filter.ValidateResponse(ctx, &openapi3filter.ResponseValidationInput{
		RequestValidationInput: reqInput, Status: w.Code, Header: w.Header(),
		Body:    io.NopCloser(bytes.NewReader(w.Body.Bytes())),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}); err != nil {
		t.Errorf("%s: the answer does not match the document: %v\nbody: %.500s", what, err, w.Body)
	}
	for _, msg := range checkAnswer(resp.Value, w) {
		t.Errorf("%s: %s", what, msg)
	}
	return w
}

// bearerPresent is the validator's check of the bearer scheme: a request
// meets it when it carries a bearer token (whether the session is valid
// is the agent's to say).
func bearerPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	if in.SecurityScheme.Type == "http" && strings.EqualFold(in.SecurityScheme.Scheme, "bearer") && bearerToken(in.RequestValidationInput.Request) != "" {
		return nil
	}
	return errors.New("no bearer token")
}

// genericHeaders may be on any answer without being documented.
var genericHeaders = []string{"Content-Type", "Content-Length", "Cache-Control", "Date"}

// checkAnswer checks what kin-openapi leaves alone: every header is
// documented, an answer the document gives no body has none, a problem's
// status is the answer's, and every member of a JSON body is documented.
func checkAnswer(resp *openapi3.Response, w *httptest.ResponseRecorder) []string {
	var out []string
	for name := range w.Header() {
		documented := slices.ContainsFunc(slices.Collect(maps.Keys(resp.Headers)), func(h string) bool { return strings.EqualFold(h, name) })
		if !documented && !slices.Contains(genericHeaders, name) {
			out = append(out, fmt.Sprintf("header %s: %q is not documented for this answer", name, w.Header().Get(name)))
		}
	}
	if len(resp.Content) == 0 {
		if w.Body.Len() > 0 {
			out = append(out, fmt.Sprintf("the document gives this answer no body, but it has %d bytes: %.200s", w.Body.Len(), w.Body))
		}
		return out
	}
	ct := w.Header().Get("Content-Type")
	mediaType, _, _ := strings.Cut(ct, ";")
	if _, ok := resp.Content[mediaType]; !ok {
		// A wildcard would let any body pass: each media type is named.
		return append(out, fmt.Sprintf("media type %q is not one the document names for this answer", ct))
	}
	mt := resp.Content[mediaType]
	if mt.Schema == nil || !strings.HasSuffix(mediaType, "json") {
		return out
	}
	var v any
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		return append(out, fmt.Sprintf("body is not JSON: %v", err))
	}
	if p, ok := v.(map[string]any); ok && strings.HasPrefix(ct, "application/problem+json") {
		if s, _ := p["status"].(float64); int(s) != w.Code {
			out = append(out, fmt.Sprintf("problem status %v in an answer with status %d", p["status"], w.Code))
		}
	}
	for _, m := range undocumented(mt.Schema.Value, v, "body") {
		out = append(out, m+" is not in the document's schema for this answer")
	}
	return out
}

// undocumented lists the members of the JSON value v (at path at) that
// schema s does not name. A schema that names no members at all (free
// form, such as a regime's receipt data) allows any.
func undocumented(s *openapi3.Schema, v any, at string) []string {
	if s == nil {
		return nil
	}
	var out []string
	switch v := v.(type) {
	case map[string]any:
		props, extra := members(s)
		if len(props) == 0 && extra == nil {
			return nil
		}
		for _, k := range slices.Sorted(maps.Keys(v)) {
			switch {
			case props[k] != nil:
				out = append(out, undocumented(props[k], v[k], at+"."+k)...)
			case extra != nil:
				out = append(out, undocumented(extra, v[k], at+"."+k)...)
			default:
				out = append(out, at+"."+k)
			}
		}
	case []any:
		if items := itemsOf(s); items != nil {
			for i, e := range v {
				out = append(out, undocumented(items, e, at+"["+strconv.Itoa(i)+"]")...)
			}
		}
	}
	return out
}

// members gathers the properties s names, through allOf, anyOf and oneOf,
// and the schema of any other member (additionalProperties).
func members(s *openapi3.Schema) (props map[string]*openapi3.Schema, extra *openapi3.Schema) {
	props = map[string]*openapi3.Schema{}
	var walk func(s *openapi3.Schema)
	walk = func(s *openapi3.Schema) {
		for name, p := range s.Properties {
			if props[name] == nil {
				props[name] = p.Value
			}
		}
		if ap := s.AdditionalProperties.Schema; ap != nil && extra == nil {
			extra = ap.Value
		}
		for _, sub := range slices.Concat(s.AllOf, s.AnyOf, s.OneOf) {
			walk(sub.Value)
		}
	}
	walk(s)
	return props, extra
}

// itemsOf is the schema of an array's items, through allOf.
func itemsOf(s *openapi3.Schema) *openapi3.Schema {
	if s.Items != nil {
		return s.Items.Value
	}
	for _, sub := range s.AllOf {
		if items := itemsOf(sub.Value); items != nil {
			return items
		}
	}
	return nil
}

// genericCases are the cases every route gets from its liveRoute: no
// session, a bad, a revoked session; each role it refuses; an unknown
// query parameter; and, for routes that take a JSON body, a wrong media
// type, malformed JSON and an oversized body.
func (f *liveFixture) genericCases(rt route, lr liveRoute) []liveCase {
	var cases []liveCase
	allowed := Role("")
	if rt.roles != nil {
		allowed = rt.roles[0]
		u := f.units[lr.unit]
		cases = append(cases,
			liveCase{name: "no session", body: lr.body, want: http.StatusUnauthorized, refused: "security requirements failed"},
			liveCase{name: "unknown token", token: "not-a-token", body: lr.body, want: http.StatusUnauthorized},
			liveCase{name: "ended session", token: u.revoked, body: lr.body, want: http.StatusUnauthorized})
		for _, role := range append(slices.Clone(Roles), RoleOwner) {
			if !slices.Contains(rt.roles, role) {
				cases = append(cases, liveCase{name: "refused to " + string(role), as: role, body: lr.body, want: http.StatusForbidden})
			}
		}
	}
	sep := "?"
	if strings.Contains(lr.path, "?") {
		sep = "&"
	}
	// A session of its own: if the parameter were ignored, the call would
	// go through (DELETE /v1/sessions would end a shared session).
	token := ""
	switch allowed {
	case "":
	case RoleOwner: // the owner token is no session: it is the unit's own
		token = f.units[lr.unit].tokens[RoleOwner]
	default:
		token = f.units[lr.unit].login(liveUsers[slices.IndexFunc(liveUsers, func(lu liveUser) bool { return lu.role == allowed })].name, testPassword)
	}
	cases = append(cases, liveCase{name: "unknown query parameter", token: token, path: lr.path + sep + "colour=red", body: lr.body, want: http.StatusBadRequest,
		check: wantProblemNaming("colour")})
	if lr.body != "" {
		cases = append(cases,
			liveCase{name: "not JSON", as: allowed, header: map[string]string{"Content-Type": "text/plain"}, body: lr.body,
				want: http.StatusUnsupportedMediaType, refused: "header Content-Type has unexpected value"},
			liveCase{name: "no media type", as: allowed, header: map[string]string{"Content-Type": ""}, body: lr.body,
				want: http.StatusUnsupportedMediaType, refused: "header Content-Type has unexpected value"},
			liveCase{name: "malformed JSON", as: allowed, body: `{"`, want: http.StatusBadRequest, refused: "failed to decode request body"},
			liveCase{name: "oversized body", as: allowed, body: `{"note":"` + strings.Repeat("a", liveBodyLimit) + `"}`,
				want: http.StatusRequestEntityTooLarge, refused: "doesn't match schema"})
	}
	return cases
}

// wantProblemNaming checks that a problem names field among its errors.
func wantProblemNaming(field string) func(t *testing.T, w *httptest.ResponseRecorder) {
	return func(t *testing.T, w *httptest.ResponseRecorder) {
		t.Helper()
		var p Problem
		if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || !namesField(p, field) {
			t.Errorf("the problem does not name %s: %s", field, w.Body)
		}
	}
}

// TestOpenAPILive drives every route of the agent through its cases
// (liveRoutes) and the generic ones, on live agents, and validates each
// request and answer against docs/openapi.yaml with kin-openapi. Then it
// checks coverage both ways: every operation of the document was called,
// and every status it documents was answered (or is listed as not
// reproducible, with the reason).
func TestOpenAPILive(t *testing.T) {
	f := newLiveFixture(t)
	routes := f.liveRoutes()
	table := map[string]route{}
	for _, rt := range f.units["test"].a.routeTable() {
		table[rt.method+" "+rt.path] = rt
	}
	covered := map[string]bool{}
	for _, lr := range routes {
		if slices.Contains(ownAuthRoutes, lr.pattern) {
			// No session, so none of the generic cases: its own cases
			// cover how it authenticates.
			covered[lr.pattern] = true
			t.Run(lr.pattern, func(t *testing.T) {
				defer f.reportTo(t)()
				for _, c := range lr.cases() {
					f.run(t, lr, c)
				}
			})
			continue
		}
		rt, ok := table[lr.pattern]
		if !ok {
			t.Errorf("liveRoutes has %s, which is not in routeTable", lr.pattern)
			continue
		}
		covered[lr.pattern] = true
		t.Run(lr.pattern, func(t *testing.T) {
			defer f.reportTo(t)()
			for _, c := range lr.cases() {
				f.run(t, lr, c)
			}
			for _, c := range f.genericCases(rt, lr) {
				f.run(t, lr, c)
			}
		})
	}
	for _, pattern := range slices.Sorted(maps.Keys(table)) {
		if !covered[pattern] {
			t.Errorf("%s has no entry in liveRoutes: add its cases", pattern)
		}
	}

	// Last, as it moves every unit's clock past its sessions' lifetime.
	t.Run("expired session", func(t *testing.T) {
		for _, u := range f.units {
			u.ft.Advance(u.cfg.Auth.SessionTTL.Duration + time.Second)
		}
		for _, lr := range routes {
			rt, ok := table[lr.pattern]
			if !ok || rt.roles == nil || rt.roles[0] == RoleOwner { // the owner token does not expire
				continue
			}
			f.run(t, lr, liveCase{name: lr.pattern, as: rt.roles[0], body: lr.body, want: http.StatusUnauthorized,
				check: func(t *testing.T, w *httptest.ResponseRecorder) {
					if !strings.Contains(w.Body.String(), "expired") {
						t.Errorf("the 401 does not say the session expired: %s", w.Body)
					}
				}})
		}
	})

	f.checkCoverage(t, routes)
}

// checkCoverage: every operation in the document was called, and answered
// every status the document lists for it, except those its route lists as
// not reproduced (which must then really not have been answered).
func (f *liveFixture) checkCoverage(t *testing.T, routes []liveRoute) {
	t.Helper()
	notReproduced := map[string]map[int]string{}
	for _, lr := range routes {
		notReproduced[lr.pattern] = lr.notReproduced
	}
	operations, statuses := 0, 0
	for path, item := range f.spec.doc.Paths.Map() {
		for method, op := range item.Operations() {
			pattern := method + " " + path
			answered := f.answered[pattern]
			operations++
			statuses += op.Responses.Len()
			if len(answered) == 0 {
				t.Errorf("%s is in the document but no case calls it", pattern)
				continue
			}
			for code := range op.Responses.Map() {
				status, err := strconv.Atoi(code)
				if err != nil {
					t.Errorf("%s documents status %q: give each status explicitly", pattern, code)
					continue
				}
				reason, listed := notReproduced[pattern][status]
				switch {
				case answered[status] && listed:
					t.Errorf("%s answered %d, which its route lists as not reproduced (%s): take it off the list", pattern, status, reason)
				case !answered[status] && !listed:
					t.Errorf("%s documents %d, but no case got it: add a case, or list it as not reproduced with the reason, or take it out of the document", pattern, status)
				}
			}
		}
	}
	t.Logf("%d requests checked against %s: %d operations, %d documented statuses", f.requests, apiDocument, operations, statuses)
}
