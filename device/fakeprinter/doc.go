// Package fakeprinter is an ESC/POS receipt printer on a pseudo-terminal,
// for tests and the demo: the host opens Path as it would a serial printer.
// The printer interprets the byte stream independently of egsd's encoder,
// draws the paper (raster images, QR symbols, and text in Go Mono cells of
// Font A's size), keeps a transcript, answers status requests, and can be made to
// run out of paper, open its cover, vanish (Unplug) or stop reading.
//
// # Transcript
//
// Receipt.Text has one line per printed line or object, each ending in "\n":
//
//   - a text line, decoded with the ESC t code page (CP437 for 0,
//     Windows-1256 for 50 and 92, CP866 for 17, Windows-1251 for 46,
//     \xNN escapes otherwise), prefixed by
//     "[center] " or "[right] " when so aligned; "{bold}", "{2x2}",
//     "{fontB underline 1x2}", "{normal}" mark where the print mode changes
//     (a line starts in the normal mode). LF on an empty buffer is an empty
//     line. A line longer than the paper wraps, as on a printer;
//   - "[FEED n]" for ESC d n (after the buffered text line, if any);
//   - "[QR native model=2 module=4 ecc=M bytes=600]" for GS ( k fn 81;
//   - "[RASTER 576x128 m=0]" for GS v 0 (width in dots and rows as sent,
//     m as 0-3);
//   - " NOT PRINTED: reason" inside either mark when the symbol or image
//     did not print (wider than the paper, no data, too much data);
//   - "[CUT full]", "[CUT partial]", "[CUT partial feed=3]" for GS V, which
//     ends the receipt;
//   - "[UNKNOWN 0x1B 0x4A]" for bytes the printer does not know, and
//     "[INVALID …]" for known commands refused (parameter out of range, or
//     a start-of-line command arriving mid-line), where they occurred;
//   - "[PAPER LIMIT: …]" when one receipt is longer than a roll (640,000
//     rows, 80 m): the rest is in the transcript, not on the paper;
//   - "[PRINTER FAULT: reason]" when the interpreter itself failed (a
//     defect of the fake printer): the paper is torn off there (Cut false).
//
// Status commands, mode changes and NUL bytes leave no mark; Stats counts them.
//
// # Status
//
// DLE EOT n (1-4) is answered the moment the bytes arrive, even offline and
// even inside another command's data, as on a real printer. GS r 1 is
// answered 0x00 once everything before it has printed, and never while
// offline (paper out or cover open), when all received data is discarded.
// GS a n enables automatic status back: 4 bytes now and on each change.
// After a fault the printer is offline, discarding data, and DLE EOT 2
// reports an error (bit 6) once; then it is online again.
// QR symbols are re-encoded from the stored data with go-qrcode (always a
// model 2 symbol) at the stored module size and error correction.
package fakeprinter
