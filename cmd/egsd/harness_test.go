package main

// The harness of the integration tests: it builds the real egsd binary once
// per test run, starts it as a child process on a loopback port, waits until
// it answers, talks to it over HTTP, and opens its store in-process after it
// has stopped to check the invariants of design.md §3.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/egsd/egsd/cmd/egsd/internal/cmdtest"
	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/stamping"
	_ "github.com/egsd/egsd/stamping/testregime"
)

// Safety deadlines. They bound how long a broken daemon can hang a test;
// no test asserts on how long anything took.
const (
	startDeadline   = 20 * time.Second // until /healthz answers
	stopDeadline    = 20 * time.Second // from SIGTERM until the process exits
	requestDeadline = 30 * time.Second // one HTTP request
	cliDeadline     = 60 * time.Second // one run of an egsd command
)

var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// egsdBinary builds ./cmd/egsd once per test run and returns its path.
func egsdBinary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		out, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			binErr = fmt.Errorf("go env GOMOD: %w", err)
			return
		}
		gomod := strings.TrimSpace(string(out))
		if gomod == "" || gomod == os.DevNull {
			binErr = errors.New("go env GOMOD: not inside a module")
			return
		}
		if binDir, err = os.MkdirTemp("", "egsd-integration-"); err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(binDir, "egsd")
		build := exec.Command("go", "build", "-o", binPath, "./cmd/egsd")
		build.Dir = filepath.Dir(gomod)
		if out, err := build.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build ./cmd/egsd: %w\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// cliEnv is the environment of every child: the host's, without egsd's own
// variables, with the configuration and session files pointed into dir so
// that nothing on the host (/etc/egsd, ~/.config/egsd) leaks in or is
// touched.
func cliEnv(dir string, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "EGSD_") {
			env = append(env, kv)
		}
	}
	env = append(env,
		"EGSD_CONFIG="+filepath.Join(dir, "no-config.toml"),
		"EGSD_SESSION_FILE="+filepath.Join(dir, "session.json"),
		"XDG_CONFIG_HOME="+filepath.Join(dir, "xdg"),
	)
	return append(env, extra...)
}

// daemon is one running `egsd run` process.
type daemon struct {
	t    testing.TB
	name string // for the log dump
	data string // data directory
	addr string // host:port of the API
	url  string // http://host:port
	cmd  *exec.Cmd
	log  *cmdtest.Buffer // stdout and stderr

	exited  chan struct{} // closed when the process has exited
	waitErr error         // set before exited is closed
}

// startDemo starts `egsd run --demo` on data and waits until it answers.
func startDemo(t testing.TB, data string) *daemon {
	t.Helper()
	return startListening(t, data, func(addr string) []string {
		return []string{"run", "--demo", "--demo-regime", "test", "--demo-printer=false", "--data", data, "--listen", addr}
	})
}

// startListening starts egsd with args(addr) on a free loopback port. The
// port is picked, released and then bound by the child, so another process
// may take it in between: then the child fails to listen and it is tried
// again on another port.
func startListening(t testing.TB, data string, args func(addr string) []string) *daemon {
	t.Helper()
	return startListeningEnv(t, data, nil, args)
}

// startListeningEnv is startListening with env added to the child's
// environment.
func startListeningEnv(t testing.TB, data string, env []string, args func(addr string) []string) *daemon {
	t.Helper()
	for attempt := 1; ; attempt++ {
		addr := cmdtest.FreeAddr(t)
		d, err := tryStartEnv(t, data, addr, env, args(addr)...)
		if err == nil {
			return d
		}
		if attempt == 3 || d.running() || !strings.Contains(d.log.String(), "address already in use") {
			t.Fatal(err)
		}
		t.Logf("%v; trying another port", err)
	}
}

// startDaemon starts egsd with args (which must make it listen on addr and
// keep its store in data) and waits until it answers.
func startDaemon(t testing.TB, data, addr string, args ...string) *daemon {
	t.Helper()
	d, err := tryStart(t, data, addr, args...)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// tryStart starts egsd and waits until it answers. A cleanup kills it if
// the test left it running, and dumps its log if the test failed.
func tryStart(t testing.TB, data, addr string, args ...string) (*daemon, error) {
	t.Helper()
	return tryStartEnv(t, data, addr, nil, args...)
}

// tryStartEnv is tryStart with env added to the child's environment.
func tryStartEnv(t testing.TB, data, addr string, env []string, args ...string) (*daemon, error) {
	t.Helper()
	d := &daemon{
		t: t, name: strings.Join(args, " "), data: data, addr: addr, url: "http://" + addr,
		log: new(cmdtest.Buffer), exited: make(chan struct{}),
	}
	d.cmd = exec.Command(egsdBinary(t), args...)
	d.cmd.Env = cliEnv(t.TempDir(), env...)
	d.cmd.Stdout = d.log
	d.cmd.Stderr = d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start egsd: %v", err)
	}
	go func() {
		d.waitErr = d.cmd.Wait()
		close(d.exited)
	}()
	t.Cleanup(func() {
		if d.running() {
			d.cmd.Process.Kill()
			<-d.exited
		}
		if t.Failed() {
			t.Logf("log of egsd %s (pid %d, %v):\n%s", d.name, d.cmd.Process.Pid, d.waitErr, d.log.String())
		}
	})
	return d, d.awaitReady()
}

func (d *daemon) running() bool {
	select {
	case <-d.exited:
		return false
	default:
		return true
	}
}

// awaitReady polls until GET /healthz answers 200 and the data directory's
// owner.token names this daemon's URL: the token is written once the agent
// listens, and a token left by a killed predecessor names another port (or,
// if the port came round again, /healthz cannot answer until this one
// listens, and it is alive when it does).
func (d *daemon) awaitReady() error {
	c := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(startDeadline)
	var last error
	for {
		last = d.probe(c)
		if last == nil && d.running() {
			return nil
		}
		select {
		case <-d.exited:
			return fmt.Errorf("egsd %s exited before it was ready: %v", d.name, d.waitErr)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("egsd %s was not ready within %v: %v", d.name, startDeadline, last)
		}
	}
}

func (d *daemon) probe(c *http.Client) error {
	resp, err := c.Get(d.url + "/healthz")
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /healthz = %d", resp.StatusCode)
	}
	data, err := os.ReadFile(filepath.Join(d.data, "owner.token"))
	if err != nil {
		return err
	}
	var tok struct{ Token, URL string }
	if err := json.Unmarshal(data, &tok); err != nil || tok.Token == "" || tok.URL != d.url {
		return fmt.Errorf("owner.token %s does not name %s yet", data, d.url)
	}
	return nil
}

// stop sends SIGTERM and requires a clean exit (status 0).
func (d *daemon) stop() {
	d.t.Helper()
	if !d.running() {
		d.t.Fatalf("egsd had already exited: %v", d.waitErr)
	}
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		d.t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-d.exited:
	case <-time.After(stopDeadline):
		d.cmd.Process.Kill()
		<-d.exited
		d.t.Fatalf("egsd did not exit within %v of SIGTERM", stopDeadline)
	}
	if d.waitErr != nil {
		d.t.Fatalf("egsd did not shut down cleanly after SIGTERM: %v", d.waitErr)
	}
	if _, err := os.Stat(filepath.Join(d.data, "owner.token")); !errors.Is(err, os.ErrNotExist) {
		d.t.Errorf("owner.token left behind after a clean shutdown (stat: %v)", err)
	}
}

// kill sends SIGKILL and waits until the process is gone.
func (d *daemon) kill() {
	d.t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		d.t.Fatalf("SIGKILL: %v", err)
	}
	select {
	case <-d.exited:
	case <-time.After(stopDeadline):
		d.t.Fatalf("egsd did not die within %v of SIGKILL", stopDeadline)
	}
	var ee *exec.ExitError
	if !errors.As(d.waitErr, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		d.t.Fatalf("egsd exited with %v before SIGKILL reached it", d.waitErr)
	}
}

// apiClient talks to a daemon's HTTP API.
type apiClient struct {
	url   string
	token string
	http  *http.Client
}

func newAPIClient(url string) *apiClient {
	return &apiClient{url: url, http: &http.Client{
		Timeout:   requestDeadline,
		Transport: &http.Transport{MaxIdleConnsPerHost: 32},
	}}
}

// apiAnswer is one HTTP answer.
type apiAnswer struct {
	Status int
	Header http.Header
	Body   []byte
}

// do sends one request; err is a transport error (no complete answer).
func (c *apiClient) do(ctx context.Context, method, path string, header http.Header, body []byte) (apiAnswer, error) {
	ctx, cancel := context.WithTimeout(ctx, requestDeadline)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.url+path, bytes.NewReader(body))
	if err != nil {
		return apiAnswer{}, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return apiAnswer{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return apiAnswer{}, err
	}
	return apiAnswer{resp.StatusCode, resp.Header, data}, nil
}

// tryLogin posts a login and returns the answer.
func (c *apiClient) tryLogin(t testing.TB, user, password string) apiAnswer {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"user": user, "password": password})
	ans, err := c.do(context.Background(), http.MethodPost, "/v1/sessions", nil, body)
	if err != nil {
		t.Fatalf("POST /v1/sessions as %s: %v", user, err)
	}
	return ans
}

// login logs in and keeps the session token for later requests.
func (c *apiClient) login(t testing.TB, user, password string) {
	t.Helper()
	ans := c.tryLogin(t, user, password)
	var sess struct{ Token, Role string }
	if ans.Status != http.StatusCreated || json.Unmarshal(ans.Body, &sess) != nil || sess.Token == "" {
		t.Fatalf("login as %s = %d %s, want 201 with a token", user, ans.Status, ans.Body)
	}
	c.token = sess.Token
}

// postSale posts a sale with an Idempotency-Key.
func (c *apiClient) postSale(ctx context.Context, key string, body []byte) (apiAnswer, error) {
	return c.do(ctx, http.MethodPost, "/v1/sales", http.Header{"Idempotency-Key": {key}}, body)
}

// saleAnswer is the part of an issued document's JSON the tests compare.
type saleAnswer struct {
	Counter  uint64 `json:"counter"`
	UUID     string `json:"uuid"`
	Hash     string `json:"hash"`
	PrevHash string `json:"prev_hash"`
	Document []byte `json:"document"`
	Status   string `json:"status"`
	User     string `json:"user"`
}

func decodeSale(ans apiAnswer) (saleAnswer, error) {
	var s saleAnswer
	if err := json.Unmarshal(ans.Body, &s); err != nil {
		return s, fmt.Errorf("sale answer %s: %w", ans.Body, err)
	}
	if s.Counter == 0 || s.UUID == "" || s.Hash == "" || len(s.Document) == 0 {
		return s, fmt.Errorf("sale answer lacks counter, uuid, hash or document: %s", ans.Body)
	}
	return s, nil
}

// same reports how a replayed answer differs from the first one ("" if not).
func (s saleAnswer) diff(first saleAnswer) string {
	switch {
	case s.Counter != first.Counter:
		return fmt.Sprintf("counter %d, first answer %d", s.Counter, first.Counter)
	case s.UUID != first.UUID:
		return fmt.Sprintf("uuid %s, first answer %s", s.UUID, first.UUID)
	case s.Hash != first.Hash:
		return fmt.Sprintf("hash %s, first answer %s", s.Hash, first.Hash)
	case s.PrevHash != first.PrevHash:
		return fmt.Sprintf("prev_hash %s, first answer %s", s.PrevHash, first.PrevHash)
	case !bytes.Equal(s.Document, first.Document):
		return "document bytes differ from the first answer's"
	}
	return ""
}

// newKey returns a fresh random Idempotency-Key.
func newKey() string { return rand.Text() }

// saleBody returns a valid sale whose quantities and prices vary with rng,
// so that concurrent sales are not all the same document.
func saleBody(rng *mrand.Rand) []byte {
	return fmt.Appendf(nil, `{"kind":"invoice","lines":[`+
		`{"name":"Arabic coffee 250g","quantity":"%d","unit_price":"18.50","vat_category":"S","vat_rate":"15","seller_code":"C-250"},`+
		`{"name":"Dates, Sukkari 1kg","quantity":"%d.%03d","unit_price":"%d.%02d","vat_category":"S","vat_rate":"15"},`+
		`{"name":"Fresh bread","quantity":"1","unit_price":"3.00","vat_category":"Z","exemption_reason":"VATEX-SA-32"}],`+
		`"payments":[{"means":"cash"}]}`,
		1+rng.IntN(9), rng.IntN(5), 1+rng.IntN(999), 1+rng.IntN(99), rng.IntN(100))
}

// testRegime is the "test" regime as the demo configures it; its Rehash
// recomputes a stored document's hash.
func testRegime(t testing.TB) stamping.Regime {
	t.Helper()
	r, err := stamping.New("test", stamping.Config{Seller: stamping.Seller{Name: "x"}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// checkOptions proves with the regime's Rehash that the stored bytes are
// the bytes that were chained.
func checkOptions(t testing.TB) queue.CheckOptions {
	r := testRegime(t)
	return queue.CheckOptions{Rehash: func(regime string, doc []byte) (string, error) {
		if regime != r.Name() {
			return "", fmt.Errorf("document of regime %q in a %s unit", regime, r.Name())
		}
		return r.Rehash(doc)
	}}
}

// openStore opens a stopped unit's store in-process; the caller closes it.
func openStore(t testing.TB, data string) *queue.Store {
	t.Helper()
	s, err := queue.Open(data, &queue.Options{MustExist: true, LockTimeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("open the store of the stopped unit: %v", err)
	}
	return s
}

// checkStore runs the store's own consistency check with Rehash and fails
// the test on any violation.
func checkStore(t testing.TB, s *queue.Store) queue.CheckReport {
	t.Helper()
	rep, err := s.Check(checkOptions(t))
	if err != nil {
		t.Fatalf("store check after the daemon stopped:\n%v", err)
	}
	return rep
}

// journal returns every record in the journal, in counter order.
func journal(t testing.TB, s *queue.Store) []*queue.Record {
	t.Helper()
	var all []*queue.Record
	var since uint64
	for {
		recs, next, err := s.Documents(since, 1000, nil)
		if err != nil {
			t.Fatalf("read the journal after %d: %v", since, err)
		}
		all = append(all, recs...)
		if next == 0 {
			return all
		}
		since = next
	}
}

// outbox returns every outbox entry.
func outbox(t testing.TB, s *queue.Store) []queue.OutboxEntry {
	t.Helper()
	entries, err := s.Outbox(1 << 30)
	if err != nil {
		t.Fatalf("read the outbox: %v", err)
	}
	return entries
}

// cliResult is the outcome of one egsd command.
type cliResult struct {
	Stdout, Stderr string
	Code           int
}

func (r cliResult) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
}

// runEgsd runs the egsd binary with args in the test's directory (so that
// relative paths are from cmd/egsd) and the environment env.
func runEgsd(t testing.TB, env []string, args ...string) cliResult {
	t.Helper()
	return runEgsdStdin(t, env, "", args...)
}

// runEgsdStdin is runEgsd with stdin as the command's standard input.
func runEgsdStdin(t testing.TB, env []string, stdin string, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cliDeadline)
	defer cancel()
	cmd := exec.CommandContext(ctx, egsdBinary(t), args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := cliResult{Stdout: stdout.String(), Stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.Exited():
		res.Code = ee.ExitCode()
	default:
		t.Fatalf("egsd %s: %v\n%s", strings.Join(args, " "), err, res)
	}
	return res
}
