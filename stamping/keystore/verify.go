package keystore

import (
	"crypto/sha256"
	"fmt"

	"github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
)

// VerifySHA256 checks that derSig, a DER ECDSA-Sig-Value, is a valid
// signature over SHA-256(msg) by the secp256k1 key in spkiDER, a DER
// SubjectPublicKeyInfo. It returns nil on success, an error wrapping
// ErrVerification when the signature does not match, and one wrapping
// ErrMalformedPublicKey or ErrMalformedSignature when an input cannot be
// parsed. High-S signatures are accepted.
//
// To check an SDK invoice signature, msg is the base64-decoded DigestValue
// and derSig the base64-decoded SignatureValue (spec/zatca.md §2.5).
func VerifySHA256(spkiDER, msg, derSig []byte) error {
	pub, err := parseSPKI(spkiDER)
	if err != nil {
		return fmt.Errorf("keystore: verify: %w", err)
	}
	sig, err := ecdsa.ParseDERSignature(derSig)
	if err != nil {
		return fmt.Errorf("keystore: verify: %w: %v", ErrMalformedSignature, err)
	}
	h := sha256.Sum256(msg)
	if !sig.Verify(h[:], pub) {
		return fmt.Errorf("keystore: verify: %w", ErrVerification)
	}
	return nil
}
