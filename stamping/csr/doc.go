// Package csr builds the certificate signing request with which an EGS unit
// onboards to ZATCA (spec/zatca.md §4).
//
// Go's crypto/x509 cannot marshal a secp256k1 key (spec/zatca.md §4.5), so
// [Build] writes the PKCS#10 DER by hand with cryptobyte, in the layout of
// the SDK's CSRs (§4.2):
//
//	CertificationRequestInfo
//	  version 0
//	  subject  C (PrintableString), OU, O, CN (UTF8String), in that order
//	  subjectPKInfo  id-ecPublicKey, secp256k1, uncompressed point
//	  attributes [0]  PKCS#9 extensionRequest with two extensions:
//	    1.3.6.1.4.1.311.20.2  certificate template name, UTF8String:
//	                          TSTZATCA-Code-Signing (developer portal),
//	                          PREZATCA-Code-Signing (simulation),
//	                          ZATCA-Code-Signing (core, production)
//	    subjectAltName  one directoryName with, all UTF8String:
//	                    surname 2.5.4.4 = "1-<solution>|2-<model>|3-<serial>",
//	                    UID 0.9.2342.19200300.100.1.1 = VAT number,
//	                    title 2.5.4.12 = invoice types ("1100"),
//	                    registeredAddress 2.5.4.26 = branch location,
//	                    businessCategory 2.5.4.15 = industry
//	signatureAlgorithm ecdsa-with-SHA256
//	signature  by the stamping key over SHA-256 of the DER of the info
//
// Given the SDK's example configuration and the same public key, Build
// reproduces the SDK's CertificationRequestInfo byte for byte (the test
// against testkeys/csr_en1.pem).
//
// [PEM] wraps the DER as "CERTIFICATE REQUEST"; [APIBody] is the value of
// the "csr" field of the compliance CSID request: base64 of the whole PEM
// text (§4.3).
//
// # Errors
//
// [Request.Validate] (called by Build) reports every invalid field at once
// as [Errors], each [FieldError] naming the Go field and the SDK property
// (csr.common.name, ...). ZATCA rejects values longer than 64 characters
// since January 2026 with an unhelpful answer (§4.4), so Build refuses them
// here.
package csr
