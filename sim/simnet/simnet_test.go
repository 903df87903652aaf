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

func TestKnobsDecide(t *testing.T) {
	k := Knobs{Status: 503, StatusCount: 2, TimeoutCount: 1, Latency: time.Second}
	if d := k.Decide(false); d != (Decision{}) {
		t.Errorf("a request the knobs do not apply to: %+v", d)
	}
	for i, want := range []Decision{{Status: 503, Latency: time.Second}, {Status: 503, Latency: time.Second},
		{Timeout: true, Latency: time.Second}, {Latency: time.Second}} {
		if d := k.Decide(true); d != want {
			t.Errorf("request %d: %+v, want %+v", i+1, d, want)
		}
	}
	if k.Status != 0 {
		t.Errorf("the status stayed on after its count: %+v", k)
	}
	k = Knobs{Down: true, ResetCount: 1}
	if d := k.Decide(false); !d.Down || k.ResetCount != 1 {
		t.Errorf("down: %+v, reset count %d", d, k.ResetCount)
	}
	if err := (Knobs{StatusPercent: 101, ResetCount: -1, Status: 200, Latency: -1}).Validate(); err == nil {
		t.Error("bad knobs validated")
	}
}

func TestHold(t *testing.T) {
	var h Hold
	if h.Current() != nil {
		t.Fatal("the zero Hold holds")
	}
	release := h.Start()
	ch := h.Current()
	if ch == nil {
		t.Fatal("Start holds nothing")
	}
	release()
	release()
	select {
	case <-ch:
	default:
		t.Error("release did not release")
	}
	if h.Current() != nil {
		t.Error("still holding after release")
	}
}
