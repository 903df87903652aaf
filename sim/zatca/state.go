package zatcasim

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/egsd/egsd/stamping/cert"
	"github.com/egsd/egsd/stamping/csr"
)

// genesisPIH is the PIH of a unit's first document (spec/zatca.md §1.3).
const genesisPIH = "NWZlY2ViNjZmZmM4NmYzOGQ5NTI3ODZjNmQ2OTZjNzljMmRiYzIzOWRkNGU5MWI0NjcyOWQ3M2EyN2ZiNTdlOQ=="

// csid is one issued cryptographic stamp identifier: a certificate and
// the secret that goes with it (§5.3).
type csid struct {
	requestID  int64
	production bool
	env        csr.Environment
	token      string // binarySecurityToken, the Basic user name as issued
	secret     string
	cert       *cert.Certificate
	unit       *unit
	// passed are the document kinds whose compliance check passed with
	// this compliance CSID (§5.3).
	passed map[docKind]bool
	// replaced is set when a later production CSID of the same unit (a
	// renewal) took this one's place: its credentials are then refused.
	replaced bool
}

// unitKey identifies an EGS unit: the environment, the taxpayer's VAT
// number (SAN UID) and the unit's serial (SAN surname, §4.2). A renewed
// certificate, even for a new key, is the same unit and continues its
// chain (§6.9).
type unitKey struct {
	env      csr.Environment
	vat, egs string
}

// unit is what the simulator knows about one EGS unit.
type unit struct {
	key unitKey
	// slots are the chain slots seen (§6.9): every document of this unit
	// whose stamp verified, accepted or not, by ICV. A rejected document
	// keeps its slot.
	slots map[uint64][]slot
	// maxICV is the highest key of slots (0 while there is none), kept by
	// addSlotLocked so that checking a document does not walk every slot.
	maxICV uint64
	// accepted maps an invoice hash to its index in records.
	accepted map[string]int
	records  []Record
	csids    []*csid
}

type slot struct{ hash, pih, uuid string }

// Record is one document the simulator accepted (reported or cleared).
type Record struct {
	// Endpoint is EndpointReporting or EndpointClearance.
	Endpoint string `json:"endpoint"`
	// Hash is the invoice hash, recomputed by the simulator.
	Hash string `json:"hash"`
	UUID string `json:"uuid"`
	ICV  uint64 `json:"icv"`
	PIH  string `json:"pih"`
	// Kind is e.g. "simplified invoice" or "standard credit note".
	Kind string `json:"kind"`
	// Status is PASS or WARNING; Warnings are the warning codes.
	Status   string   `json:"status"`
	Warnings []string `json:"warnings,omitempty"`
	// RequestID is the requestID of the production CSID that submitted it.
	RequestID int64     `json:"request_id"`
	At        time.Time `json:"at"`
	// ClearedInvoice is the base64 clearedInvoice answered (clearance).
	ClearedInvoice string `json:"-"`
}

// Stats counts what the simulator did.
type Stats struct {
	Requests         int `json:"requests"`          // API requests, admin excluded
	Faults           int `json:"faults"`            // of them answered (or not) by a fault
	CSIDs            int `json:"csids"`             // certificates issued
	ComplianceChecks int `json:"compliance_checks"` // POST /compliance/invoices processed
	Reported         int `json:"reported"`
	Cleared          int `json:"cleared"`
	Rejected         int `json:"rejected"`   // reporting or clearance answered 400
	Duplicates       int `json:"duplicates"` // reporting or clearance answered 409 (or 208)
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// unitOfLocked returns the unit the CSID with token belongs to, or nil.
func (s *Server) unitOfLocked(token string) *unit {
	c := s.csids[token]
	if c == nil {
		return nil
	}
	return c.unit
}

// Accepted returns the documents accepted from the EGS unit that the CSID
// with binarySecurityToken token belongs to (under any of its
// certificates), in the order they were accepted; nil for an unknown
// token. The simulator never accepts the same invoice hash twice.
func (s *Server) Accepted(token string) []Record {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.unitOfLocked(token)
	if u == nil {
		return nil
	}
	return slices.Clone(u.records)
}

// ChainBreaks checks the whole ICV/PIH chain of the unit that the CSID
// with token belongs to, over every document whose stamp verified
// (accepted or rejected, §6.9), ordered by ICV: ICVs contiguous from the
// lowest seen, one document per ICV, each PIH the previous document's
// hash, and the genesis PIH for ICV 1. It returns one line per break, none
// for an unbroken chain or an unknown token.
func (s *Server) ChainBreaks(token string) []string {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.unitOfLocked(token); u != nil {
		return u.chainBreaksLocked()
	}
	return nil
}

func (u *unit) chainBreaksLocked() []string {
	icvs := make([]uint64, 0, len(u.slots))
	for icv := range u.slots {
		icvs = append(icvs, icv)
	}
	slices.Sort(icvs)
	var breaks []string
	for i, icv := range icvs {
		docs := u.slots[icv]
		if len(docs) > 1 {
			breaks = append(breaks, fmt.Sprintf("ICV %d is used by %d different documents", icv, len(docs)))
		}
		if icv == 1 && docs[0].pih != genesisPIH {
			breaks = append(breaks, fmt.Sprintf("ICV 1 (%s) has PIH %s, not the genesis PIH", docs[0].uuid, docs[0].pih))
		}
		if i == 0 {
			continue
		}
		prev := icvs[i-1]
		if icv != prev+1 {
			breaks = append(breaks, fmt.Sprintf("ICV %d follows ICV %d: %d missing", icv, prev, icv-prev-1))
			continue
		}
		if !chainsFrom(docs[0].pih, u.slots[prev]) {
			breaks = append(breaks, fmt.Sprintf("ICV %d (%s) has PIH %s, not the hash of ICV %d", icv, docs[0].uuid, docs[0].pih, prev))
		}
	}
	return breaks
}

func chainsFrom(pih string, prev []slot) bool {
	for _, p := range prev {
		if p.hash == pih {
			return true
		}
	}
	return false
}

// chainWarningsLocked checks one document against the slots seen so far
// (§6.9) and returns the warnings ZATCA would give: a break never rejects
// a document. Documents may arrive out of order (an earlier one retried
// after a timeout), so each neighbour is checked when it is known: the
// previous slot's hash must be this PIH, the next slot's PIH this hash. A
// gap after the highest ICV seen is a break; the first document seen with
// ICV above 1 is not, since the unit may have used slots the simulator
// never saw (compliance checks are not recorded, §5.3).
func (u *unit) chainWarningsLocked(icv uint64, pih, hash string) []message {
	var ws []message
	warn := func(code, format string, args ...any) {
		ws = append(ws, message{Type: "WARNING", Code: code, Category: "CHAIN_VALIDATION", Message: fmt.Sprintf(format, args...), Status: "WARNING"})
	}
	for _, d := range u.slots[icv] {
		if d.hash != hash {
			warn("icv-sequence", "ICV %d was already used by the document with UUID %s (§6.9: one chain per EGS unit, one document per ICV)", icv, d.uuid)
			break
		}
	}
	if icv == 1 && pih != genesisPIH {
		warn("pih-mismatch", "the first document (ICV 1) must carry the genesis PIH")
	}
	if prev, ok := u.slots[icv-1]; ok && icv > 1 && !chainsFrom(pih, prev) {
		warn("pih-mismatch", "PIH does not match the invoice hash of the document with ICV %d", icv-1)
	}
	if len(u.slots) > 0 && icv > u.maxICV+1 {
		warn("icv-sequence", "ICV %d follows ICV %d: the documents in between were not received", icv, u.maxICV)
	}
	if next, ok := u.slots[icv+1]; ok && next[0].pih != hash {
		warn("pih-mismatch", "the document with ICV %d, received earlier, does not chain from this one", icv+1)
	}
	return ws
}

// addSlotLocked records a verified document in the unit's chain.
func (u *unit) addSlotLocked(icv uint64, pih, hash, uuid string) {
	for _, d := range u.slots[icv] {
		if d.hash == hash {
			return
		}
	}
	u.slots[icv] = append(u.slots[icv], slot{hash: hash, pih: pih, uuid: uuid})
	u.maxICV = max(u.maxICV, icv)
}

// State is a snapshot of the simulator, as GET /admin/state answers it.
type State struct {
	Stats  Stats       `json:"stats"`
	Faults Faults      `json:"faults"`
	Units  []UnitState `json:"units"`
}

// UnitState is one EGS unit in State.
type UnitState struct {
	Environment string      `json:"environment"`
	VATNumber   string      `json:"vat_number"`
	EGSSerial   string      `json:"egs_serial"`
	CSIDs       []CSIDState `json:"csids"`
	Accepted    []Record    `json:"accepted"`
	ChainBreaks []string    `json:"chain_breaks"`
}

// CSIDState is one issued CSID in State; the secret is not shown.
type CSIDState struct {
	RequestID    int64     `json:"request_id"`
	Production   bool      `json:"production"`
	Serial       string    `json:"serial"`
	InvoiceTypes string    `json:"invoice_types"`
	NotAfter     time.Time `json:"not_after"`
	Replaced     bool      `json:"replaced,omitempty"`
	// Passed lists the document kinds whose compliance check passed.
	Passed []string `json:"passed,omitempty"`
}

// State returns a snapshot of counters, faults and units.
func (s *Server) State() State {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	st := State{Stats: s.stats, Faults: s.faults.clone(), Units: []UnitState{}}
	for _, u := range s.unitOrder {
		us := UnitState{Environment: u.key.env.String(), VATNumber: u.key.vat, EGSSerial: u.key.egs,
			Accepted: slices.Clone(u.records), ChainBreaks: u.chainBreaksLocked()}
		if us.Accepted == nil {
			us.Accepted = []Record{}
		}
		for _, c := range u.csids {
			cs := CSIDState{RequestID: c.requestID, Production: c.production, Serial: c.cert.SerialNumber.String(),
				InvoiceTypes: c.cert.SAN[cert.OIDTitle], NotAfter: c.cert.NotAfter, Replaced: c.replaced}
			for k := range c.passed {
				cs.Passed = append(cs.Passed, k.String())
			}
			sort.Strings(cs.Passed)
			us.CSIDs = append(us.CSIDs, cs)
		}
		st.Units = append(st.Units, us)
	}
	return st
}
