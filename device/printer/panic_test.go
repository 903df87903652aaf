//go:build linux

package printer

import (
	"bytes"
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/egsd/egsd/device/serialport"
)

// faultyPort is a port whose Write panics on data holding marker, while
// armed: a defect in the port code, met on one job's bytes.
type faultyPort struct {
	serialport.Port
	marker []byte
	armed  *atomic.Bool
}

func (f *faultyPort) Write(b []byte) (int, error) {
	if f.armed.Load() && bytes.Contains(b, f.marker) {
		panic("serial: index out of range")
	}
	return f.Port.Write(b)
}

// TestPanicInPortWrite: a panic on the goroutine that writes to the port
// (where nobody could recover it, and the process would end) reaches the
// caller of Print as a *PanicError it can recover, with the stack where
// it happened; the port is closed, the state says why, and the next job
// prints on a port opened afresh.
func TestPanicInPortWrite(t *testing.T) {
	var armed atomic.Bool
	armed.Store(true)
	g, _ := newRig(t, online(), func(o *Options) {
		open := o.Open
		o.Open = func() (serialport.Port, error) {
			p, err := open()
			if err != nil {
				return nil, err
			}
			return &faultyPort{Port: p, marker: []byte("TOTAL"), armed: &armed}, nil
		}
	})
	printRecovering := func() (err error, recovered any) {
		defer func() { recovered = recover() }()
		return g.p.Print(context.Background(), job), nil
	}
	err, recovered := printRecovering()
	pe, ok := recovered.(*PanicError)
	if !ok {
		t.Fatalf("Print returned %v and panicked with %v (%T), want a *PanicError", err, recovered, recovered)
	}
	if pe.Value != "serial: index out of range" || !strings.Contains(string(pe.Stack), "faultyPort") {
		t.Errorf("PanicError %q, stack:\n%s", pe.Error(), pe.Stack)
	}
	snap := g.p.Snapshot()
	wantState(t, snap, StateError, "the printer driver failed: panic in the port's Write: serial: index out of range")

	armed.Store(false)
	if err, recovered := printRecovering(); err != nil || recovered != nil {
		t.Fatalf("the next job: %v, panic %v", err, recovered)
	}
	if n := g.open.opens.Load(); n != 2 {
		t.Errorf("port opened %d times, want 2 (once more after the panic)", n)
	}
	if _, err := g.p.Check(context.Background()); err != nil {
		t.Errorf("Check after recovery: %v", err)
	}
}
