//go:build unix

package cli

import (
	"bufio"
	"context"
	"errors"
	"io"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/egsd/egsd/stamping/kz"
)

// TestSimOFD runs `egsd sim ofd` with a chosen result code, and talks to
// it as a KKM: the first INFO gets 254, its resend (same REQNUM and TOKEN)
// is answered with the registration data and a new token; SIGUSR1 takes
// the OFD down (connections reset) and up again.
func TestSimOFD(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []string{"sim", "ofd", "--listen", "127.0.0.1:0", "--id", "203539", "--token", "1000", "--result", "254"},
			IO{Stdin: strings.NewReader(""), Stdout: pw, Stderr: io.Discard, Getenv: func(string) string { return "" }})
		pw.Close()
	}()
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var addr string
	for l := range lines {
		if m := regexp.MustCompile(`^ofd\.address (127\.0\.0\.1:\d+)$`).FindStringSubmatch(l); m != nil {
			addr = m[1]
			break
		}
	}
	if addr == "" {
		t.Fatal("the banner names no address")
	}
	client := &kz.Client{Addr: addr, ReadTimeout: 5 * time.Second}
	sess := &kz.Session{ID: 203539, Token: 1000}
	info := func() *kz.Pending {
		p, err := sess.Begin(&kz.Request{Command: kz.CommandInfo})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := info()
	reply, err := client.Send(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if o := sess.Complete(reply); o != kz.Retry {
		t.Fatalf("first INFO: %v (result %v), want the chosen 254", o, reply.Response.Result)
	}
	reply, err = client.Send(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if o := sess.Complete(reply); o != kz.Accepted {
		t.Fatalf("resent INFO: %v, want accepted", o)
	}
	if reply.Header.Token == 1000 || reply.Header.ReqNum != p.ReqNum {
		t.Errorf("answer header %+v: want a new token and REQNUM %d", reply.Header, p.ReqNum)
	}

	toggle := func(want string) {
		t.Helper()
		if err := syscall.Kill(syscall.Getpid(), syscall.SIGUSR1); err != nil {
			t.Fatal(err)
		}
		for l := range lines {
			if strings.HasPrefix(l, "OFD "+want) {
				return
			}
		}
		t.Fatalf("the simulator never said OFD %s", want)
	}
	toggle("down")
	p = info()
	if _, err := client.Send(ctx, p); !errors.Is(err, kz.ErrTransport) {
		t.Errorf("INFO while down: %v, want a transport error", err)
	}
	toggle("up")
	if reply, err = client.Send(ctx, p); err != nil || sess.Complete(reply) != kz.Accepted {
		t.Errorf("INFO resent after up: %v", err)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("sim stopped with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("sim did not stop")
	}
	for _, bad := range [][]string{{"--result", "0"}, {"--result", "x"}, {"--drop-count", "-1"}, {"--latency", "soon"}, {"--id", "0"}} {
		if _, _, err := run(t, nil, "", append([]string{"sim", "ofd"}, bad...)...); err == nil || ExitCode(err) != 2 {
			t.Errorf("sim ofd %q: %v, want a usage error", bad, err)
		}
	}
}
