// Package etims is the Kenyan regime: KRA eTIMS through an Online Sales
// Control Unit (OSCU, KRA-hosted) or a Virtual Sales Control Unit (VSCU,
// KRA's JAR on the trader's LAN). The control unit signs: egsd sends each
// sale as KRA's TrnsSalesSaveWrReq and stores the answer (receipt
// numbers, internal data, receipt signature, the control unit's time),
// from which the receipt and its QR code are made. Facts and sources:
// spec/etims.md (§A2 paths, §A3 headers and dates, §A4 the request, the
// amounts and the code tables, §A5 the receipt, §A6 the QR, §A7 timeouts
// and replay); the design as built: docs/etims.md.
//
// The package is pure: it builds and reads KRA's JSON, classifies KRA's
// answers, talks to KRA over HTTP when asked, and keeps no storage. The
// invoice number KRA sees (invcNo) is gap-free and assigned at the first
// submission, not at issue: a stored document is a request template whose
// numbers are zero, and [Number] makes the request that is sent from it
// and the numbers the submission sequence ([Sequence]) assigned.
package etims
