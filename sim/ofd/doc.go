// Package ofdsim is an OFD (fiscal data operator) simulator speaking the
// Kazakh KKM protocol 2.0.3 over TCP on loopback (spec/kz-ofd.md §3.8):
// registration data, a TOKEN rotated with every answer, the REQNUM/TOKEN
// rules with results 8 and 9 (a retry gets the stored answer again and
// registers nothing), fiscal signs, shifts whose Z report is checked
// against the tickets received, autonomous tickets accepted in order, and
// faults: latency, an answer dropped after processing, a reset before it,
// the service down, and chosen result codes. The zero value of Server is
// ready: Start it on "127.0.0.1:0".
package ofdsim
