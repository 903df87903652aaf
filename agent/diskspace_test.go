package agent

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
)

// fakeFree makes the agent read free space from free.
func (h *harness) fakeFree(free *atomic.Uint64) {
	h.a.disk.free = func(string) (uint64, error) { return free.Load(), nil }
}

func (h *harness) openIncidents(kind string) int {
	h.t.Helper()
	incs, err := h.a.Store().Incidents(true, 100)
	if err != nil {
		h.t.Fatal(err)
	}
	n := 0
	for _, inc := range incs {
		if inc.Kind == kind {
			n++
		}
	}
	return n
}

// TestDiskLowWarns: below store.min_free_bytes the unit still issues but
// says so in its status and metrics, and opens one incident, closed when
// space returns.
func TestDiskLowWarns(t *testing.T) {
	h := newHarness(t, withScrapeToken(t, testScrapeToken, 0o600))
	cashier := h.user("c1", RoleCashier)
	var free atomic.Uint64
	free.Store(10 << 30)
	h.fakeFree(&free)
	if st := h.status(cashier); st.State != StateReady || st.Disk == nil || st.Disk.FreeBytes != 10<<30 {
		t.Fatalf("with 10 GiB free: state %s, disk %+v", st.State, st.Disk)
	}

	free.Store(DefaultMinFreeBytes - 1)
	st := h.status(cashier)
	if st.State != StateDiskLow || !st.Issuing || !strings.Contains(st.StateDetail, h.cfg.DataDir) || !strings.Contains(st.StateDetail, "store.min_free_bytes") {
		t.Errorf("below the threshold: state %s, issuing %v, detail %q; want %s, issuing, naming the data directory and the key",
			st.State, st.Issuing, st.StateDetail, StateDiskLow)
	}
	if st.Disk == nil || !st.Disk.Low || st.Disk.MinFreeBytes != DefaultMinFreeBytes {
		t.Errorf("status disk = %+v, want low with the threshold", st.Disk)
	}
	h.mustSale(cashier, "low-1", goodSale)
	h.status(cashier)
	s := h.scrape(testScrapeToken)
	wantSample(t, s, `egsd_disk_free_bytes`, DefaultMinFreeBytes-1)
	wantSample(t, s, `egsd_disk_min_free_bytes`, DefaultMinFreeBytes)
	wantSample(t, s, `egsd_unit_state{state="disk_space_low"}`, 1)
	wantSample(t, s, `egsd_incidents_open{kind="disk_space"}`, 1)
	if n := h.openIncidents(incidentDiskSpace); n != 1 {
		t.Fatalf("%d open disk_space incidents after several checks, want 1", n)
	}

	// Hovering at the threshold keeps the one incident open.
	for range 5 {
		free.Store(DefaultMinFreeBytes + 1)
		h.a.disk.check()
		free.Store(DefaultMinFreeBytes - 1)
		h.a.disk.check()
	}
	free.Store(DefaultMinFreeBytes)
	if st := h.status(cashier); st.State != StateDiskLow {
		t.Errorf("back at the threshold after being below it: state %s, want %s until a margin above it is free", st.State, StateDiskLow)
	}
	incs, err := h.a.Store().Incidents(false, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(incs) != 1 {
		t.Errorf("%d incidents after the free space hovered at the threshold, want the one", len(incs))
	}

	free.Store(DefaultMinFreeBytes + DefaultMinFreeBytes/lowMarginDivisor)
	if st := h.status(cashier); st.State != StateReady {
		t.Errorf("space back: state %s (%s), want ready", st.State, st.StateDetail)
	}
	if n := h.openIncidents(incidentDiskSpace); n != 0 {
		t.Errorf("%d disk_space incidents still open after space returned", n)
	}
}

// TestDiskLowIncidentSurvivesRestart: an incident open when the agent
// stopped is closed by the first check after a restart with space back,
// not left open for ever.
func TestDiskLowIncidentSurvivesRestart(t *testing.T) {
	h := newHarness(t, nil)
	var free atomic.Uint64
	free.Store(1 << 20)
	h.fakeFree(&free)
	h.a.disk.check()
	if n := h.openIncidents(incidentDiskSpace); n != 1 {
		t.Fatalf("%d open disk_space incidents, want 1", n)
	}
	h.close()
	h2 := startHarness(t, h.cfg, h.ft)
	free.Store(10 << 30)
	h2.fakeFree(&free)
	h2.a.disk.check()
	if n := h2.openIncidents(incidentDiskSpace); n != 0 {
		t.Errorf("%d disk_space incidents open after a restart with space back, want 0", n)
	}
}

// TestIsNoSpace classifies the ways a full disk reaches the agent.
func TestIsNoSpace(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"ENOSPC from a write", &os.PathError{Op: "write", Path: "egsd.db", Err: syscall.ENOSPC}, true},
		{"wrapped by the store", errors.Join(errors.New("commit"), &os.PathError{Op: "write", Path: "egsd.db", Err: syscall.ENOSPC}), true},
		{"formatted into bbolt's message", errors.New("file resize error: " + syscall.ENOSPC.Error()), true},
		{"another error", &os.PathError{Op: "write", Path: "egsd.db", Err: syscall.EIO}, false},
		{"nil", nil, false},
	} {
		if got := isNoSpace(tc.err); got != tc.want {
			t.Errorf("%s: isNoSpace(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}

// mountTmpfs mounts a tmpfs of size bytes on a fresh directory and
// unmounts it when the test ends. It needs root (CI runs as root).
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs to fill needs root; CI runs this test as root")
	}
	dir := filepath.Join(t.TempDir(), "disk")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount a tmpfs on %s: %v\n%s", dir, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v\n%s", dir, err, out)
		}
	})
	return dir
}

// fill writes name in dir until the disk is full, or, with leave > 0,
// until less than leave bytes are free.
func fill(t *testing.T, dir, name string, leave uint64) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		free, err := freeBytes(dir)
		if err != nil {
			t.Fatal(err)
		}
		if leave > 0 && free < leave {
			return
		}
		if _, err := f.Write(chunk); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return
			}
			t.Fatal(err)
		}
	}
}

// TestDiskFullOnTmpfs fills a real (small) disk under a running agent:
// below the threshold the unit warns and issues; once the disk is full a
// sale is answered 507 naming the data directory, nothing is stored and
// the status says why; once space is freed the same sale is issued, the
// incident closes and the journal checks clean (the harness checks it).
func TestDiskFullOnTmpfs(t *testing.T) {
	disk := mountTmpfs(t, "8m")
	data := filepath.Join(disk, "data")
	h := newHarness(t, func(c *Config) {
		c.DataDir = data
		c.Store.MinFreeBytes = 2 << 20
	})
	cashier := h.user("c1", RoleCashier)
	first := h.mustSale(cashier, "disk-1", goodSale)

	fill(t, disk, "filler-low", 1<<20)
	st := h.status(cashier)
	if st.State != StateDiskLow || !st.Issuing {
		t.Fatalf("below store.min_free_bytes: state %s (%s), issuing %v; want %s and issuing", st.State, st.StateDetail, st.Issuing, StateDiskLow)
	}
	h.mustSale(cashier, "disk-2", goodSale)

	fill(t, disk, "filler-full", 0)
	// The store may still commit into pages its file already holds: sales
	// go through until one needs the disk to grow.
	issued := first.Counter + 1
	refusedKey := ""
	for i := 3; i < 200 && refusedKey == ""; i++ {
		key := fmt.Sprintf("disk-%d", i)
		switch w := h.sale(cashier, key, goodSale); w.Code {
		case http.StatusCreated:
			issued++
		case http.StatusInsufficientStorage:
			refusedKey = key
		default:
			t.Fatalf("sale %s on a full disk = %d %s, want 201 or 507", key, w.Code, w.Body)
		}
	}
	if refusedKey == "" {
		t.Fatal("200 sales on a full disk all went through")
	}
	t.Logf("on the full disk, %d more sales went into pages the store file already held before %s was refused", issued-first.Counter-1, refusedKey)
	w := h.sale(cashier, refusedKey, goodSale)
	p := problemOf(t, w, http.StatusInsufficientStorage)
	if p.Type != problemInsufficientStorage || !strings.Contains(p.Detail, data) || !strings.Contains(p.Detail, "Free space") || !strings.Contains(p.Detail, "Idempotency-Key") {
		t.Errorf("507 problem %+v: want its type, the data directory and what to do", p)
	}
	st = h.status(cashier)
	if st.State != StateDiskFull || st.Issuing || !strings.Contains(st.StateDetail, data) {
		t.Errorf("disk full: state %s, issuing %v, detail %q; want %s, not issuing, naming %s", st.State, st.Issuing, st.StateDetail, StateDiskFull, data)
	}
	if n := h.openIncidents(incidentDiskSpace); n != 1 {
		t.Errorf("%d open disk_space incidents, want 1 (opened while space was low)", n)
	}
	if st.Counter != issued {
		t.Errorf("counter %d after the refused sales, want %d: nothing of them may be stored", st.Counter, issued)
	}

	for _, name := range []string{"filler-low", "filler-full"} {
		if err := os.Remove(filepath.Join(disk, name)); err != nil {
			t.Fatal(err)
		}
	}
	v := h.mustSale(cashier, refusedKey, goodSale)
	if v.Counter != issued+1 {
		t.Errorf("the refused sale, sent again after space returned, has counter %d, want %d", v.Counter, issued+1)
	}
	if st := h.status(cashier); st.State != StateReady {
		t.Errorf("space freed: state %s (%s), want ready", st.State, st.StateDetail)
	}
	if n := h.openIncidents(incidentDiskSpace); n != 0 {
		t.Errorf("%d disk_space incidents still open after space was freed", n)
	}
}

// TestDiskFullWithoutThreshold: with the warning off (min_free_bytes 0), a
// write that failed for lack of space still marks the disk full until a
// real amount of space returns, not as soon as a few bytes are free.
func TestDiskFullWithoutThreshold(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Store.MinFreeBytes = 0 })
	cashier := h.user("c1", RoleCashier)
	var free atomic.Uint64
	free.Store(8 << 10)
	h.fakeFree(&free)
	h.a.disk.noSpace(&os.PathError{Op: "write", Path: "egsd.db", Err: syscall.ENOSPC})
	if st := h.status(cashier); st.State != StateDiskFull || st.Issuing {
		t.Errorf("8 KiB free after a write failed for lack of space: state %s, issuing %v; want %s, not issuing", st.State, st.Issuing, StateDiskFull)
	}
	free.Store(diskRoom)
	if st := h.status(cashier); st.State != StateReady {
		t.Errorf("%d bytes free: state %s (%s), want ready", diskRoom, st.State, st.StateDetail)
	}
	if n := h.openIncidents(incidentDiskSpace); n != 0 {
		t.Errorf("%d disk_space incidents open after space returned", n)
	}
}
