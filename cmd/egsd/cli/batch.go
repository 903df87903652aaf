package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/egsd/egsd/agent"
	"github.com/egsd/egsd/queue"
)

// maxBatchEntries and maxBatchBytes bound a batch file: a paper log is
// days of sales, not millions.
const (
	maxBatchEntries = 100000
	maxBatchBytes   = 256 << 20
)

// batchEntry is one sale of a batch file: its place in the file, the
// body sent to the agent, and its idempotency key.
type batchEntry struct {
	line int // 1-based line of the file where the sale starts
	when time.Time
	body []byte
	key  string
}

// batchOptions are the flags of `egsd sale --batch`.
type batchOptions struct {
	incident uint64
	complete bool
	summary  string
	every    int // print progress every this many sales (at least 1)
}

// runBatch enters the sales of a paper log kept while the unit could not
// issue: every sale is checked first (nothing is issued if one cannot be
// read), then issued in transaction-time order, each with a key derived
// from its content so that a rerun after a crash issues nothing twice.
func runBatch(ctx context.Context, io_ IO, c *client, path string, opts batchOptions) error {
	if fi, err := os.Stat(path); err == nil && fi.Size() > maxBatchBytes {
		return fmt.Errorf("%s is %d bytes, more than a paper log's %d: split it; nothing was issued", path, fi.Size(), maxBatchBytes)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read batch: %w", err)
	}
	entries, err := parseBatch(data, opts.incident)
	if err != nil {
		return fmt.Errorf("%s: %w; nothing was issued", path, err)
	}
	if len(entries) == 0 {
		return fmt.Errorf("%s holds no sales; nothing was issued", path)
	}
	slices.SortStableFunc(entries, func(a, b batchEntry) int { return a.when.Compare(b.when) })

	var issued, earlier int
	var refused []string
	width := 0
	for i, e := range entries {
		var doc agent.DocumentView
		resp, err := c.do(ctx, http.MethodPost, "/v1/sales", http.Header{"Idempotency-Key": {e.key}}, e.body, &doc)
		var ae *apiError
		switch {
		case errors.As(err, &ae) && !unitWide(ae):
			refused = append(refused, fmt.Sprintf("line %d: %s", e.line, refusalText(ae)))
		case err != nil:
			fmt.Fprintln(io_.Stderr)
			return fmt.Errorf("line %d: %w\n%d of %d sales were done before this one; run the same command again: it issues only what is missing", e.line, err, i, len(entries))
		case resp.Header.Get("Idempotent-Replayed") == "true":
			earlier++
		default:
			issued++
		}
		if done := i + 1; done%max(1, opts.every) == 0 || done == len(entries) {
			line := batchProgress(done, len(entries))
			fmt.Fprintf(io_.Stderr, "\r%-*s", width, line)
			width = len(line)
		}
	}
	fmt.Fprintln(io_.Stderr)
	fmt.Fprintf(io_.Stdout, "%s: %s; issued %d, already issued earlier %d, refused %d\n",
		path, plural(len(entries), "sale", "sales"), issued, earlier, len(refused))
	for _, r := range refused {
		fmt.Fprintf(io_.Stdout, "  %s\n", r)
	}
	if opts.incident != 0 {
		if err := printLateCount(ctx, io_, c, opts.incident); err != nil {
			return err
		}
	}
	if len(refused) > 0 {
		if opts.complete {
			fmt.Fprintf(io_.Stdout, "incident %d stays open: fix the refused lines and run the batch again\n", opts.incident)
		}
		return fmt.Errorf("%s refused; the rest were entered", plural(len(refused), "sale was", "sales were"))
	}
	if opts.complete {
		return closeIncident(ctx, io_, c, opts.incident, opts.summary)
	}
	return nil
}

// unitWide reports whether a refusal is about the unit or the user, not
// the one sale (no session, not a manager, the clock, an internal
// error): every later sale would meet it too, so the batch stops.
func unitWide(ae *apiError) bool {
	return ae.Status == http.StatusUnauthorized || ae.Status == http.StatusForbidden || ae.Status >= 500 ||
		ae.Problem.Type == "urn:egsd:problem:clock"
}

// batchProgress renders "[#####-----] 120/500".
func batchProgress(done, total int) string {
	const width = 30
	filled := min(width, done*width/max(1, total))
	return fmt.Sprintf("[%s%s] %d/%d", strings.Repeat("#", filled), strings.Repeat("-", width-filled), done, total)
}

// refusalText is a refused sale's problem on one line: its fields and
// rules, or its detail.
func refusalText(ae *apiError) string {
	if len(ae.Problem.Errors) == 0 {
		return ae.Error()
	}
	var parts []string
	for _, fe := range ae.Problem.Errors {
		parts = append(parts, fe.Error())
	}
	return strings.Join(parts, "; ")
}

// printLateCount says how many documents incident id counts as entered
// late.
func printLateCount(ctx context.Context, io_ IO, c *client, id uint64) error {
	var out struct {
		Incidents []queue.Incident `json:"incidents"`
	}
	if err := c.get(ctx, "/v1/incidents", &out); err != nil {
		return err
	}
	for _, inc := range out.Incidents {
		if inc.ID == id {
			fmt.Fprintf(io_.Stdout, "incident %d: %s entered late\n", id, plural(inc.LateEntries, "document", "documents"))
		}
	}
	return nil
}

// parseBatch reads a batch file: JSON lines (each line one sale as POST
// /v1/sales takes it, with transaction_time, and optionally line_id) or
// CSV with a header (batchCSVColumns). incident, when not 0, is set on
// every sale that names none. Every problem is reported with its line.
func parseBatch(data []byte, incident uint64) ([]batchEntry, error) {
	data = bytes.TrimPrefix(data, []byte("\ufeff")) // a byte order mark, as spreadsheets write
	if trimmed := bytes.TrimLeft(data, " \t\r\n"); len(trimmed) > 0 && trimmed[0] == '{' {
		return parseBatchJSONLines(data, incident)
	}
	return parseBatchCSV(data, incident)
}

func parseBatchJSONLines(data []byte, incident uint64) ([]batchEntry, error) {
	var entries []batchEntry
	var problems []string
	seen := map[[32]byte]int{} // identical sales so far: the key tells them apart
	for i, raw := range bytes.Split(data, []byte("\n")) {
		line := i + 1
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 {
			continue
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(raw, &fields); err != nil {
			problems = append(problems, fmt.Sprintf("line %d: not a JSON object: %v", line, err))
			continue
		}
		var id string
		if v, ok := fields["line_id"]; ok {
			if err := json.Unmarshal(v, &id); err != nil || !validLineID(id) {
				problems = append(problems, fmt.Sprintf("line %d: line_id: must be a string of 1 to 64 printable ASCII characters without spaces", line))
				continue
			}
			delete(fields, "line_id")
		}
		var when string
		if err := json.Unmarshal(fields["transaction_time"], &when); err != nil || when == "" {
			problems = append(problems, fmt.Sprintf("line %d: transaction_time: is required: when the sale was made (RFC 3339 with offset, such as \"2026-03-01T14:05:00+03:00\")", line))
			continue
		}
		t, err := time.Parse(time.RFC3339, when)
		if err != nil {
			problems = append(problems, fmt.Sprintf("line %d: transaction_time: %q must be an RFC 3339 time with its offset", line, when))
			continue
		}
		if _, named := fields["incident"]; !named && incident != 0 {
			fields["incident"] = json.RawMessage(strconv.FormatUint(incident, 10))
		}
		body, err := json.Marshal(fields)
		if err != nil {
			return nil, err
		}
		entries = append(entries, batchEntry{line: line, when: t, body: body, key: batchKey(id, body, seen)})
		if len(entries) > maxBatchEntries {
			return nil, fmt.Errorf("more than %d sales: split the file", maxBatchEntries)
		}
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "\n"))
	}
	return entries, nil
}

// batchCSVColumns are the columns of a CSV batch, named in its header in
// any order. Rows with the same line_id are the lines of one invoice.
// exemption_reason, seller_code and payment_means may be left out.
var batchCSVColumns = []string{"line_id", "transaction_time", "name", "quantity", "unit_price", "vat_category", "vat_rate",
	"exemption_reason", "seller_code", "payment_means"}

func parseBatchCSV(data []byte, incident uint64) ([]batchEntry, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = 0
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("not a JSON lines or CSV batch: %w", err)
	}
	col := map[string]int{}
	for i, name := range header {
		name = strings.TrimSpace(name)
		if !slices.Contains(batchCSVColumns, name) {
			return nil, fmt.Errorf("line 1: column %q is not one of %s", name, strings.Join(batchCSVColumns, ", "))
		}
		col[name] = i
	}
	for _, need := range []string{"line_id", "transaction_time", "name", "quantity", "unit_price", "vat_category"} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("line 1: the header needs the column %s (columns: %s)", need, strings.Join(batchCSVColumns, ", "))
		}
	}
	type invoice struct {
		line  int
		when  string
		means string
		lines []map[string]string
	}
	byID := map[string]*invoice{}
	var order []string
	var problems []string
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		line, _ := r.FieldPos(0)
		get := func(name string) string {
			if i, ok := col[name]; ok {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		id := get("line_id")
		if !validLineID(id) {
			problems = append(problems, fmt.Sprintf("line %d: line_id: must be 1 to 64 printable ASCII characters without spaces", line))
			continue
		}
		inv := byID[id]
		if inv == nil {
			inv = &invoice{line: line, when: get("transaction_time"), means: get("payment_means")}
			byID[id] = inv
			order = append(order, id)
			if len(order) > maxBatchEntries {
				return nil, fmt.Errorf("more than %d sales: split the file", maxBatchEntries)
			}
		} else if get("transaction_time") != inv.when {
			problems = append(problems, fmt.Sprintf("line %d: transaction_time: differs from line %d of the same line_id %q", line, inv.line, id))
			continue
		}
		l := map[string]string{"name": get("name"), "quantity": get("quantity"), "unit_price": get("unit_price"), "vat_category": get("vat_category")}
		for _, opt := range []string{"vat_rate", "exemption_reason", "seller_code"} {
			if v := get(opt); v != "" {
				l[opt] = v
			}
		}
		inv.lines = append(inv.lines, l)
	}
	var entries []batchEntry
	for _, id := range order {
		inv := byID[id]
		t, err := time.Parse(time.RFC3339, inv.when)
		if err != nil {
			problems = append(problems, fmt.Sprintf("line %d: transaction_time: %q must be an RFC 3339 time with its offset, such as \"2026-03-01T14:05:00+03:00\"", inv.line, inv.when))
			continue
		}
		s := map[string]any{"kind": "invoice", "transaction_time": inv.when, "lines": inv.lines}
		if inv.means != "" {
			s["payments"] = []map[string]string{{"means": inv.means}}
		}
		if incident != 0 {
			s["incident"] = incident
		}
		body, err := json.Marshal(s)
		if err != nil {
			return nil, err
		}
		entries = append(entries, batchEntry{line: inv.line, when: t, body: body, key: batchKey(id, body, nil)})
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "\n"))
	}
	return entries, nil
}

// batchKey is a batch sale's idempotency key: "late-" and its line_id
// when it has one, else a digest of the sale and how many identical sales
// came before it in the file (two coffees sold in the same minute are two
// sales). Neither depends on where the sale is in the file, so fixing or
// adding a line does not change the keys of the others.
func batchKey(id string, body []byte, seen map[[32]byte]int) string {
	if id != "" {
		return "late-" + id
	}
	sum := sha256.Sum256(body)
	n := seen[sum]
	seen[sum] = n + 1
	return fmt.Sprintf("late-%s-%d", hex.EncodeToString(sum[:20]), n)
}

// validLineID reports whether id can be part of an idempotency key.
func validLineID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

// closeIncident closes incident id (its late entry is complete) and says
// how many documents were entered late for it.
func closeIncident(ctx context.Context, io_ IO, c *client, id uint64, summary string) error {
	var inc queue.Incident
	if err := c.postJSON(ctx, "/v1/incidents/"+strconv.FormatUint(id, 10)+"/close", map[string]string{"summary": summary}, &inc); err != nil {
		return err
	}
	fmt.Fprintf(io_.Stdout, "closed incident %d: %s entered late. Notify the authority that the failure is resolved and record the reference: egsd incidents notify %d --reference REF\n",
		id, plural(inc.LateEntries, "document", "documents"), id)
	return nil
}
