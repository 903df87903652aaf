package etimssim

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/egsd/egsd/sim/simnet"
	"github.com/egsd/egsd/stamping/etims"
	"github.com/egsd/egsd/stamping/money"
)

// Faults are the failures the simulator injects: the ways the real
// service fails that a unit must survive (design.md §4, spec/etims.md
// §A7: congestion, lost answers, outages). Set them in Config.Faults,
// with Server.SetFaults or with POST /admin/faults. The zero value
// injects nothing.
//
// The knobs (simnet.Knobs) are latency, an HTTP status, timeouts, resets
// and down. Timeout faults process the request, so that a sale is
// recorded and signed, then withhold the answer until the client gives
// up: the client does not know, and must look the number up (§A7).
type Faults struct {
	simnet.Knobs
	// Operations limits the latency, status, timeout and reset faults to
	// these operations (etims.Operation names: init, code_list,
	// item_classes, save_item, save_sale, lookup); empty means every one.
	Operations []etims.Operation
	// Results answer a chosen result code (such as "910", "921", "999") to
	// the next sale with a chosen invcNo, once, instead of processing it.
	Results map[int64]string
}

func (f Faults) clone() Faults {
	f.Operations = slices.Clone(f.Operations)
	f.Results = maps.Clone(f.Results)
	return f
}

// Validate checks the knobs' ranges, the operations' names, and result
// codes of three digits for invcNo from 1.
func (f Faults) Validate() error {
	errs := []error{f.Knobs.Validate()}
	for _, op := range f.Operations {
		if !slices.Contains(etims.Operations, op) {
			errs = append(errs, fmt.Errorf("operation %q is not one of %s", op, operationNames()))
		}
	}
	for n, code := range f.Results {
		if n < 1 || len(code) != 3 || strings.Trim(code, "0123456789") != "" {
			errs = append(errs, fmt.Errorf("results: %d → %q; an invcNo from 1 and a result code of three digits", n, code))
		}
	}
	return errors.Join(errs...)
}

func operationNames() string {
	names := make([]string, len(etims.Operations))
	for i, op := range etims.Operations {
		names[i] = string(op)
	}
	return strings.Join(names, ", ")
}

// faultsJSON is the JSON form of Faults: durations as Go duration strings
// ("250ms"), keys in snake case, result codes by invcNo as a string key.
type faultsJSON struct {
	Operations     []etims.Operation `json:"operations"`
	Latency        string            `json:"latency"`
	Status         int               `json:"status"`
	StatusCount    int               `json:"status_count"`
	StatusPercent  int               `json:"status_percent"`
	TimeoutCount   int               `json:"timeout_count"`
	TimeoutPercent int               `json:"timeout_percent"`
	ResetCount     int               `json:"reset_count"`
	ResetPercent   int               `json:"reset_percent"`
	Down           bool              `json:"down"`
	Results        map[string]string `json:"results"`
}

// MarshalJSON writes the form POST /admin/faults takes, every key.
func (f Faults) MarshalJSON() ([]byte, error) {
	j := faultsJSON{Operations: f.Operations, Latency: f.Latency.String(), Status: f.Status, StatusCount: f.StatusCount,
		StatusPercent: f.StatusPercent, TimeoutCount: f.TimeoutCount, TimeoutPercent: f.TimeoutPercent,
		ResetCount: f.ResetCount, ResetPercent: f.ResetPercent, Down: f.Down, Results: map[string]string{}}
	if j.Operations == nil {
		j.Operations = []etims.Operation{}
	}
	for n, c := range f.Results {
		j.Results[strconv.FormatInt(n, 10)] = c
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads the form MarshalJSON writes, strictly: unknown
// keys, bad durations and bad invcNo are errors; keys left out are zero.
func (f *Faults) UnmarshalJSON(data []byte) error {
	var j faultsJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return err
	}
	out := Faults{Knobs: simnet.Knobs{Status: j.Status, StatusCount: j.StatusCount, StatusPercent: j.StatusPercent, TimeoutCount: j.TimeoutCount,
		TimeoutPercent: j.TimeoutPercent, ResetCount: j.ResetCount, ResetPercent: j.ResetPercent, Down: j.Down}}
	if len(j.Operations) > 0 {
		out.Operations = j.Operations
	}
	if j.Latency != "" {
		d, err := time.ParseDuration(j.Latency)
		if err != nil {
			return fmt.Errorf("latency: %w", err)
		}
		out.Latency = d
	}
	for k, c := range j.Results {
		n, err := strconv.ParseInt(k, 10, 64)
		if err != nil {
			return fmt.Errorf("results: %q is not an invcNo", k)
		}
		if out.Results == nil {
			out.Results = map[int64]string{}
		}
		out.Results[n] = c
	}
	*f = out
	return nil
}

// SetFaults replaces the faults in force (counts start afresh). It
// returns Validate's error and changes nothing then.
func (s *Server) SetFaults(f Faults) error {
	if err := f.Validate(); err != nil {
		return fmt.Errorf("etimssim: faults: %w", err)
	}
	s.init()
	s.mu.Lock()
	s.faults = f.clone()
	s.mu.Unlock()
	return nil
}

// CurrentFaults returns the faults in force, with the counts left.
func (s *Server) CurrentFaults() Faults {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults.clone()
}

// SetDown takes the whole service down (every API request gets a
// connection reset) or brings it back up, leaving the other faults alone.
func (s *Server) SetDown(down bool) {
	s.init()
	s.mu.Lock()
	s.faults.Down = down
	s.mu.Unlock()
}

// takeFaults decides the faults of one request to op and counts them
// down.
func (s *Server) takeFaults(op etims.Operation) simnet.Decision {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := &s.faults
	return f.Decide(len(f.Operations) == 0 || slices.Contains(f.Operations, op))
}

// forcedResultLocked takes the chosen result code for invcNo, once.
func (s *Server) forcedResultLocked(invcNo int64) (etims.Text, bool) {
	code, ok := s.faults.Results[invcNo]
	if ok {
		delete(s.faults.Results, invcNo)
	}
	return etims.Text(code), ok
}

// AddFlags registers the flags that set c for `egsd sim etims`:
// --profile, --reinitialise, --rate-b, --rate-e, and the faults: --latency,
// --fail-status, --fail-count, --fail-percent, --timeout-count,
// --timeout-percent, --reset-count, --reset-percent, --down,
// --result (invcNo=code, may repeat), --fault-operation (may repeat).
// Call c.Faults.Validate after parsing.
func (c *Config) AddFlags(fs *flag.FlagSet) {
	f := &c.Faults
	fs.Func("profile", "serve only this `profile`'s routes: oscu or vscu (default both)", func(v string) error {
		switch p := etims.Profile(v); p {
		case etims.OSCU, etims.VSCU:
			c.Profile = p
			return nil
		}
		return errors.New(`give "oscu" or "vscu"`)
	})
	fs.BoolVar(&c.Reinitialise, "reinitialise", c.Reinitialise, "let an initialised device initialise again (instead of KRA's 902)")
	rate := func(name string, dst *etims.Rates, band etims.Band) {
		fs.Func(name, "the rate of band "+band.String()+" in code class 04 (default "+etims.DefaultRates.Of(band).String()+")", func(v string) error {
			d, err := parseRate(v)
			if err != nil {
				return err
			}
			if dst.B.IsZero() && dst.E.IsZero() {
				*dst = etims.DefaultRates
			}
			if band == etims.BandB {
				dst.B = d
			} else {
				dst.E = d
			}
			return nil
		})
	}
	rate("rate-b", &c.Rates, etims.BandB)
	rate("rate-e", &c.Rates, etims.BandE)
	fs.DurationVar(&f.Latency, "latency", f.Latency, "delay every request by this `duration`")
	fs.IntVar(&f.Status, "fail-status", f.Status, "answer this HTTP `status` (500, 503, …) instead of processing")
	fs.IntVar(&f.StatusCount, "fail-count", f.StatusCount, "… for the next `n` requests only")
	fs.IntVar(&f.StatusPercent, "fail-percent", f.StatusPercent, "… for this `percent` of requests (with --fail-count 0)")
	fs.IntVar(&f.TimeoutCount, "timeout-count", f.TimeoutCount, "process, then never answer, the next `n` requests")
	fs.IntVar(&f.TimeoutPercent, "timeout-percent", f.TimeoutPercent, "… this `percent` of requests")
	fs.IntVar(&f.ResetCount, "reset-count", f.ResetCount, "reset the connection of the next `n` requests")
	fs.IntVar(&f.ResetPercent, "reset-percent", f.ResetPercent, "… of this `percent` of requests")
	fs.BoolVar(&f.Down, "down", f.Down, "start down: every request gets a connection reset (POST /admin/up to recover)")
	fs.Func("result", "answer `invcNo=code` (such as 5=910) to the next sale with that invcNo, once (may repeat)", func(v string) error {
		k, code, found := strings.Cut(v, "=")
		n, err := strconv.ParseInt(k, 10, 64)
		if !found || err != nil || n < 1 || len(code) != 3 || strings.Trim(code, "0123456789") != "" {
			return errors.New("give invcNo=code, such as 5=910")
		}
		if f.Results == nil {
			f.Results = map[int64]string{}
		}
		f.Results[n] = code
		return nil
	})
	fs.Func("fault-operation", "limit latency, status, timeout and reset faults to this `operation` (may repeat): "+operationNames(), func(v string) error {
		op := etims.Operation(v)
		if !slices.Contains(etims.Operations, op) {
			return fmt.Errorf("not one of %s", operationNames())
		}
		f.Operations = append(f.Operations, op)
		return nil
	})
}

// parseRate reads a band rate: a percentage above 0 and below 100.
func parseRate(v string) (money.Decimal, error) {
	d, err := money.Parse(v)
	if err != nil || d.Sign() <= 0 || money.Cmp(d, money.MustParse("100")) >= 0 || d.Scale > 2 {
		return money.Decimal{}, errors.New("a rate is a percentage above 0 and below 100, such as 16")
	}
	return d, nil
}
