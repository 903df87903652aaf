package agent

import (
	"fmt"
	"strings"
	"time"

	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/stamping"
)

// The unit's identity: the configuration keys its chain of documents is
// bound to. A ZATCA unit's certificate carries the VAT number and the EGS
// serial, and ZATCA keeps one ICV/PIH chain per EGS unit (spec/zatca.md
// §6.9): documents of another taxpayer or another device cannot continue
// it. The seller's other details (name, address, CRN) may be corrected
// without changing who issues the documents, and are not part of it.
const (
	identityRegime = "regime.name"
	identityVAT    = "seller.vat_number"
	identitySerial = "device.serial"
)

// identity is what cfg issues documents under.
func (c Config) identity() map[string]string {
	return map[string]string{identityRegime: c.Regime.Name, identityVAT: c.Seller.VATNumber, identitySerial: c.Device.Serial}
}

// IdentityChangedError is returned by New when the configuration names
// another identity than the one the unit's chain is bound to. egsd does
// not start: a unit's documents cannot continue under another identity.
type IdentityChangedError struct {
	Mismatches []queue.IdentityMismatch
	BoundAt    time.Time
	BoundBy    string
	DataDir    string
}

func (e *IdentityChangedError) Error() string {
	var b strings.Builder
	b.WriteString("the configuration changes the identity this unit issues its documents under: ")
	for i, m := range e.Mismatches {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s is %q, but the unit's chain belongs to %q", m.Key, m.Given, m.Bound)
	}
	switch e.BoundBy {
	case "onboarding":
		fmt.Fprintf(&b, " (fixed when the unit was onboarded, %s)", e.BoundAt.UTC().Format(time.DateOnly))
	case "first_document":
		fmt.Fprintf(&b, " (fixed by its first document, %s)", e.BoundAt.UTC().Format(time.DateOnly))
	}
	back := make([]string, len(e.Mismatches))
	for i, m := range e.Mismatches {
		back[i] = fmt.Sprintf("%s back to %q", m.Key, m.Bound)
	}
	fmt.Fprintf(&b, ". A unit's chain cannot continue under another identity, so egsd did not start. Either set %s, "+
		"or, if the taxpayer or the device really changed, set up a new unit: a new data_dir instead of %s (users are added again; a ZATCA unit is onboarded with a new OTP). "+
		"Keep this data directory, and run it with its own configuration until its outbox is empty (egsd status), so that its documents reach the authority",
		strings.Join(back, " and "), e.DataDir)
	return b.String()
}

// checkIdentity refuses a configuration whose identity differs from the
// one the unit's chain is bound to, before anything is issued, and audits
// the refusal (once while it repeats: a service manager restarts egsd
// every few seconds). A store from before identities were recorded has
// only its regime to compare.
func (a *Agent) checkIdentity() error {
	ident, err := a.store.Identity()
	if err != nil {
		return err
	}
	m := ident.Mismatches(a.identity)
	if ident.Bound == nil && ident.Regime != "" && ident.Regime != a.cfg.Regime.Name {
		m = []queue.IdentityMismatch{{Key: identityRegime, Bound: ident.Regime, Given: a.cfg.Regime.Name}}
	}
	if len(m) == 0 {
		return nil
	}
	details := map[string]string{}
	for _, mm := range m {
		details[mm.Key] = fmt.Sprintf("configured %q, bound %q", mm.Given, mm.Bound)
	}
	if _, err := a.store.AuditUnlessRepeated(queue.AuditEntry{Actor: "system", Action: queue.AuditIdentity, Subject: "start_refused", Details: details}); err != nil {
		a.log.Error().Err(err).Msg("audit the refused start")
	}
	return &IdentityChangedError{Mismatches: m, BoundAt: ident.BoundAt, BoundBy: ident.BoundBy, DataDir: a.cfg.DataDir}
}

// bindIdentity fixes the identity of a unit whose chain was started before
// identities were recorded (it has issued documents, or was onboarded): to
// the configuration it runs with now, which the regime has accepted.
func (a *Agent) bindIdentity() error {
	ident, err := a.store.Identity()
	if err != nil || ident.Bound != nil {
		return err
	}
	onboarded := false
	if st, ok, err := a.OnboardingStatus(); err != nil {
		return err
	} else if ok {
		onboarded = st.State == stamping.OnboardingDone
	}
	if ident.Regime == "" && !onboarded {
		return nil // nothing issued, not onboarded: the first document binds it
	}
	return a.store.Update(func(tx *queue.Tx) error {
		return a.bindIn(tx, "upgrade")
	})
}

// bindIn binds the unit's identity in tx, with an audit entry, unless it
// is bound already.
func (a *Agent) bindIn(tx *queue.Tx, by string) error {
	ident, bound, err := tx.BindIdentity(a.identity, by)
	if err != nil || !bound {
		return err
	}
	details := map[string]string{"by": by}
	for k, v := range ident.Bound {
		details[k] = v
	}
	return tx.Audit(queue.AuditEntry{Actor: "system", Action: queue.AuditIdentity, Subject: "bound", Details: details})
}
