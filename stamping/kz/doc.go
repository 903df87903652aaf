// Package kz is the Kazakh regime's protocol layer: the online cash
// register (ККМ) talking to a fiscal data operator (ОФД) over the binary
// protocol 2.0.3 — an 18-byte little-endian header followed by a proto2
// payload — the session rules (TOKEN adopted from every response, REQNUM
// per request, retries byte for byte), the mapping of a regime-neutral
// sale to a TICKET with the VAT rate in force on the document's date, the
// X/Z report computed from the tickets of a shift, BIN/IIN validation and
// the consumer QR URL. Facts and sources: spec/kz-ofd.md (the wire) and
// spec/kazakhstan.md (rates, identifiers, receipt); the design as built:
// docs/kz.md.
//
// The package is pure apart from the TCP client: it keeps no storage. The
// caller persists the Session (TOKEN, REQNUM, the request in flight) and
// the shift totals, atomically with each result.
package kz
