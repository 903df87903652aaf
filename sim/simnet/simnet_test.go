package simnet

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestFire(t *testing.T) {
	n := 2
	if !Fire(&n, 0) || !Fire(&n, 0) || Fire(&n, 0) || n != 0 {
		t.Errorf("a count of 2 fired otherwise (left %d)", n)
	}
	for range 100 {
		if !Fire(&n, 100) {
			t.Fatal("100 % did not fire")
		}
	}
}

func TestWait(t *testing.T) {
	ch := make(chan struct{})
	close(ch)
	if !Wait(context.Background(), nil, ch, -1) {
		t.Error("a closed channel did not end the wait")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if Wait(ctx, nil, nil, -1) {
		t.Error("an ended context ran its course")
	}
	done := make(chan struct{})
	close(done)
	if Wait(context.Background(), done, nil, time.Hour) {
		t.Error("done did not end the wait")
	}
}

func TestResetConn(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ResetConn(w) }))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		t.Fatal("a reset connection answered")
	}
}
