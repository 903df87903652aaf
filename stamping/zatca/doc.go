// Package zatca is the ZATCA (Saudi Arabia) Phase 2 regime: UBL 2.1
// documents, C14N 1.1 invoice hash, XAdES signature, QR. Facts and sources:
// spec/zatca.md.
package zatca
