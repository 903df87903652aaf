package keystore

import "errors"

var (
	// ErrExist is returned (wrapped, together with fs.ErrExist) by Create
	// when a file already exists at the key path. A stamping key is never
	// overwritten: the certificate issued for it would become useless.
	ErrExist = errors.New("stamping key already exists")

	// ErrInsecureMode is returned by Load when the key file can be read or
	// written by its group or by others. Fix it with chmod 600.
	ErrInsecureMode = errors.New("key file is accessible to group or others")

	// ErrMalformedKey is returned when a private key is not a well-formed
	// secp256k1 key in one of the accepted encodings. The error text says
	// which part is wrong but never shows the key's bytes.
	ErrMalformedKey = errors.New("malformed secp256k1 private key")

	// ErrMalformedPublicKey is returned by VerifySHA256 when the
	// SubjectPublicKeyInfo is not a secp256k1 public key.
	ErrMalformedPublicKey = errors.New("malformed secp256k1 public key")

	// ErrMalformedSignature is returned by VerifySHA256 when the signature
	// is not a DER ECDSA-Sig-Value.
	ErrMalformedSignature = errors.New("malformed ECDSA signature")

	// ErrVerification is returned by VerifySHA256 when a well-formed
	// signature does not match the message and public key.
	ErrVerification = errors.New("ECDSA signature does not verify")
)
