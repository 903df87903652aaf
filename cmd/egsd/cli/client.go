package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/egsd/egsd/agent"
)

// defaultAPI is where the agent listens unless configured otherwise.
const defaultAPI = "http://127.0.0.1:7070"

// client talks to a running agent's API.
type client struct {
	api   string // as given: http://host:port or unix:///path
	base  string // http://host:port, or http://unix for a socket
	token string
	http  *http.Client
}

// newClient connects to api: an http:// URL or unix:///path/to/socket.
func newClient(api, token string) *client {
	// Keep enough idle connections for `egsd bench` clients to reuse.
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	c := &client{api: api, base: strings.TrimRight(api, "/"), token: token, http: &http.Client{Timeout: 60 * time.Second, Transport: tr}}
	if sock, ok := strings.CutPrefix(api, "unix://"); ok {
		c.base = "http://unix"
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}
	}
	return c
}

// apiError is a problem document answered by the agent.
type apiError struct {
	Status  int
	Problem agent.Problem
}

func (e *apiError) Error() string {
	var b strings.Builder
	b.WriteString(e.Problem.Title)
	if e.Problem.Title == "" {
		b.WriteString(http.StatusText(e.Status))
	}
	if e.Problem.Detail != "" {
		b.WriteString(": " + e.Problem.Detail)
	}
	return b.String()
}

// sessionError is a request the agent refused for want of a valid
// session (401): the saved one expired or was ended, or the token is wrong.
type sessionError struct {
	api string
	*apiError
}

func (e *sessionError) Error() string {
	return fmt.Sprintf("not logged in to the agent at %s: the session expired or was ended, or the token is wrong; log in again with 'egsd login --user NAME'", e.api)
}

func (e *sessionError) Unwrap() error { return e.apiError }

// unreachableError is a request that never reached an agent: nothing
// accepted the connection at the address, so nothing was done.
type unreachableError struct {
	api    string
	reason string
}

func (e *unreachableError) Error() string {
	return fmt.Sprintf("no agent answered at %s (%s): start it with 'egsd service start' (or 'egsd run' in the foreground), or give its address with --api", e.api, e.reason)
}

// noAnswerError is a request that was sent but got no answer (the
// connection broke or timed out): the agent may have acted on it.
type noAnswerError struct {
	api string
	err error
}

func (e *noAnswerError) Error() string {
	return fmt.Sprintf("no answer from the agent at %s: %v", e.api, e.err)
}

func (e *noAnswerError) Unwrap() error { return e.err }

// transportError classifies a failed request: one that could not connect
// (unreachableError) changed nothing; any other (noAnswerError) may have.
func (c *client) transportError(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		reason := op.Err.Error()
		var sys *os.SyscallError
		if errors.As(op.Err, &sys) {
			reason = sys.Err.Error()
		}
		return &unreachableError{api: c.api, reason: reason}
	}
	return &noAnswerError{api: c.api, err: err}
}

// do sends a request and decodes a JSON answer into out (if not nil).
func (c *client) do(ctx context.Context, method, path string, header http.Header, body []byte, out any) (*http.Response, error) {
	resp, data, err := c.doRaw(ctx, method, path, header, body)
	if err != nil {
		return resp, err
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return resp, fmt.Errorf("unexpected answer from the agent: %w", err)
		}
	}
	return resp, nil
}

// doRaw sends a request and returns the answer's body; an answer of 400
// or more is an *apiError.
func (c *client) doRaw(ctx context.Context, method, path string, header http.Header, body []byte) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, nil, c.transportError(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp, nil, &noAnswerError{api: c.api, err: err}
	}
	if resp.StatusCode >= 400 {
		e := &apiError{Status: resp.StatusCode}
		json.Unmarshal(data, &e.Problem)
		if resp.StatusCode == http.StatusUnauthorized && path != "/v1/sessions" {
			return resp, data, &sessionError{api: c.api, apiError: e}
		}
		return resp, data, e
	}
	return resp, data, nil
}

func (c *client) postJSON(ctx context.Context, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	_, err = c.do(ctx, http.MethodPost, path, nil, body, out)
	return err
}

func (c *client) get(ctx context.Context, path string, out any) error {
	_, err := c.do(ctx, http.MethodGet, path, nil, nil, out)
	return err
}

// savedSession is what `egsd login` keeps for later commands.
type savedSession struct {
	API     string    `json:"api"`
	User    string    `json:"user"`
	Token   string    `json:"token"`
	Expires time.Time `json:"expires"`
}

func sessionPath(io IO) (string, error) {
	if p := io.Getenv("EGSD_SESSION_FILE"); p != "" {
		return p, nil
	}
	dir := io.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "egsd", "session.json"), nil
}

func loadSession(io IO) (*savedSession, error) {
	p, err := sessionPath(io)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	s := new(savedSession)
	return s, json.Unmarshal(data, s)
}

// configuredAPI is where the configuration file ($EGSD_CONFIG or the
// default) says the agent listens, so that commands on the till find the
// service without flags; defaultAPI without a readable configuration.
func configuredAPI(io IO) string {
	cfg, err := agent.LoadConfig(configPath(io, ""))
	switch {
	case err != nil:
		return defaultAPI
	case cfg.API.Listen != "":
		return "http://" + cfg.API.Listen
	case cfg.API.UnixSocket != "":
		return "unix://" + cfg.API.UnixSocket
	}
	return defaultAPI
}

// apiFlags are the flags of every command that talks to a running agent.
type apiFlags struct {
	api, token *string
}

func addAPIFlags(fs interface {
	String(name, value, usage string) *string
}) apiFlags {
	return apiFlags{
		api:   fs.String("api", "", "agent API: http://host:port or unix:///path (default $EGSD_API, the saved session's, the configuration's api.listen, or "+defaultAPI+")"),
		token: fs.String("token", "", "session token (default $EGSD_TOKEN or the one saved by 'egsd login')"),
	}
}

// addAPIAddressFlag adds --api alone, for commands that open their own
// session (login, bench).
func addAPIAddressFlag(fs interface {
	String(name, value, usage string) *string
}) apiFlags {
	return apiFlags{
		api:   fs.String("api", "", "agent API: http://host:port or unix:///path (default $EGSD_API, the saved session's, the configuration's api.listen, or "+defaultAPI+")"),
		token: new(string),
	}
}

// client builds the API client from flags, environment and saved session.
func (f apiFlags) client(io IO, needToken bool) (*client, error) {
	api, token := *f.api, *f.token
	if api == "" {
		api = io.Getenv("EGSD_API")
	}
	if token == "" {
		token = io.Getenv("EGSD_TOKEN")
	}
	if s, err := loadSession(io); err == nil {
		if api == "" {
			api = s.API
		}
		if token == "" && (api == s.API) {
			token = s.Token
		}
	}
	if api == "" {
		api = configuredAPI(io)
	}
	c := newClient(api, token)
	if needToken && token == "" {
		return nil, c.notLoggedIn(io)
	}
	return c, nil
}

// notLoggedIn explains a missing session: no agent at the address (a
// wrong --api, or the agent is not running), or an agent that needs a
// login, perhaps because the saved session is for another address.
func (c *client) notLoggedIn(io IO) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var health struct {
		Status string `json:"status"`
	}
	_, err := c.do(ctx, http.MethodGet, "/healthz", nil, nil, &health)
	var unreachable *unreachableError
	switch {
	case errors.As(err, &unreachable):
		return err
	case err != nil || health.Status != "ok":
		return fmt.Errorf("what answered at %s is not an egsd agent (%v): give the agent's address with --api", c.api, cmpOr(err, "no health status"))
	}
	login := "egsd login --user NAME"
	if s, err := loadSession(io); err == nil && s.API != "" && s.API != c.api {
		return fmt.Errorf("not logged in to the agent at %s (the saved session is for %s): run '%s --api %s' first", c.api, s.API, login, c.api)
	}
	return fmt.Errorf("not logged in to the agent at %s: run '%s' first (or pass --token)", c.api, login)
}

func cmpOr(err error, otherwise string) string {
	if err != nil {
		return err.Error()
	}
	return otherwise
}
