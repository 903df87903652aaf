package cert

import "errors"

var (
	// ErrMalformed is wrapped by every error about input that is not a
	// well-formed DER X.509 certificate in the expected encoding (PEM,
	// base64, binary security token).
	ErrMalformed = errors.New("malformed certificate")

	// ErrUnsupportedAlgorithm is returned by CheckSignature for a
	// certificate not signed with ecdsa-with-SHA256 or an issuer key that
	// is not an elliptic-curve key.
	ErrUnsupportedAlgorithm = errors.New("unsupported signature algorithm")
)
