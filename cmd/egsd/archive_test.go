//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/egsd/egsd/agent"
	"github.com/egsd/egsd/cmd/egsd/internal/cmdtest"
	"github.com/egsd/egsd/offsite"
	"github.com/egsd/egsd/queue"
)

// seaweedfsVersion is the SeaweedFS the Makefile pins; make weed builds it
// into bin/tools.
const seaweedfsVersion = "v0.0.0-20261109003541-7506e5f91cd6"

const (
	archiveAccessKey = "EGSDTESTACCESS"
	archiveSecretKey = "egsd-test-secret-key-0123456789"
	archiveBucket    = "egsd-archive"
)

// weedServer is a SeaweedFS server (master, volume, filer and S3 gateway in
// one process) on loopback ports, with its data in a test directory.
type weedServer struct {
	t    *testing.T
	bin  string
	args []string
	s3   string // host:port of the S3 API
	cmd  *exec.Cmd
	log  *cmdtest.Buffer
	done chan struct{}
}

// weedBinary is bin/tools/weed-<version>, or the test is skipped (failed
// under CI, which builds it first).
func weedBinary(t *testing.T) string {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(filepath.Dir(strings.TrimSpace(string(out))), "bin", "tools", "weed-"+seaweedfsVersion)
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is missing: .ci/run builds it with `make weed`", bin)
		}
		t.Skipf("SeaweedFS %s not found: build it with `make weed`", seaweedfsVersion)
	}
	return bin
}

func newWeedServer(t *testing.T, bin, dir string) *weedServer {
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(dir, "s3.json")
	if err := os.WriteFile(config, fmt.Appendf(nil, `{"identities":[{"name":"egsd","credentials":[{"accessKey":%q,"secretKey":%q}],"actions":["Admin","Read","Write","List","Tagging"]}]}`,
		archiveAccessKey, archiveSecretKey), 0o600); err != nil {
		t.Fatal(err)
	}
	port := func() string { _, p, _ := net.SplitHostPort(cmdtest.FreeAddr(t)); return p }
	w := &weedServer{t: t, bin: bin}
	s3port := port()
	w.s3 = net.JoinHostPort("127.0.0.1", s3port)
	w.args = []string{"server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-dir=" + data,
		"-master.port=" + port(), "-master.port.grpc=" + port(), "-master.volumeSizeLimitMB=64",
		// Nothing leaves the machine: no usage reports.
		"-master.telemetry=false", "-master.telemetry.url=http://127.0.0.1:1/",
		"-volume.port=" + port(), "-volume.port.grpc=" + port(), "-volume.max=16",
		"-filer", "-filer.port=" + port(), "-filer.port.grpc=" + port(), "-filer.localSocket=" + filepath.Join(dir, "filer.sock"),
		"-s3", "-s3.port=" + s3port, "-s3.port.grpc=" + port(), "-s3.port.iceberg=0", "-s3.port.lance=0",
		"-s3.config=" + config, "-s3.localSocket=" + filepath.Join(dir, "s3.sock")}
	t.Cleanup(w.kill)
	return w
}

// start starts the server and waits until its S3 API answers.
func (w *weedServer) start(ctx context.Context) {
	w.t.Helper()
	w.log = new(cmdtest.Buffer)
	w.cmd = exec.Command(w.bin, w.args...)
	w.cmd.Stdout, w.cmd.Stderr = w.log, w.log
	// The server dies with the test, even one that times out.
	w.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := w.cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	w.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { cmd.Wait(); close(done) }(w.cmd, w.done)
	client := s3Client(w.t, w.s3, nil)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := client.ListBuckets(cctx)
		cancel()
		if err == nil {
			return
		}
		select {
		case <-w.done:
			w.t.Fatalf("SeaweedFS exited: %s", w.log)
		default:
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("SeaweedFS's S3 API does not answer: %v\n%s", err, w.log)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// kill ends the server with SIGKILL, as a crash or a power cut would.
func (w *weedServer) kill() {
	if w.cmd == nil || w.cmd.Process == nil {
		return
	}
	w.cmd.Process.Signal(syscall.SIGKILL)
	<-w.done
	w.cmd = nil
}

func s3Client(t *testing.T, endpoint string, transport http.RoundTripper) *minio.Client {
	c, err := minio.New(endpoint, &minio.Options{Creds: credentials.NewStaticV4(archiveAccessKey, archiveSecretKey, ""),
		BucketLookup: minio.BucketLookupPath, Transport: transport})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// countingProxy passes requests to the S3 API and counts the PUTs, and
// for each object the PUTs the server confirmed.
type countingProxy struct {
	addr      string
	puts      atomic.Int64
	mu        sync.Mutex
	confirmed map[string]int
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func startCountingProxy(t *testing.T, target string) *countingProxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &countingProxy{addr: l.Addr().String(), confirmed: map[string]int{}}
	// The Host header stays the proxy's, which the client signed.
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: target})
	rp.ErrorLog = nil
	rp.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) { w.WriteHeader(http.StatusBadGateway) }
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPut {
			rp.ServeHTTP(w, r)
			return
		}
		p.puts.Add(1)
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		rp.ServeHTTP(rec, r)
		if rec.status == http.StatusOK {
			p.mu.Lock()
			p.confirmed[r.URL.Path]++
			p.mu.Unlock()
		}
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return p
}

// TestArchiveToSeaweedFS is the archive's acceptance test against a real
// S3-compatible server: 10,000 ZATCA documents issued while the uploader
// runs, the server killed (SIGKILL) midway and restarted, the authority's
// answers arriving afterwards; the archive ends complete (every counter
// once, every answer and checkpoint, manifests right), a downloaded copy
// passes `egsd verify --chain`, and a restarted uploader sends nothing.
func TestArchiveToSeaweedFS(t *testing.T) {
	const total, killAt = 10000, 2500
	bin := weedBinary(t)
	tmp := t.TempDir()
	ctx := t.Context()

	weed := newWeedServer(t, bin, filepath.Join(tmp, "weed"))
	weed.start(ctx)
	if err := s3Client(t, weed.s3, nil).MakeBucket(ctx, archiveBucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	proxy := startCountingProxy(t, weed.s3)

	unit := newZATCAUnit(t, func(cfg *agent.Config) {
		cfg.Device.Serial = "EGS1-TILL-7"
		cfg.Archive = agent.ArchiveConfig{Enabled: true, Endpoint: proxy.addr, Bucket: archiveBucket, Prefix: "journals",
			AccessKeyFile: filepath.Join(tmp, "access"), SecretKeyFile: filepath.Join(tmp, "secret"),
			Interval: agent.Duration{Duration: time.Second}, MaxBackoff: agent.Duration{Duration: 2 * time.Second},
			ManifestInterval: agent.Duration{Duration: time.Second}}
		os.WriteFile(cfg.Archive.AccessKeyFile, []byte(archiveAccessKey+"\n"), 0o600)
		os.WriteFile(cfg.Archive.SecretKeyFile, []byte(archiveSecretKey+"\n"), 0o600)
	})
	a := unit.a

	start := time.Now()
	issue(t, a, 1, total/2)
	t.Logf("issued %d documents in %s", total/2, time.Since(start).Round(time.Millisecond))
	up := a.Archive()
	// The kill lands in the middle of a step: objects stored that the
	// cursor does not count yet.
	var mark queue.OffsiteCursor
	var sentAtMark uint64
	waitFor(t, "the uploader to pass document "+strconv.Itoa(killAt)+" and be halfway through the next step", 5*time.Minute, func() bool {
		st := up.Status()
		if st.Cursor != mark {
			mark, sentAtMark = st.Cursor, st.Sent
		}
		return mark.Documents >= killAt && st.Sent >= sentAtMark+300
	})

	weed.kill()
	t.Logf("SeaweedFS killed with the cursor at %+v", up.Status().Cursor)
	// Issuing goes on while the store is down.
	issue(t, a, total/2+1, total)
	waitFor(t, "the uploader to notice the outage", 5*time.Minute, func() bool { return up.Status().LastError != "" })
	stalled := up.Status().Cursor
	if stalled.Documents >= total {
		t.Fatalf("cursor at %d with the store down", stalled.Documents)
	}
	// The authority answers meanwhile: those answers reach the archive
	// after their documents.
	waitFor(t, "the authority to answer every document", 5*time.Minute, func() bool {
		st, err := a.Store().OutboxStats()
		return err == nil && st.Pending == 0
	})

	weed.start(ctx)
	t.Logf("SeaweedFS restarted with the cursor at %+v", up.Status().Cursor)
	start = time.Now()
	waitFor(t, "the archive to catch up", 5*time.Minute, func() bool {
		c, _ := a.Store().OffsiteCursor()
		cps, _ := a.Store().AuditCheckpoints(c.Checkpoints, 1)
		return c.Documents == total && c.Answers == total && len(cps) == 0
	})
	st := up.Status()
	t.Logf("caught up %s after the restart; %d PUTs through the proxy in all, %+v", time.Since(start).Round(time.Millisecond), proxy.puts.Load(), st)
	if st.Kept == 0 {
		t.Error("after the restart the uploader found none of the objects stored before the kill; it sent them again")
	}
	proxy.mu.Lock()
	for key, n := range proxy.confirmed {
		if n != 1 && !strings.HasSuffix(key, "/"+offsite.ManifestName) {
			t.Errorf("%s was stored %d times", key, n)
		}
	}
	proxy.mu.Unlock()
	unit.stopServing()

	// A restarted uploader finds everything sent and sends nothing.
	putsBefore := proxy.puts.Load()
	objects, err := offsite.NewS3(offsite.S3Config{Endpoint: proxy.addr, Bucket: archiveBucket, AccessKey: archiveAccessKey, SecretKey: archiveSecretKey})
	if err != nil {
		t.Fatal(err)
	}
	again, err := offsite.New(a.Store(), objects, offsite.Config{Prefix: "journals", Seller: zatcaSeller().VATNumber, Device: "EGS1-TILL-7",
		Target: up.Status().Cursor.Target})
	if err != nil {
		t.Fatal(err)
	}
	if err := again.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if n := proxy.puts.Load() - putsBefore; n != 0 || again.Status().Sent != 0 {
		t.Errorf("a restarted uploader sent %d objects (%d PUTs) that were already archived", again.Status().Sent, n)
	}

	dir := filepath.Join(tmp, "download")
	download(t, s3Client(t, weed.s3, nil), dir)
	units, err := offsite.ReadArchive(dir)
	if err != nil || len(units) != 1 {
		t.Fatalf("ReadArchive: %d units, %v", len(units), err)
	}
	cps, err := a.Store().AuditCheckpoints(0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	u := units[0]
	if u.First != 1 || u.Last != total || len(u.Documents) != total || u.Answers != total || len(u.Checkpoints) != len(cps) {
		t.Errorf("archive holds documents %d–%d (%d files), %d answers, %d checkpoints; want 1–%d, %d answers, %d checkpoints",
			u.First, u.Last, len(u.Documents), u.Answers, len(u.Checkpoints), total, total, len(cps))
	}
	res := runEgsd(t, cliEnv(tmp), "verify", "--chain", dir)
	if res.Code != 0 || !strings.Contains(res.Stdout, fmt.Sprintf("OK chain ICV 1–%d", total)) || strings.Contains(res.Stdout, "FAIL") {
		t.Fatalf("egsd verify --chain on the downloaded archive: exit %d\n%s\n%s", res.Code, lastLines(res.Stdout, 20), res.Stderr)
	}
}

// issue issues sales from counter first to last with 4 clients.
func issue(t *testing.T, a *agent.Agent, first, last int) {
	const sale = `{"kind":"invoice","lines":[{"name":"Tea","quantity":"2","unit_price":"4.35","vat_category":"S","vat_rate":"15"}],"payments":[{"means":"cash"}]}`
	var next atomic.Int64
	next.Store(int64(first) - 1)
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := next.Add(1); i <= int64(last) && failed.Load() == nil; i = next.Add(1) {
				if _, _, err := a.Issue(context.Background(), "ana", fmt.Sprint("sale-", i), []byte(sale)); err != nil {
					failed.Store(&err)
				}
			}
		})
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		t.Fatalf("issue: %v", *err)
	}
}

// download copies every object of the bucket into dir, as `aws s3 sync`
// or `mc mirror` would.
func download(t *testing.T, c *minio.Client, dir string) {
	ctx := t.Context()
	keys := make(chan string)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for range 4 {
		wg.Go(func() {
			for key := range keys {
				if err := c.FGetObject(ctx, archiveBucket, key, filepath.Join(dir, filepath.FromSlash(key)), minio.GetObjectOptions{}); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("%s: %w", key, err))
					mu.Unlock()
				}
			}
		})
	}
	n := 0
	for obj := range c.ListObjects(ctx, archiveBucket, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			mu.Lock()
			errs = append(errs, obj.Err)
			mu.Unlock()
			break
		}
		keys <- obj.Key
		n++
	}
	close(keys)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("download: %v", err)
	}
	t.Logf("downloaded %d objects", n)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// TestS3StoreAgainstSeaweedFS: the archive's S3 requests (PUT with the
// content's SHA-256 as metadata, HEAD, GET) as a real server answers them,
// and its refusals as errors that say why.
func TestS3StoreAgainstSeaweedFS(t *testing.T) {
	bin := weedBinary(t)
	ctx := t.Context()
	weed := newWeedServer(t, bin, t.TempDir())
	weed.start(ctx)
	if err := s3Client(t, weed.s3, nil).MakeBucket(ctx, archiveBucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	objects, err := offsite.NewS3(offsite.S3Config{Endpoint: weed.s3, Bucket: archiveBucket, AccessKey: archiveAccessKey, SecretKey: archiveSecretKey})
	if err != nil {
		t.Fatal(err)
	}
	const key = "journals/399999999900003/TILL-7/2026-12-06/documents/0000000001-x.xml"
	if _, exists, err := objects.Stat(ctx, key); err != nil || exists {
		t.Fatalf("Stat before Put = %v, %v", exists, err)
	}
	if _, exists, err := objects.Get(ctx, key); err != nil || exists {
		t.Fatalf("Get before Put = %v, %v", exists, err)
	}
	if err := objects.Put(ctx, key, []byte("<Invoice/>"), "5ha"); err != nil {
		t.Fatal(err)
	}
	if sum, exists, err := objects.Stat(ctx, key); err != nil || !exists || sum != "5ha" {
		t.Errorf("Stat after Put = %q, %v, %v; want the SHA-256 it was stored with", sum, exists, err)
	}
	if data, exists, err := objects.Get(ctx, key); err != nil || !exists || string(data) != "<Invoice/>" {
		t.Errorf("Get after Put = %q, %v, %v", data, exists, err)
	}
	wrong, _ := offsite.NewS3(offsite.S3Config{Endpoint: weed.s3, Bucket: archiveBucket, AccessKey: archiveAccessKey, SecretKey: "not the secret"})
	if err := wrong.Put(ctx, key, []byte("<Forged/>"), "f"); err == nil || !strings.Contains(err.Error(), "Signature") {
		t.Errorf("Put with a wrong secret = %v; want the server's refusal naming the signature", err)
	}
}
