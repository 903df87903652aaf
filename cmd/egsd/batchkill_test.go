package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/egsd/egsd/stamping/sale"
)

// TestBatchSIGKILLAndRerun enters a paper log of 500 sales made during a
// unit failure with `egsd sale --batch`, kills the batch with SIGKILL
// halfway, runs it again and kills the agent with SIGKILL at three
// quarters, restarts the agent and runs the batch a third time: each sale
// is issued exactly once (two identical sales, twice), in
// transaction-time order although the file is not, each with its
// transaction time; the incident counts 500 late entries and closes.
func TestBatchSIGKILLAndRerun(t *testing.T) {
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	d := startDemo(t, data)
	env := cliEnv(tmp)
	if res := runEgsd(t, env, "login", "--api", d.url, "--user", "manager", "--password", "manager-demo"); res.Code != 0 {
		t.Fatalf("login: %s", res)
	}
	since := time.Now().Add(-3 * time.Hour).Truncate(time.Second)
	res := runEgsd(t, env, "incidents", "open", "--kind", "unit-failure", "--since", since.Format(time.RFC3339), "--cause", "power cut")
	m := regexp.MustCompile(`opened incident (\d+)`).FindStringSubmatch(res.Stdout)
	if res.Code != 0 || m == nil {
		t.Fatalf("incidents open: %s", res)
	}
	incident := m[1]

	// 498 distinct sales, written out of order, and two identical ones.
	const n = 500
	var file strings.Builder
	for i := range n - 2 {
		k := (i * 7) % (n - 2) // a permutation of 0…497
		fmt.Fprintf(&file, `{"kind":"invoice","transaction_time":%q,"lines":[{"name":"Paper sale %03d","quantity":"1","unit_price":"%d.00","vat_category":"S","vat_rate":"15"}],"payments":[{"means":"cash"}]}`+"\n",
			since.Add(time.Duration(k+1)*10*time.Second).Format(time.RFC3339), k, 1+k%9)
	}
	twin := fmt.Sprintf(`{"kind":"invoice","transaction_time":%q,"lines":[{"name":"Coffee","quantity":"1","unit_price":"3.00","vat_category":"S","vat_rate":"15"}]}`+"\n",
		since.Add(time.Hour).Format(time.RFC3339))
	file.WriteString(twin + twin)
	batch := filepath.Join(tmp, "paper-log.jsonl")
	if err := os.WriteFile(batch, []byte(file.String()), 0o600); err != nil {
		t.Fatal(err)
	}

	// The first run is killed once its progress shows half the sales done.
	var child *exec.Cmd
	killedAt, err := runBatchUntil(t, env, n/2, func(c *exec.Cmd) error { child = c; return c.Process.Signal(syscall.SIGKILL) },
		"sale", "--batch", batch, "--incident", incident)
	if ee, ok := err.(*exec.ExitError); !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL || child == nil {
		t.Fatalf("the first run was not killed halfway (progress %d): %v", killedAt, err)
	}
	// The second run loses the agent itself to SIGKILL at three quarters:
	// the sale in flight may be on disk without its answer.
	daemonKilledAt, err := runBatchUntil(t, env, 3*n/4, func(*exec.Cmd) error { d.kill(); return nil },
		"sale", "--batch", batch, "--incident", incident)
	if err == nil || daemonKilledAt < 3*n/4 {
		t.Fatalf("the second run went on after the agent was killed at %d: %v", daemonKilledAt, err)
	}
	d = startDemo(t, data)
	if res := runEgsd(t, env, "login", "--api", d.url, "--user", "manager", "--password", "manager-demo"); res.Code != 0 {
		t.Fatalf("login after the restart: %s", res)
	}

	res = runEgsd(t, env, "sale", "--batch", batch, "--incident", incident, "--complete")
	counts := regexp.MustCompile(`500 sales; issued (\d+), already issued earlier (\d+), refused 0`).FindStringSubmatch(res.Stdout)
	if res.Code != 0 || counts == nil {
		t.Fatalf("rerun: %s", res)
	}
	issued, earlier := atoi(t, counts[1]), atoi(t, counts[2])
	t.Logf("batch killed after %d sales, the agent after %d; the last run issued %d and found %d issued earlier", killedAt, daemonKilledAt, issued, earlier)
	if issued+earlier != n || earlier < daemonKilledAt || issued == 0 {
		t.Errorf("the last run issued %d and found %d issued earlier; the agent was killed after %d", issued, earlier, daemonKilledAt)
	}
	if !strings.Contains(res.Stdout, "closed incident "+incident+": 500 documents entered late") || !strings.Contains(res.Stderr, "500/500") {
		t.Errorf("rerun output lacks the closing or the progress:\n%s", res)
	}
	// A third run finds everything issued.
	if res := runEgsd(t, env, "sale", "--batch", batch, "--incident", incident); !strings.Contains(res.Stdout, "issued 0, already issued earlier 500") {
		t.Errorf("third run: %s", res)
	}
	d.stop()

	s := openStore(t, data)
	defer s.Close()
	if rep := checkStore(t, s); rep.Documents != n {
		t.Fatalf("%d documents in the journal, want %d", rep.Documents, n)
	}
	seen := map[string]int{}
	var last time.Time
	for _, r := range journal(t, s) {
		sl, err := sale.Decode(r.Sale, sale.Options{DefaultCurrency: "SAR"})
		if err != nil {
			t.Fatalf("document %d: %v", r.Counter, err)
		}
		if sl.Late == nil || strconv.FormatUint(sl.Late.Incident, 10) != incident {
			t.Fatalf("document %d is not a late entry for incident %s: %+v", r.Counter, incident, sl.Late)
		}
		if sl.Late.TransactionTime.Before(last) {
			t.Errorf("document %d was sold at %v, before the document issued ahead of it (%v)", r.Counter, sl.Late.TransactionTime, last)
		}
		last = sl.Late.TransactionTime
		seen[sl.Lines[0].Name]++
	}
	for k := range n - 2 {
		if name := fmt.Sprintf("Paper sale %03d", k); seen[name] != 1 {
			t.Errorf("%s issued %d times, want once", name, seen[name])
		}
	}
	if seen["Coffee"] != 2 {
		t.Errorf("the two identical sales were issued %d times, want twice", seen["Coffee"])
	}
	incs, err := s.Incidents(false, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, inc := range incs {
		if strconv.FormatUint(inc.ID, 10) == incident && (inc.Open() || inc.LateEntries != n) {
			t.Errorf("incident %s: open %v, %d late entries; want closed with %d", incident, inc.Open(), inc.LateEntries, n)
		}
	}
}

// runBatchUntil runs egsd with args (a batch) and calls stop once its
// progress shows at least atLeast sales done; it returns the progress at
// that point and how the run ended.
func runBatchUntil(t *testing.T, env []string, atLeast int, stop func(*exec.Cmd) error, args ...string) (int, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cliDeadline)
	defer cancel()
	cmd := exec.CommandContext(ctx, egsdBinary(t), args...)
	cmd.Env = env
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	sc.Split(scanProgress)
	progress := regexp.MustCompile(`\] (\d+)/\d+`)
	reached := 0
	for sc.Scan() {
		if m := progress.FindStringSubmatch(sc.Text()); m != nil && reached == 0 {
			if done := atoi(t, m[1]); done >= atLeast {
				if err := stop(cmd); err != nil {
					t.Fatal(err)
				}
				reached = done
			}
		}
	}
	return reached, cmd.Wait()
}

// scanProgress splits the batch's standard error at the carriage returns
// that redraw its progress line, and at line ends.
func scanProgress(data []byte, atEOF bool) (int, []byte, error) {
	for i, b := range data {
		if b == '\r' || b == '\n' {
			return i + 1, data[:i], nil
		}
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
