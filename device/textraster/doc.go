// Package textraster turns lines of receipt text that the printer cannot set
// itself — Arabic, and Arabic mixed with Latin words and numbers; Russian
// and Kazakh Cyrillic and the tenge sign ₸ — into 1-bit images for ESC/POS
// raster printing.
//
// Receipt printers neither shape Arabic letters nor order bidirectional text,
// so the host does both: the Unicode Bidirectional Algorithm (UAX #9) orders
// the runs of a line, go-text's HarfBuzz port shapes each run with embedded
// Noto Sans Arabic (Arabic), Go (Latin, digits) and Noto Sans (Cyrillic, ₸,
// and the Latin and digits of a line that holds them) fonts, and the glyph
// outlines are rasterised and thresholded to black and white at the printer's
// dot size. Lines that only hold Latin-1 text are cheaper to print as text;
// NeedsRaster tells the two apart.
package textraster
