// Package zatcasim is a simulator of ZATCA's e-invoicing ("Fatoora") API,
// faithful enough to onboard a real EGS unit and to report and clear the
// documents it stamps, with knobs to make it fail the way the real service
// does. It plays the part that testcontrol plays for Tailscale: tests mount
// a [Server] on httptest, `egsd sim zatca` serves it on a port for demos and
// technician training. Facts and sources are in spec/zatca.md; each
// modelled behaviour cites its section there.
//
// # Paths
//
// The handler serves ZATCA's three environments side by side under their
// real base paths (§5.1): a request path is split at "/e-invoicing/", so
// the base URL may carry any prefix before it:
//
//	<anything>/e-invoicing/developer-portal   sandbox; OTP 123345 always works
//	<anything>/e-invoicing/simulation
//	<anything>/e-invoicing/core
//
// Below the base URL are the endpoints of §5.3: POST /compliance, POST
// /compliance/invoices, POST and PATCH /production/csids, POST
// /invoices/reporting/single and POST /invoices/clearance/single. Each
// environment has its own CSIDs: credentials issued under one are refused
// (401) under another. The fault-injection and inspection endpoints are
// under "/admin/" at the root of the same handler (see [Server.ServeHTTP]).
//
// # What is modelled
//
//   - Onboarding (§4, §5.3): OTP header (6 digits; 123345 in the developer
//     portal, [Config.OTPs] or [Config.CheckOTP] elsewhere), the CSR
//     verified (self-signature, ZATCA's field rules including the 64
//     character limit of §4.4), compliance CSIDs, the compliance checks
//     that the CSR's invoice-type map requires before a production CSID,
//     production CSIDs with a new serial for the same key, and renewal.
//     Certificates are real X.509 (stamping/cert.Create), signed by the
//     simulator's own secp256k1 CA, with the CSR's subject and SAN;
//     binarySecurityToken is base64 of the base64 DER (§5.2).
//   - Submissions (§5.3–§5.5): Basic authentication with token:secret,
//     Accept-Version V2, the body's invoiceHash and uuid against the XML,
//     stamping/zatca.Verify (hash, signature, certificate and
//     SignedProperties digests, QR), the signing certificate against the
//     ones this simulator issued to the calling unit, the seller's VAT
//     number against the certificate, the invoice types the certificate
//     allows, reporting for simplified and clearance for standard
//     documents, BR-KSA-98 (reported more than 24 hours after issue), the
//     ICV/PIH chain per EGS unit (§6.9: a break is a warning, not an
//     error), and duplicates (409). Answers have ZATCA's shape (§5.4) and
//     status codes (200 PASS, 202 WARNING, 400 ERROR, 401, 406, 409, 303).
//   - Clearance returns clearedInvoice: the submitted XML re-stamped by
//     the simulator (see [Server.ServeHTTP]).
//   - Faults in the spirit of coredns erratic: latency, timeout after the
//     document was recorded, connection reset, 5xx/429 for the next N
//     requests or a percentage, 400 for chosen documents, clearance
//     deactivated (303), and the whole service down ([Faults]).
//
// # What is simplified
//
// No XSD or schematron validation: egsd checks its documents against
// ZATCA's own rules in its conformance tests (design.md §8). The
// cryptographic checks stop at the first problem zatca.Verify finds. Error
// codes that spec/zatca.md does not give are the simulator's own and are
// named so in [Server.ServeHTTP]. OTPs may be used many times. State is in
// memory only.
package zatcasim
