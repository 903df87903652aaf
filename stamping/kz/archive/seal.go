package archive

import (
	"bytes"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"

	"github.com/egsd/egsd/stamping/keystore"
)

// KeyFile is where a unit keeps its archive key, relative to its data
// directory: a secp256k1 key created on the unit at its first start,
// stored like every keystore key (PEM PKCS#8, mode 0600, in a 0700
// directory) and never exported.
const KeyFile = "kz/archive-key.pem"

// KeyPath is the archive key's file in dataDir.
func KeyPath(dataDir string) string { return filepath.Join(dataDir, filepath.FromSlash(KeyFile)) }

// LoadOrCreateKey loads the archive key at path, or creates it there when
// the file does not exist (created then reports it, for the audit log). A
// file that exists but cannot be used is an error: a new key would leave
// the records signed so far unverifiable with the key the unit keeps.
func LoadOrCreateKey(path string) (key *keystore.Key, created bool, err error) {
	key, err = keystore.Load(path)
	if errors.Is(err, fs.ErrNotExist) {
		key, err = keystore.Create(path)
		created = err == nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("archive key: %w", err)
	}
	return key, created, nil
}

// Seal builds the record of f and signs it with the unit's archive key:
// the bytes to store with the document (queue's Stamped.Archive at issue,
// Answer.Archive with the OFD's answer). f.Document is required.
func Seal(f Facts, key *keystore.Key) ([]byte, error) {
	if f.Document == (DocumentRef{}) {
		return nil, errors.New("archive: document is required: a stored record names its document")
	}
	if key == nil {
		return nil, errors.New("archive: seal: no key")
	}
	doc, err := Build(f)
	if err != nil {
		return nil, err
	}
	// Build's output is in its form: reading it back, as Sign does for
	// a record from elsewhere, would only double the work in the
	// transaction that stores it.
	return signChecked(doc, key)
}

// Matches reports whether the record belongs to the journal document
// counter with id uuid and the stored bytes doc, naming what differs.
func (r *Record) Matches(counter uint64, uuid string, doc []byte) error {
	d := r.Document
	if d == nil {
		return errors.New("the record names no document")
	}
	if d.Counter != strconv.FormatUint(counter, 10) {
		return fmt.Errorf("the record is of document %s, not of document %d", d.Counter, counter)
	}
	want := DocumentOf(counter, uuid, doc)
	if d.UUID != want.UUID {
		return fmt.Errorf("the record names document %d with UUID %s, the journal's has %s", counter, d.UUID, uuid)
	}
	if d.SHA256 != want.SHA256 {
		return fmt.Errorf("document %d's bytes are not the ones the record was signed for (SHA-256 %s, record says %s)", counter, want.SHA256, d.SHA256)
	}
	return nil
}

// PublicKeyFile is the name under which an export carries the public key
// its records verify with.
const PublicKeyFile = "archive-public-key.pem"

// PublicKeyPEM is a public key (DER SubjectPublicKeyInfo) as PEM "PUBLIC
// KEY", as openssl reads it.
func PublicKeyPEM(spkiDER []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spkiDER})
}

// ParsePublicKeyPEM reads a PEM "PUBLIC KEY" and returns its DER
// SubjectPublicKeyInfo, checked to be a secp256k1 key.
func ParsePublicKeyPEM(data []byte) ([]byte, error) {
	block, rest := pem.Decode(data)
	if block == nil || block.Type != "PUBLIC KEY" || len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("not a PEM PUBLIC KEY")
	}
	// Verifying nothing parses the key first: a key that cannot be read
	// says so, any key that can fails only on the empty signature.
	if err := keystore.VerifySHA256(block.Bytes, nil, nil); errors.Is(err, keystore.ErrMalformedPublicKey) {
		return nil, err
	}
	return block.Bytes, nil
}
