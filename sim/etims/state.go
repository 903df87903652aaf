package etimssim

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/egsd/egsd/stamping/etims"
)

// unitKey identifies a device: its profile, the taxpayer's PIN and the
// branch.
type unitKey struct {
	profile  etims.Profile
	tin, bhf string
}

// unit is what the simulator knows about one initialised device.
type unit struct {
	key    unitKey
	serial string
	cmcKey string
	dvcID  string
	sdcID  string
	mrcNo  string
	secret []byte // signs its receipts
	items  map[string]etims.ItemRequest
	sales  map[int64]*Sale
	order  []int64 // invcNo in the order received
	last   int64   // the highest invcNo received
	// receipts counts receipts by type (S, R); total all of them.
	receipts map[string]int64
	total    int64
	breaks   []string
	findings []string
}

// Sale is one sale or credit note the simulator accepted.
type Sale struct {
	InvcNo    int64  `json:"invc_no"`
	OrgInvcNo int64  `json:"org_invc_no,omitempty"`
	RcptTyCd  string `json:"rcpt_ty_cd"`
	TrdInvcNo string `json:"trd_invc_no"`
	CustTin   string `json:"cust_tin,omitempty"`
	TotAmt    string `json:"tot_amt"`
	CfmDt     string `json:"cfm_dt"`
	// The signature the control unit gave.
	CurRcptNo   int64     `json:"cur_rcpt_no"`
	TotRcptNo   int64     `json:"tot_rcpt_no"`
	IntrlData   string    `json:"intrl_data"`
	RcptSign    string    `json:"rcpt_sign"`
	SdcDateTime time.Time `json:"sdc_date_time"`
	// Request is the body as received.
	Request []byte `json:"-"`
	req     *etims.SaleRequest
}

// Signature is the sale's signature as etims.DecodeSignature reads it.
func (s *Sale) Signature() etims.Signature {
	return etims.Signature{InvcNo: s.InvcNo, CurRcptNo: s.CurRcptNo, TotRcptNo: s.TotRcptNo, IntrlData: s.IntrlData,
		RcptSign: s.RcptSign, SdcDateTime: s.SdcDateTime}
}

// Stats counts what the simulator did.
type Stats struct {
	Requests    int `json:"requests"` // API requests, admin excluded
	Faults      int `json:"faults"`   // of them answered (or not) by a fault
	Initialised int `json:"initialised"`
	Items       int `json:"items"`      // saveItem calls accepted
	Sales       int `json:"sales"`      // sales and credit notes accepted
	Duplicates  int `json:"duplicates"` // 994 answers
	Refused     int `json:"refused"`    // sales answered another code than 000 or 994
	Lookups     int `json:"lookups"`
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

func (s *Server) unitLocked(p etims.Profile, tin, bhf string) *unit {
	return s.units[unitKey{p, tin, bhf}]
}

// Sales returns the sales and credit notes accepted from a device, in
// the order received; nil for an unknown device.
func (s *Server) Sales(p etims.Profile, tin, bhf string) []Sale {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.unitLocked(p, tin, bhf)
	if u == nil {
		return nil
	}
	out := make([]Sale, 0, len(u.order))
	for _, n := range u.order {
		out = append(out, *u.sales[n])
	}
	return out
}

// Sale returns the sale a device sent as invcNo.
func (s *Server) Sale(p etims.Profile, tin, bhf string, invcNo int64) (Sale, bool) {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.unitLocked(p, tin, bhf); u != nil {
		if sale, ok := u.sales[invcNo]; ok {
			return *sale, true
		}
	}
	return Sale{}, false
}

// Breaks lists the breaks in a device's invcNo sequence, one line each: a
// number received after a higher one, or past a gap. It checks the
// numbers received so far: 1, 2, 3, … with none missing.
func (s *Server) Breaks(p etims.Profile, tin, bhf string) []string {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.unitLocked(p, tin, bhf)
	if u == nil {
		return nil
	}
	return u.breaksLocked()
}

func (u *unit) breaksLocked() []string {
	out := slices.Clone(u.breaks)
	nums := slices.Sorted(func(yield func(int64) bool) {
		for n := range u.sales {
			if !yield(n) {
				return
			}
		}
	})
	for i, n := range nums {
		if want := int64(i + 1); n != want {
			out = append(out, fmt.Sprintf("invcNo %d is missing (the numbers received are not 1 to %d)", want, len(nums)))
			break
		}
	}
	return out
}

// Findings lists what KRA does not check but the certified integration
// does (spec/etims.md §A4.1): credit notes with another buyer PIN than
// their original's, above its amount, or dated before it.
func (s *Server) Findings(p etims.Profile, tin, bhf string) []string {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.unitLocked(p, tin, bhf); u != nil {
		return slices.Clone(u.findings)
	}
	return nil
}

// Items returns the item codes a device registered.
func (s *Server) Items(p etims.Profile, tin, bhf string) []string {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.unitLocked(p, tin, bhf)
	if u == nil {
		return nil
	}
	return slices.Sorted(func(yield func(string) bool) {
		for c := range u.items {
			if !yield(c) {
				return
			}
		}
	})
}

// newUnitLocked initialises a device.
func (s *Server) newUnitLocked(k unitKey, serial string) *unit {
	s.devices++
	n := s.devices
	u := &unit{key: k, serial: serial, cmcKey: randomHex(16), dvcID: fmt.Sprintf("99999%011d", n),
		sdcID: fmt.Sprintf("KRACU%010d", 100000000+n), mrcNo: fmt.Sprintf("WIS%08d", n),
		secret: []byte(randomHex(32)), items: map[string]etims.ItemRequest{}, sales: map[int64]*Sale{}, receipts: map[string]int64{}}
	s.units[k] = u
	s.order = append(s.order, u)
	if k.profile == etims.OSCU {
		s.byKey[u.cmcKey] = u
	}
	s.stats.Initialised++
	return u
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

var base32NoPad = base32.StdEncoding.WithPadding(base32.NoPadding)

// sign is the device's receipt signature of a sale: internal data of 26
// characters and a signature of 16, in the alphabet KRA's have (A–Z, 2–7),
// from an HMAC of the request under the device's secret.
func (u *unit) sign(invcNo int64, body []byte) (intrl, sign string) {
	mac := func(label string) string {
		m := hmac.New(sha256.New, u.secret)
		m.Write([]byte(label + "\x00" + strconv.FormatInt(invcNo, 10) + "\x00"))
		m.Write(body)
		return base32NoPad.EncodeToString(m.Sum(nil))
	}
	return mac("intrl")[:26], mac("sign")[:16]
}

// State is a snapshot of the simulator, as GET /admin/state answers it.
type State struct {
	Stats  Stats       `json:"stats"`
	Faults Faults      `json:"faults"`
	Units  []UnitState `json:"units"`
}

// UnitState is one device in State; its key and secret are not shown.
type UnitState struct {
	Profile  etims.Profile `json:"profile"`
	Tin      string        `json:"tin"`
	BhfID    string        `json:"bhf_id"`
	Serial   string        `json:"serial"`
	SdcID    string        `json:"sdc_id"`
	MrcNo    string        `json:"mrc_no"`
	Items    int           `json:"items"`
	Sales    []Sale        `json:"sales"`
	Breaks   []string      `json:"breaks"`
	Findings []string      `json:"findings"`
}

// State returns a snapshot of counters, faults and devices.
func (s *Server) State() State {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	st := State{Stats: s.stats, Faults: s.faults.clone(), Units: []UnitState{}}
	for _, u := range s.order {
		us := UnitState{Profile: u.key.profile, Tin: u.key.tin, BhfID: u.key.bhf, Serial: u.serial, SdcID: u.sdcID, MrcNo: u.mrcNo,
			Items: len(u.items), Sales: []Sale{}, Breaks: u.breaksLocked(), Findings: slices.Clone(u.findings)}
		for _, n := range u.order {
			us.Sales = append(us.Sales, *u.sales[n])
		}
		st.Units = append(st.Units, us)
	}
	return st
}
