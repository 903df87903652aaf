package testregime

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/egsd/egsd/stamping"
)

// Authority is an in-process authority for the numbered variant of
// test-remote ([regime.options] numbered = true): like KRA, it numbers the
// documents it accepts in a gap-free sequence the unit must follow, signs
// each accepted one, answers a resent number with the document it holds,
// and can be looked a number up at. It checks what a real authority would
// hold against the unit: a number out of sequence, a number reused for
// another document, and a document accepted twice are violations, which
// tests read. The zero value is not usable: call NewAuthority.
type Authority struct {
	mu       sync.Mutex
	next     uint64 // the number expected next
	byNumber map[uint64]accepted
	byUUID   map[string]uint64
	reject   map[uint64]string // issue counter → the refusal's message
	faults   Faults
	stats    AuthorityStats
	// violations are what the unit did that the authority must never see.
	violations []string
}

// Faults make the authority misbehave the way a real one does.
type Faults struct {
	// Down makes every request fail as if the authority were unreachable.
	Down bool
	// TimeoutAfterAccept loses the answer to the next that many
	// acceptances: the authority keeps the document, the unit sees a
	// timeout.
	TimeoutAfterAccept int
	// StaleLookup makes lookups find nothing, so that a resent number
	// reaches the authority again (it answers duplicate with the document
	// it holds).
	StaleLookup bool
}

// AuthorityStats count the requests the authority received.
type AuthorityStats struct {
	Sends      int // submissions, including refused ones
	Lookups    int
	Duplicates int // submissions of a number the authority held for the same document
}

type accepted struct {
	uuid   string
	answer []byte
}

// NewAuthority returns an authority expecting number 1.
func NewAuthority() *Authority {
	return &Authority{next: 1, byNumber: map[uint64]accepted{}, byUUID: map[string]uint64{}, reject: map[uint64]string{}}
}

var (
	authoritiesMu sync.Mutex
	authorities   = map[string]*Authority{}
)

// UseAuthority makes a the authority of the numbered regimes created with
// [regime.options] authority = name, until the returned function is
// called. Regimes created without the option get an authority of their own.
func UseAuthority(name string, a *Authority) (release func()) {
	authoritiesMu.Lock()
	defer authoritiesMu.Unlock()
	authorities[name] = a
	return func() {
		authoritiesMu.Lock()
		defer authoritiesMu.Unlock()
		delete(authorities, name)
	}
}

func authorityNamed(name string) (*Authority, error) {
	if name == "" {
		return NewAuthority(), nil
	}
	authoritiesMu.Lock()
	defer authoritiesMu.Unlock()
	if a := authorities[name]; a != nil {
		return a, nil
	}
	return nil, &stamping.OptionError{Option: "authority", Rule: fmt.Sprintf("no in-process authority is named %q", name)}
}

// SetFaults replaces the authority's faults.
func (a *Authority) SetFaults(f Faults) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.faults = f
}

// Reject makes the authority refuse the document issued as counter with
// message, every time it is sent.
func (a *Authority) Reject(counter uint64, message string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.reject[counter] = message
}

// Next is the number the authority expects next.
func (a *Authority) Next() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.next
}

// Accepted maps each number the authority accepted to the UUID of its
// document.
func (a *Authority) Accepted() map[uint64]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[uint64]string, len(a.byNumber))
	for n, d := range a.byNumber {
		out[n] = d.uuid
	}
	return out
}

// Violations are the unit's breaches of the sequence, in order.
func (a *Authority) Violations() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.violations...)
}

// Stats counts the requests received.
func (a *Authority) Stats() AuthorityStats {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.stats
}

// answer is the authority's signed answer, as the journal stores it.
type answer struct {
	Status    string `json:"status"` // accepted, duplicate, rejected
	Number    uint64 `json:"number,omitempty"`
	UUID      string `json:"uuid"`
	ReceiptNo uint64 `json:"receipt_no,omitempty"`
	SignedAt  string `json:"signed_at,omitempty"`
	Signature string `json:"signature,omitempty"`
	Message   string `json:"message,omitempty"`
	// OriginalNumber is, for a note, the number its original was
	// accepted under, as the unit sent it.
	OriginalNumber uint64 `json:"original_number,omitempty"`
}

var errUnreachable = stamping.Result{Outcome: stamping.Retryable, Messages: []string{"test authority unreachable"}}

// lookup answers what the authority holds under number n, if anything.
func (a *Authority) lookup(n uint64) ([]byte, string, bool, *stamping.Result) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.faults.Down {
		return nil, "", false, &errUnreachable
	}
	a.stats.Lookups++
	d, ok := a.byNumber[n]
	if !ok || a.faults.StaleLookup {
		return nil, "", false, nil
	}
	return d.answer, d.uuid, true, nil
}

// submit is the authority's handling of document doc (issued as counter)
// sent as number n.
func (a *Authority) submit(sub stamping.Submission, n uint64) stamping.Result {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.faults.Down {
		return errUnreachable
	}
	a.stats.Sends++
	uuid := sub.Slot.UUID
	if d, ok := a.byNumber[n]; ok {
		if d.uuid != uuid {
			a.violations = append(a.violations, fmt.Sprintf("number %d sent for document %s, but it is document %s's", n, uuid, d.uuid))
			return stamping.Result{Outcome: stamping.Retryable, Messages: []string{fmt.Sprintf("number %d is another document's", n)}}
		}
		a.stats.Duplicates++
		return stamping.Result{Outcome: stamping.Duplicate, Answer: d.answer, Messages: []string{fmt.Sprintf("number %d was accepted before", n)}}
	}
	if n != a.next {
		a.violations = append(a.violations, fmt.Sprintf("number %d sent for document %s while %d is expected (gap)", n, uuid, a.next))
		return stamping.Result{Outcome: stamping.Rejected, Messages: []string{fmt.Sprintf("number %d is out of sequence; %d is expected", n, a.next)}}
	}
	if msg, ok := a.reject[sub.Slot.Counter]; ok {
		body, err := json.Marshal(answer{Status: "rejected", UUID: uuid, Message: msg})
		if err != nil {
			return stamping.Result{Outcome: stamping.Retryable, Messages: []string{err.Error()}}
		}
		return stamping.Result{Outcome: stamping.Rejected, Answer: body, Messages: []string{msg}}
	}
	if m, ok := a.byUUID[uuid]; ok {
		a.violations = append(a.violations, fmt.Sprintf("document %s accepted as %d was sent again as %d", uuid, m, n))
	}
	mac := hmac.New(sha256.New, authorityKey)
	fmt.Fprintf(mac, "%d\n", n)
	mac.Write(sub.Document)
	body, err := json.Marshal(answer{Status: "accepted", Number: n, UUID: uuid, ReceiptNo: n,
		SignedAt: sub.Slot.IssuedAt.UTC().Add(time.Second).Format(time.RFC3339), Signature: base64.StdEncoding.EncodeToString(mac.Sum(nil)),
		OriginalNumber: sub.OriginalNumber})
	if err != nil {
		return stamping.Result{Outcome: stamping.Retryable, Messages: []string{err.Error()}}
	}
	a.byNumber[n] = accepted{uuid: uuid, answer: body}
	a.byUUID[uuid] = n
	a.next++
	if a.faults.TimeoutAfterAccept > 0 {
		a.faults.TimeoutAfterAccept--
		return stamping.Result{Outcome: stamping.Retryable, Messages: []string{"test authority: timeout awaiting the answer"}}
	}
	return stamping.Result{Outcome: stamping.Accepted, Answer: body}
}

// numbered is test-remote with numbered = true: it implements
// stamping.Numbered against an Authority.
type numbered struct {
	*regime
	auth *Authority
}

// SubmitNumbered sends sub as number n; a resend first looks n up and takes
// the answer the authority holds for this document.
func (r *numbered) SubmitNumbered(_ context.Context, sub stamping.Submission, n uint64, resend bool) stamping.Result {
	if resend {
		body, uuid, found, failed := r.auth.lookup(n)
		switch {
		case failed != nil:
			return *failed
		case found && uuid == sub.Slot.UUID:
			return stamping.Result{Outcome: stamping.Duplicate, Answer: body}
		case found:
			// The authority holds n for another document: the unit's
			// sequence is broken. Sending would be refused; keep the
			// number for the manager to see.
			return stamping.Result{Outcome: stamping.Retryable, Messages: []string{fmt.Sprintf("the authority holds number %d for document %s", n, uuid)}}
		}
	}
	return r.auth.submit(sub, n)
}

// Submit is never called for a numbered regime; it refuses rather than
// send a document without its number.
func (r *numbered) Submit(context.Context, stamping.Submission) stamping.Result {
	return stamping.Result{Outcome: stamping.Retryable, Messages: []string{"a numbered regime is submitted with SubmitNumbered"}}
}

// Signed reads the authority's signature out of an accepted answer.
func (r *numbered) Signed(body []byte) (stamping.ReceiptInfo, error) {
	var a answer
	if err := json.Unmarshal(body, &a); err != nil {
		return stamping.ReceiptInfo{}, fmt.Errorf("authority answer: %w", err)
	}
	if a.Number == 0 || a.Signature == "" {
		return stamping.ReceiptInfo{}, fmt.Errorf("authority answer: no number or signature (status %q)", a.Status)
	}
	return stamping.ReceiptInfo{
		Number:    fmt.Sprintf("AUTH/%d", a.Number),
		Title:     "Receipt (test regime, signed by the authority)",
		Timestamp: a.SignedAt,
		QR:        fmt.Sprintf("EGSD-TEST-AUTH|%d|%s|%s", a.Number, a.UUID, a.Signature),
	}, nil
}
