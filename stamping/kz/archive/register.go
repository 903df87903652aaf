package archive

import (
	"errors"
	"fmt"

	"github.com/egsd/egsd/stamping"
	"github.com/egsd/egsd/stamping/keystore"
	"github.com/egsd/egsd/stamping/kz"
)

// The agent selects the Kazakh regime as [regime] name = "kz". It is
// registered here, with its signed archive, since this package builds on
// the regime's tickets and the regime cannot import it.
func init() {
	stamping.Register(kz.Name, func(cfg stamping.Config) (stamping.Regime, error) {
		r, err := NewRegime(cfg)
		if err != nil {
			return nil, err
		}
		return r, nil
	})
}

// NewRegime is the Kazakh regime of a unit with its signed archive: the
// archive key is loaded from the data directory, or created there at the
// unit's first start (an "archive_key_created" event, for the audit log,
// with the public key the records verify with).
func NewRegime(cfg stamping.Config) (*kz.Regime, error) {
	r, err := kz.NewRegime(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.DataDir == "" {
		return nil, errors.New("data_dir is required: the Kazakh regime keeps its archive key there")
	}
	path := KeyPath(cfg.DataDir)
	key, created, err := LoadOrCreateKey(path)
	if err != nil {
		// The error names the file and what to do; a new key is never
		// made in its place.
		return nil, fmt.Errorf("%w; the key is not replaced: the records signed so far verify only with it", err)
	}
	if created && cfg.Event != nil {
		cfg.Event("archive_key_created", map[string]string{"file": path, "key_name": KeyName(key.PublicKeyDER()),
			"public_key": string(PublicKeyPEM(key.PublicKeyDER()))})
	}
	s := r.Settings()
	r.KeepArchive(&Sealer{Unit: Unit{RNM: s.RNM, ZNM: s.ZNM, OFDID: s.KKMID, BIN: s.SellerTaxID}, Key: key})
	return r, nil
}

// Sealer seals the records of one unit with its archive key (the regime's
// kz.Archiver).
type Sealer struct {
	Unit Unit
	Key  *keystore.Key
}

// Seal builds and signs the record of ticket t with fiscalSign (empty for
// a ticket issued autonomously and not yet accepted), for the journal
// document counter with id uuid and stored bytes doc.
func (s *Sealer) Seal(t *kz.TicketRequest, fiscalSign string, counter uint64, uuid string, doc []byte) ([]byte, error) {
	return Seal(Facts{Unit: s.Unit, Ticket: t, FiscalSign: fiscalSign, Document: DocumentOf(counter, uuid, doc)}, s.Key)
}
