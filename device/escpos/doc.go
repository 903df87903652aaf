// Package escpos turns a receipt into the ESC/POS bytes a thermal receipt
// printer understands, and reads back what the printer says about itself.
//
// # Encoder
//
// Encoder appends commands (text, alignment, size, code page, feed, cut,
// native QR with GS ( k, raster images with GS v 0, status requests) to one
// byte slice and remembers where each command ends, so that Chunks can hand
// a transport pieces that never split a command: a printer that receives
// half a command and then a real-time request mistakes the request for a
// parameter. The first bad parameter stops the encoder and is reported by
// Err; Bytes and Chunks then return nothing, so a half-built job never
// reaches the paper.
//
// # Status
//
// DecodeStatus reads the one-byte replies to DLE EOT n; IsTransmitStatusReply
// recognises the reply to GS r 1, the end-of-job marker that the printer
// answers only after everything before it has been processed.
//
// # Profiles and QR sizing
//
// A Profile holds what differs between printer models: paper width, code
// pages, whether GS ( k exists and how much it accepts, band height, cutter.
// PlanQR chooses, for one payload on one profile, native or raster QR and the
// largest module and strongest error correction whose symbol fits the paper;
// RasterQR renders a raster plan for Encoder.Raster.
package escpos
