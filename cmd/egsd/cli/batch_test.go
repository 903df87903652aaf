package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestParseBatchCSV groups the rows of one line_id into one invoice with
// its lines, sets the incident, and keys each invoice by its line_id.
func TestParseBatchCSV(t *testing.T) {
	csv := "line_id,transaction_time,name,quantity,unit_price,vat_category,vat_rate,payment_means\n" +
		"p-2,2031-03-01T12:20:00+03:00,Tea,2,5.00,S,15,cash\n" +
		"p-1,2031-03-01T12:05:00+03:00,Coffee,1,3.00,S,15,card\n" +
		"p-2,2031-03-01T12:20:00+03:00,Cake,1,12.50,S,15,\n"
	entries, err := parseBatch([]byte("\ufeff"+csv), 4) // as a spreadsheet saves it
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 || entries[0].key != "late-p-2" || entries[1].key != "late-p-1" || entries[0].line != 2 {
		t.Fatalf("entries %+v", entries)
	}
	var s struct {
		Kind            string              `json:"kind"`
		TransactionTime string              `json:"transaction_time"`
		Incident        uint64              `json:"incident"`
		Lines           []map[string]string `json:"lines"`
		Payments        []map[string]string `json:"payments"`
	}
	if err := json.Unmarshal(entries[0].body, &s); err != nil {
		t.Fatal(err)
	}
	if s.Kind != "invoice" || s.TransactionTime != "2031-03-01T12:20:00+03:00" || s.Incident != 4 || len(s.Lines) != 2 ||
		s.Lines[1]["name"] != "Cake" || s.Lines[1]["unit_price"] != "12.50" || s.Payments[0]["means"] != "cash" {
		t.Errorf("sale p-2: %+v", s)
	}
}

// TestParseBatchRefusals names the line and the field of every problem,
// and returns no sales when there is one.
func TestParseBatchRefusals(t *testing.T) {
	for _, c := range []struct{ name, file, want string }{
		{"json without time", `{"kind":"invoice","lines":[]}`, "line 1: transaction_time: is required"},
		{"json time without offset", "\n" + `{"kind":"invoice","transaction_time":"2031-03-01T12:00:00","lines":[]}`, "line 2: transaction_time"},
		{"json not an object", `{"kind":"invoice","transaction_time":"2031-03-01T12:00:00Z","lines":[]}` + "\n{oops", "line 2: not a JSON object"},
		{"json line_id with a space", `{"line_id":"a b","transaction_time":"2031-03-01T12:00:00Z"}`, "line 1: line_id"},
		{"csv unknown column", "line_id,when\n", `column "when"`},
		{"csv missing column", "line_id,transaction_time,name\n", "needs the column quantity"},
		{"csv two times for one sale", "line_id,transaction_time,name,quantity,unit_price,vat_category\n" +
			"a,2031-03-01T12:00:00Z,Tea,1,1.00,S\na,2031-03-01T12:01:00Z,Tea,1,1.00,S\n", "line 3: transaction_time: differs from line 2"},
		{"csv bad time", "line_id,transaction_time,name,quantity,unit_price,vat_category\na,noon,Tea,1,1.00,S\n", "line 2: transaction_time"},
	} {
		t.Run(c.name, func(t *testing.T) {
			entries, err := parseBatch([]byte(c.file), 0)
			if err == nil || !strings.Contains(err.Error(), c.want) || entries != nil {
				t.Errorf("err = %v (%d entries), want %q and nothing", err, len(entries), c.want)
			}
		})
	}
}

// TestBatchKeys keys two identical JSON lines apart, keeps each key when
// another line is added before it, and drops line_id from the body.
func TestBatchKeys(t *testing.T) {
	sale := `{"kind":"invoice","transaction_time":"2031-03-01T12:00:00Z","lines":[{"name":"Coffee","quantity":"1","unit_price":"3.00","vat_category":"S","vat_rate":"15"}]}`
	other := `{"kind":"invoice","transaction_time":"2031-03-01T11:00:00Z","lines":[{"name":"Tea","quantity":"1","unit_price":"3.00","vat_category":"S","vat_rate":"15"}]}`
	first, err := parseBatch([]byte("\ufeff"+sale+"\n"+sale+"\n"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 2 || first[0].key == first[1].key {
		t.Fatalf("identical sales share a key: %+v", first)
	}
	again, err := parseBatch([]byte(other+"\n"+sale+"\n"+sale+"\n"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if again[1].key != first[0].key || again[2].key != first[1].key {
		t.Errorf("a line added before them changed their keys")
	}
	withID, err := parseBatch([]byte(`{"line_id":"till-3/0042",`+sale[1:]+"\n"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if withID[0].key != "late-till-3/0042" || strings.Contains(string(withID[0].body), "line_id") {
		t.Errorf("line_id: key %q, body %s", withID[0].key, withID[0].body)
	}
}

// TestBatchAndIncidentCommands opens a unit failure by hand, enters a
// CSV paper log for it (one line refused, named with its line), enters
// the corrected log and closes the incident; a cashier may not enter a
// batch.
func TestBatchAndIncidentCommands(t *testing.T) {
	_, _, env := startAgent(t)
	if _, _, err := run(t, env, "cashier-demo\n", "login", "--user", "cashier"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	since := time.Now().Add(-2 * time.Hour).Truncate(time.Second)
	at := func(d time.Duration) string { return since.Add(d).Format(time.RFC3339) }
	header := "line_id,transaction_time,name,quantity,unit_price,vat_category,vat_rate\n"
	good := header + "p-1," + at(time.Minute) + ",Tea,2,5.00,S,15\n" + "p-2," + at(2*time.Minute) + ",Cake,1,12.50,S,15\n"
	path := filepath.Join(dir, "log.csv")
	if err := os.WriteFile(path, []byte(good+"p-3,"+at(3*time.Minute)+",Bread,-1,2.00,S,15\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := run(t, env, "", "sale", "--batch", path); err == nil || !strings.Contains(err.Error(), "manager") {
		t.Errorf("a cashier's batch: %v, want a refusal saying a manager must enter it", err)
	}

	if _, _, err := run(t, env, "manager-demo\n", "login", "--user", "manager"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := run(t, env, "", "incidents", "open", "--kind", "outage", "--since", at(0)); err == nil || ExitCode(err) != 2 {
		t.Errorf("open --kind outage: %v, want a usage error", err)
	}
	out, _, err := run(t, env, "", "incidents", "open", "--kind", "unit-failure", "--since", since.Format(time.RFC3339), "--cause", "till would not boot")
	if err != nil || !strings.Contains(out, "opened incident 1") || !strings.Contains(out, "till would not boot") {
		t.Fatalf("incidents open: %q, %v", out, err)
	}
	if _, _, err := run(t, env, "", "sale", "--batch", path, "--complete"); err == nil || ExitCode(err) != 2 {
		t.Errorf("--complete without --incident: %v, want a usage error", err)
	}
	out, _, err = run(t, env, "", "sale", "--batch", path, "--incident", "1", "--complete")
	if err == nil || !strings.Contains(out, "issued 2, already issued earlier 0, refused 1") || !strings.Contains(out, "line 4: lines[0].quantity") ||
		!strings.Contains(out, "incident 1 stays open") || !strings.Contains(out, "incident 1: 2 documents entered late") {
		t.Fatalf("batch with a bad line: %q, %v", out, err)
	}
	if err := os.WriteFile(path, []byte(good+"p-3,"+at(3*time.Minute)+",Bread,1,2.00,S,15\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, err = run(t, env, "", "sale", "--batch", path, "--incident", "1", "--complete", "--summary", "paper log 1 entered")
	if err != nil || !strings.Contains(out, "issued 1, already issued earlier 2, refused 0") || !strings.Contains(out, "closed incident 1: 3 documents entered late") {
		t.Fatalf("corrected batch: %q, %v", out, err)
	}
	out, _, err = run(t, env, "", "incidents", "show", "1")
	if err != nil || !strings.Contains(out, "late entries 3") || !strings.Contains(out, "paper log 1 entered") {
		t.Errorf("incidents show 1: %q, %v", out, err)
	}
	if _, _, err := run(t, env, "", "incidents", "close", "1"); err == nil || !strings.Contains(err.Error(), "closed already") {
		t.Errorf("closing it again: %v", err)
	}
}
