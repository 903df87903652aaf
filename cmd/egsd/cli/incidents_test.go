package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/egsd/egsd/queue"
)

// A manager lists the incidents, reads one, and records the reference of
// the notice filed with the authority; a technician may read them only.
func TestIncidentsCommand(t *testing.T) {
	a, _, env := startAgent(t)
	start := time.Date(2031, 3, 1, 9, 0, 0, 0, time.UTC)
	inc, err := a.Store().RaiseIncident(queue.Incident{Kind: "outage", Title: "Tax authority unreachable", Start: start,
		Detail: "documents cannot be delivered", Data: map[string]string{"counter_at_start": "41"}}, "system")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := run(t, env, "technician-demo\n", "login", "--user", "technician"); err != nil {
		t.Fatal(err)
	}
	out, _, err := run(t, env, "", "incidents", "list")
	if err != nil || !strings.Contains(out, "outage") || !strings.Contains(out, "Tax authority unreachable") || !strings.Contains(out, "open") {
		t.Fatalf("incidents list: %q, %v", out, err)
	}
	_, _, err = run(t, env, "", "incidents", "notify", "1", "--reference", "ZATCA-42")
	if err == nil || !strings.Contains(err.Error(), "role technician may not") {
		t.Errorf("technician recording a notice: %v, want 403", err)
	}

	if _, _, err := run(t, env, "manager-demo\n", "login", "--user", "manager"); err != nil {
		t.Fatal(err)
	}
	if out, _, err := run(t, env, "", "status"); err != nil || !strings.Contains(out, "no notice recorded: egsd incidents notify 1 --reference REF") {
		t.Errorf("status with an incident without a notice: %q, %v", out, err)
	}
	out, _, err = run(t, env, "", "incidents", "show", "1")
	if err != nil || !strings.Contains(out, "documents cannot be delivered") || !strings.Contains(out, "counter_at_start") ||
		!strings.Contains(out, "egsd incidents notify 1 --reference REF") {
		t.Fatalf("incidents show 1: %q, %v", out, err)
	}
	if _, _, err := run(t, env, "", "incidents", "notify", "1"); err == nil || ExitCode(err) != 2 || !strings.Contains(err.Error(), "--reference") {
		t.Errorf("notify without a reference: %v, want a usage error naming --reference", err)
	}
	// Flags may follow the ID.
	out, _, err = run(t, env, "", "incidents", "notify", "1", "--reference", " ZATCA-42 ")
	if err != nil || !strings.Contains(out, `recorded notice "ZATCA-42" on incident 1`) || !strings.Contains(out, "notice       ZATCA-42 (by manager") {
		t.Fatalf("incidents notify: %q, %v", out, err)
	}
	got, err := a.Store().Incidents(false, 10)
	if err != nil || len(got) != 1 || len(got[0].Notified) != 1 || got[0].Notified[0].Reference != "ZATCA-42" || got[0].Notified[0].By != "manager" {
		t.Errorf("stored incident = %+v, %v", got, err)
	}

	if err := a.Store().CloseIncident(inc.ID, "authority reachable again", "system"); err != nil {
		t.Fatal(err)
	}
	if out, _, err := run(t, env, "", "incidents", "list"); err != nil || !strings.Contains(out, "no open incidents") {
		t.Errorf("list after closing: %q, %v", out, err)
	}
	if out, _, err := run(t, env, "", "incidents", "list", "--all"); err != nil || !strings.Contains(out, "Tax authority unreachable") || strings.Contains(out, " open ") {
		t.Errorf("list --all: %q, %v", out, err)
	}
	if _, _, err := run(t, env, "", "incidents", "show", "99"); err == nil || !strings.Contains(err.Error(), "no incident 99") {
		t.Errorf("show 99: %v", err)
	}
	for _, args := range [][]string{{"incidents"}, {"incidents", "frob"}, {"incidents", "show"}, {"incidents", "show", "x"}, {"incidents", "list", "3"}} {
		if _, _, err := run(t, env, "", args...); err == nil || ExitCode(err) != 2 {
			t.Errorf("egsd %v: %v, want a usage error", args, err)
		}
	}
}
