package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSystemdNotify runs egsd as systemd runs a Type=notify unit with
// WatchdogSec: with a notification socket and a watchdog interval of
// 200 ms in its environment. It says READY=1 once it answers, pings the
// watchdog while it runs, and says STOPPING=1 on SIGTERM.
func TestSystemdNotify(t *testing.T) {
	sockDir, err := os.MkdirTemp("", "egsd-notify") // short: socket paths are limited to ~100 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	sock := filepath.Join(sockDir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	messages := make(chan string, 1000)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(messages)
				return
			}
			messages <- string(buf[:n])
		}
	}()
	next := func(what string) string {
		t.Helper()
		select {
		case m := <-messages:
			return m
		case <-time.After(startDeadline):
			t.Fatalf("no message from egsd while waiting for %s", what)
			return ""
		}
	}

	data := t.TempDir()
	d := startListeningEnv(t, data, []string{"NOTIFY_SOCKET=" + sock, "WATCHDOG_USEC=200000"}, func(addr string) []string {
		return []string{"run", "--demo", "--demo-regime", "test", "--demo-printer=false", "--data", data, "--listen", addr}
	})
	if m := next("READY=1"); m != "READY=1" {
		t.Fatalf("first message %q, want READY=1", m)
	}
	for i := range 3 {
		if m := next("WATCHDOG=1"); m != "WATCHDOG=1" {
			t.Fatalf("message %d after READY=1: %q, want WATCHDOG=1", i+1, m)
		}
	}
	d.stop()
	// Pings sent before the signal may still be queued before it.
	for m := next("STOPPING=1"); m != "STOPPING=1"; m = next("STOPPING=1") {
		if m != "WATCHDOG=1" {
			t.Fatalf("after SIGTERM: %q, want WATCHDOG=1 until STOPPING=1", m)
		}
	}
	if strings.Contains(d.log.String(), "watchdog") {
		t.Errorf("the log mentions the watchdog, which only a failure does:\n%s", d.log.String())
	}
}
