package fakeprinter

import (
	"bytes"
	"encoding/base64"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/skip2/go-qrcode"
	"golang.org/x/text/encoding/charmap"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// ESC/POS bytes, written out from spec/escpos.md §1 so that the printer is
// checked against the spec rather than against egsd's encoder.
var (
	escInit    = []byte{0x1B, 0x40}
	gsR1       = []byte{0x1D, 0x72, 0x01}
	cutPartial = []byte{0x1D, 0x56, 0x01}
	cutFull    = []byte{0x1D, 0x56, 0x00}
)

func esc(c byte, n ...byte) []byte { return append([]byte{0x1B, c}, n...) }
func gs(c byte, n ...byte) []byte  { return append([]byte{0x1D, c}, n...) }
func dleEOT(n byte) []byte         { return []byte{0x10, 0x04, n} }

// qrFn is GS ( k pL pH cn=49 fn params.
func qrFn(fn byte, params ...byte) []byte {
	n := len(params) + 2
	return append([]byte{0x1D, 0x28, 0x6B, byte(n), byte(n >> 8), 49, fn}, params...)
}

// nativeQR selects model 2, the module size and ECC (48-51), stores data and prints it.
func nativeQR(data string, module, ecc byte) []byte {
	var b []byte
	b = append(b, qrFn(65, 50, 0)...)
	b = append(b, qrFn(67, module)...)
	b = append(b, qrFn(69, ecc)...)
	b = append(b, qrFn(80, append([]byte{48}, data...)...)...)
	b = append(b, qrFn(81, 48)...)
	return b
}

// rasterBytes packs a bitmap into GS v 0 m xL xH yL yH d1…dk, most
// significant bit leftmost, 1 black.
func rasterBytes(m byte, bitmap [][]bool) []byte {
	xBytes := (len(bitmap[0]) + 7) / 8
	rows := len(bitmap)
	b := []byte{0x1D, 0x76, 0x30, m, byte(xBytes), byte(xBytes >> 8), byte(rows), byte(rows >> 8)}
	for _, row := range bitmap {
		line := make([]byte, xBytes)
		for x, dark := range row {
			if dark {
				line[x/8] |= 0x80 >> (x % 8)
			}
		}
		b = append(b, line...)
	}
	return b
}

// qrBitmap is a go-qrcode symbol without quiet zone at dots per module.
func qrBitmap(t testing.TB, data string, level qrcode.RecoveryLevel, dots int) [][]bool {
	t.Helper()
	code, err := qrcode.New(data, level)
	if err != nil {
		t.Fatal(err)
	}
	code.DisableBorder = true
	modules := code.Bitmap()
	out := make([][]bool, len(modules)*dots)
	for y := range out {
		out[y] = make([]bool, len(modules)*dots)
		for x := range out[y] {
			out[y][x] = modules[y/dots][x/dots]
		}
	}
	return out
}

// base64Payload is n deterministic base64 characters, like a ZATCA QR.
func base64Payload(n int, seed uint64) string {
	r := rand.New(rand.NewPCG(seed, 1))
	raw := make([]byte, n)
	for i := range raw {
		raw[i] = byte(r.Uint32())
	}
	return base64.StdEncoding.EncodeToString(raw)[:n]
}

const kraURL = "https://etims.kra.go.ke/common/link/etims/receipt/indexEtimsReceiptData?Data=P051234567X00ABCDEF0123456789"

// job is a receipt with text in two code pages, a native QR of payload
// (module 4, ECC M), a raster QR of url (4 dots per module), GS r 1 and a
// partial cut.
func job(t testing.TB, payload, url string) []byte {
	t.Helper()
	arabic, err := charmap.Windows1256.NewEncoder().Bytes([]byte("الإجمالي"))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.Write(escInit)
	b.Write(esc('a', 1))
	b.Write(esc('!', 0x38))
	b.WriteString("SIMPLIFIED TAX INVOICE\n")
	b.Write(esc('!', 0))
	b.Write(esc('a', 0))
	b.WriteString("Item 1   2 x 10.00   20.00\r\n")
	b.Write(esc('E', 1))
	b.WriteString("TOTAL")
	b.Write(esc('E', 0))
	b.WriteString("   23.00\n")
	b.Write(esc('t', 50))
	b.Write(arabic)
	b.WriteString("\n")
	b.Write(esc('t', 0))
	b.Write(esc('a', 1))
	b.Write(nativeQR(payload, 4, 49))
	b.WriteString("\n")
	b.Write(rasterBytes(0, qrBitmap(t, url, qrcode.Medium, 4)))
	b.WriteString("\n")
	b.Write(esc('a', 0))
	b.Write(esc('d', 3))
	b.Write(gsR1)
	b.Write(cutPartial)
	return b.Bytes()
}

// golden compares got with testdata/name, rewriting it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs:\n--- got\n%s--- want\n%s", path, got, want)
	}
}
