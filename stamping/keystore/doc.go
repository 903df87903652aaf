// Package keystore holds the device's stamping key: the secp256k1 key with
// which a ZATCA EGS unit signs every invoice (its "cryptographic stamp",
// spec/zatca.md §0 items 2 and 7, §2.5).
//
// The key is generated on the device by [Create], stored in the data
// directory with mode 0600, and read back by [Load]. It never leaves: there
// is no exported accessor for the private scalar, and [Key] prints, marshals
// and logs only as "keystore.Key(secp256k1, public 1a2b3c4d)", the first
// eight hex digits of SHA-256 of its public key (design.md invariant 6;
// ZATCA lists "export of stamping key" among prohibited functions).
//
// The agent keeps a second key of the same kind, the audit key, which
// signs checkpoints of its audit log; it is handled the same way.
//
// # Signatures
//
// [Key.SignSHA256] computes ECDSA over SHA-256 of its message and returns a
// DER ECDSA-Sig-Value. ZATCA's invoice SignatureValue is made over the 32 raw
// bytes of the invoice digest, so the digest is hashed a second time
// (spec/zatca.md §2.5); a CSR's signature is made over the DER of its
// CertificationRequestInfo (§4.2). Signing is deterministic (RFC 6979) and
// produces low-S signatures. [VerifySHA256] checks such a signature against
// a DER SubjectPublicKeyInfo, for example the one in the SDK certificate;
// it accepts high-S signatures too, as produced by the SDK.
//
// # Storage format
//
// The key file is PEM "PRIVATE KEY": PKCS#8 (RFC 5208) with algorithm
// id-ecPublicKey and named curve secp256k1 (1.3.132.0.10), wrapping a SEC1
// ECPrivateKey (RFC 5915) that carries the 32-byte scalar and the
// uncompressed public point. It is the layout OpenSSL writes and the one of
// the SDK test key, so `openssl pkey` reads it. [Parse] and [Load] also
// accept PEM "EC PRIVATE KEY" (SEC1), bare PKCS#8 or SEC1 DER, and SEC1 DER
// as base64 text without a header, which is how the ZATCA SDK writes its
// private keys (spec/zatca.md §4.3).
//
// # Public key
//
// [Key.PublicKeyDER] is the DER SubjectPublicKeyInfo with the uncompressed
// point: 88 bytes that begin 3056301006072a8648ce3d020106052b8104000a034200
// 04. It goes into the CSR and is QR tag 8 (spec/zatca.md §3.2).
//
// # Errors
//
// Errors never contain key material. See errors.go for the sentinels.
package keystore
