// Package cert parses the X.509 certificates that ZATCA issues to an EGS
// unit (CCSID and PCSID, spec/zatca.md §2.3, §2.6, §4.5, §5).
//
// Go's crypto/x509 rejects them with "x509: unsupported elliptic curve"
// because their key is on secp256k1 (spec/zatca.md §0 item 7, §4.5), so
// this package reads the DER by hand with cryptobyte. It exposes exactly
// what the invoice signature and the QR code need:
//
//   - IssuerName and SerialNumber (decimal) for xades:IssuerSerial, the
//     issuer printed most specific RDN first and joined with ", ", e.g.
//     "CN=PRZEINVOICESCA4-CA, DC=extgazt, DC=gov, DC=local" (§2.3);
//   - PublicKeyDER, the exact SubjectPublicKeyInfo bytes (QR tag 8, §3.2);
//   - Signature, the content of the signatureValue BIT STRING, a DER
//     ECDSA-Sig-Value (QR tag 9, §3.2);
//   - NotBefore and NotAfter, for the renewal reminder (§4.5);
//   - the subject and the subjectAltName directoryName attributes (EGS
//     serial, VAT number, invoice types, §2.6 and §4.2);
//   - Base64, the text that goes into ds:X509Certificate and is hashed for
//     CertDigest (§2.3).
//
// ZATCA hands certificates out as a "binary security token": base64 of the
// base64 DER text ([DecodeBinarySecurityToken], §4.3, §5). [ParseBase64]
// takes the once-decoded text, [ParsePEM] a PEM file and [Parse] DER.
//
// Parse checks structure only. It does not check validity dates, key
// usages or the chain; [Certificate.CheckSignature] checks the issuer's
// signature when the issuer's key is at hand.
//
// # Errors
//
// Malformed input gives an error wrapping [ErrMalformed] that says which
// part could not be read; no input makes Parse panic (FuzzParse).
package cert
