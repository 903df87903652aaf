package etims

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/egsd/egsd/stamping"
	"github.com/egsd/egsd/stamping/securefile"
)

// Onboarding is KRA's device initialisation (spec/etims.md §A3): one call,
// selectInitOsdcInfo with the PIN, the branch and the device serial,
// answers the communication key, the control unit's ID and the MRC
// number. KRA gives the key once (a second call answers 902), so the
// answer must not be lost between KRA and the device record:
//
//	not_started → key_received → done
//
// key_received is saved (the caller keeps the state in its store) before
// the device record is written; a crash in between resumes by writing the
// record from the state, without calling KRA again. Once the record is
// written the key leaves the state. A failed call is saved as failed,
// with KRA's code, its message and the technician's next step.

// The onboarding states of eTIMS between not_started and done.
const (
	OnboardingKeyReceived = "key_received"
	stepInit              = "init"
	stepInstall           = "install"
)

// onboardingState is the state the caller keeps. Received holds the key
// between KRA's answer and the device record.
type onboardingState struct {
	Received *deviceRecord `json:"received,omitempty"`
	Done     bool          `json:"done,omitempty"`
	Failure  *failure      `json:"failure,omitempty"`
}

type failure struct {
	Step     string    `json:"step"`
	Error    string    `json:"error"`
	Messages []string  `json:"messages,omitempty"`
	At       time.Time `json:"at"`
}

func parseOnboarding(state []byte) (onboardingState, error) {
	var st onboardingState
	if len(state) == 0 {
		return st, nil
	}
	if err := json.Unmarshal(state, &st); err != nil {
		return st, fmt.Errorf("etims: onboarding state: %w", err)
	}
	return st, nil
}

// Onboard initialises the unit with KRA, or resumes an initialisation,
// under the contract of stamping.Onboarder. KRA has no renewal: a device
// is initialised once, so a renewal, or a first onboarding of a unit that
// is initialised, is ErrOnboardingConflict; the OTP is not used.
func (r *Regime) Onboard(ctx context.Context, req stamping.OnboardRequest, state []byte, save func([]byte) error) error {
	st, err := parseOnboarding(state)
	if err != nil {
		return err
	}
	if req.Renew {
		return fmt.Errorf("%w: a KRA device is initialised once and has no renewal; its communication key does not expire", stamping.ErrOnboardingConflict)
	}
	if r.Ready() == nil {
		return fmt.Errorf("%w: this unit is initialised with KRA already (SCU ID %s); initialising again would get 902 from KRA", stamping.ErrOnboardingConflict, r.Device().SdcID)
	}
	persist := func(st onboardingState) error {
		b, err := json.Marshal(st)
		if err != nil {
			return err
		}
		if err := save(b); err != nil {
			return fmt.Errorf("etims: saving the onboarding state: %w", err)
		}
		return nil
	}
	fail := func(step string, cause error, messages []string) error {
		st.Failure = &failure{Step: step, Error: cause.Error(), Messages: messages, At: r.now()}
		serr := &stamping.OnboardingStepError{Step: step, Messages: messages, Err: cause}
		if perr := persist(st); perr != nil {
			serr.Err = errors.Join(cause, perr)
		}
		return serr
	}
	if st.Received == nil {
		c := r.client()
		info, _, err := c.Init(ctx, r.settings.DeviceSerial)
		if err != nil {
			var re *ResultError
			var msgs []string
			if errors.As(err, &re) {
				msgs = []string{fmt.Sprintf("KRA %s: %s", re.Code, re.Message)}
				if adv := Advice(re.Code); adv != "" {
					msgs = append(msgs, adv)
				}
			}
			return fail(stepInit, err, msgs)
		}
		st.Received = &deviceRecord{Tin: r.settings.Tin, BhfID: r.settings.BhfID, DeviceSerial: r.settings.DeviceSerial,
			DvcID: string(info.DvcID), SdcID: string(info.SdcID), MrcNo: string(info.MrcNo), CmcKey: string(info.CmcKey), InitialisedAt: r.now()}
		st.Failure = nil
		if err := persist(st); err != nil {
			return err
		}
	}
	if err := r.install(*st.Received); err != nil {
		return fail(stepInstall, err, nil)
	}
	if err := persist(onboardingState{Done: true}); err != nil {
		return err
	}
	// The unit's first code lists: a failure leaves the defaults in force
	// and the first submission fetches them.
	if err := r.RefreshCodes(ctx); err != nil {
		r.event("etims_codes_refresh_failed", map[string]string{"error": err.Error()})
	}
	return nil
}

// install writes the device record (0600, atomically) and puts it in use.
// A record already on disk for the same control unit is kept (a resumed
// run); one for another is an error, never replaced.
func (r *Regime) install(rec deviceRecord) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := securefile.Create(r.deviceFile, data); err != nil {
		if !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("writing the device record: %w", err)
		}
		old, rerr := os.ReadFile(r.deviceFile)
		var have deviceRecord
		if rerr != nil || json.Unmarshal(old, &have) != nil || have.SdcID != rec.SdcID || have.CmcKey != rec.CmcKey {
			return fmt.Errorf("%s holds another device record; move it away only if it is not this unit's", r.deviceFile)
		}
	}
	r.mu.Lock()
	r.device, r.key, r.initialised = Device{SdcID: rec.SdcID, MrcNo: rec.MrcNo}, CmcKey(rec.CmcKey), true
	r.mu.Unlock()
	r.event("etims_device_initialised", map[string]string{"sdc_id": rec.SdcID, "mrc_no": rec.MrcNo, "device_serial": rec.DeviceSerial})
	return nil
}

// OnboardingStatus describes an onboarding state without the key.
func (r *Regime) OnboardingStatus(state []byte, _ time.Time) stamping.OnboardingStatus {
	st, err := parseOnboarding(state)
	if err != nil {
		return stamping.OnboardingStatus{State: stamping.OnboardingFailed, LastError: err.Error(), Summary: "the onboarding state cannot be read"}
	}
	out := stamping.OnboardingStatus{State: stamping.OnboardingNotStarted, Step: stepInit,
		Summary: "not initialised with KRA: egsd onboard calls KRA's device initialisation"}
	if st.Received != nil {
		out = stamping.OnboardingStatus{State: OnboardingKeyReceived, Step: stepInstall, Completed: []string{OnboardingKeyReceived},
			Summary: "KRA answered the initialisation; the device record is written next"}
	}
	if st.Done || (r.Ready() == nil && st.Failure == nil) {
		return stamping.OnboardingStatus{State: stamping.OnboardingDone, Completed: []string{OnboardingKeyReceived, stamping.OnboardingDone},
			Summary: "initialised with KRA: SCU ID " + r.Device().SdcID}
	}
	if f := st.Failure; f != nil {
		out.State, out.Step, out.LastError, out.Messages, out.FailedAt = stamping.OnboardingFailed, f.Step, f.Error, f.Messages, f.At
		out.Summary = "the " + f.Step + " step failed; egsd onboard tries it again"
	}
	return out
}
