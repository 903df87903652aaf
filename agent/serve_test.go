package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/egsd/egsd/device"
)

// TestOverHTTP drives a sale through a real HTTP server on loopback.
func TestOverHTTP(t *testing.T) {
	h := newHarness(t, nil)
	h.addUser("cashier1", RoleCashier)
	srv := httptest.NewServer(h.a.Handler())
	t.Cleanup(srv.Close)
	token := httpLogin(t, srv.URL, "cashier1", testPassword)

	req, _ := http.NewRequest("POST", srv.URL+"/v1/sales", strings.NewReader(goodSale))
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Idempotency-Key", "over-http")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("sale = %d %s", resp.StatusCode, body)
	}

	req, _ = http.NewRequest("GET", srv.URL+resp.Header.Get("Location")+"/content", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err = srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	content, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var v DocumentView
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !bytes.Equal(content, v.Document) {
		t.Errorf("content = %d %q, want the issued bytes %q", resp.StatusCode, content, v.Document)
	}
}

func httpLogin(t *testing.T, base, user, password string) string {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"user": user, "password": password})
	resp, err := http.Post(base+"/v1/sessions", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s SessionView
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("login = %d (%v)", resp.StatusCode, err)
	}
	return s.Token
}

// TestServe runs Serve on a loopback port and a unix socket: the owner
// token file says where the API is, works as the owner, and is removed by
// Close; cancelling the context stops Serve cleanly.
// socketConfig is testConfig listening on a free loopback port and on a
// unix socket in a fresh directory.
func socketConfig(t *testing.T) Config {
	t.Helper()
	cfg := testConfig(t)
	cfg.API.Listen = "127.0.0.1:0"
	sockDir, err := os.MkdirTemp("", "egsd") // short: socket paths are limited to ~100 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	cfg.API.UnixSocket = filepath.Join(sockDir, "api.sock")
	return cfg
}

func TestServe(t *testing.T) {
	cfg := socketConfig(t)
	a, err := New(cfg, Options{Time: device.NewFakeTime(t0), Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, func(addr string) { ready <- addr }) }()
	var url string
	select {
	case url = <-ready:
	case err := <-done:
		t.Fatalf("Serve: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not become ready")
	}
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Errorf("ready with %q, want a loopback URL", url)
	}

	tokenPath := filepath.Join(cfg.DataDir, OwnerTokenFile)
	data, err := os.ReadFile(tokenPath)
	if err != nil {
		t.Fatalf("owner token: %v", err)
	}
	var ot OwnerToken
	if err := json.Unmarshal(data, &ot); err != nil || ot.Token == "" || ot.URL != url || ot.Socket != cfg.API.UnixSocket {
		t.Fatalf("owner token file %s: %+v (%v)", data, ot, err)
	}
	if fi, err := os.Stat(tokenPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("owner token file mode: %v %v", fi.Mode(), err)
	}

	// The owner creates a manager over TCP, who logs in over the socket.
	b, _ := json.Marshal(map[string]string{"name": "boss", "role": "manager", "password": testPassword})
	req, _ := http.NewRequest("POST", url+"/v1/users", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+ot.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("owner adds a manager: %d", resp.StatusCode)
	}
	unix := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", cfg.API.UnixSocket)
	}}}
	b, _ = json.Marshal(map[string]string{"user": "boss", "password": testPassword})
	resp, err = unix.Post("http://egsd/v1/sessions", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("login over the unix socket: %d", resp.StatusCode)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve after cancel: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tokenPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("owner token left behind after Close: %v", err)
	}
}
