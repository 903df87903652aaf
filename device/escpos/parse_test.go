package escpos_test

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A parsed ESC/POS command. The parser below is written from the command
// tables of spec/escpos.md §1, independently of the encoder, and knows only
// the commands egsd sends: it is the test's reference for command lengths.
type parsedCmd struct {
	name  string
	bytes []byte
}

// parseStream splits b into commands. It fails on an unknown command and on
// a command cut short, so a chunk that ends inside a command is an error.
func parseStream(b []byte) ([]parsedCmd, error) {
	var cmds []parsedCmd
	for i := 0; i < len(b); {
		n, name, err := commandAt(b[i:])
		if err != nil {
			return cmds, fmt.Errorf("offset %d: %w", i, err)
		}
		cmds = append(cmds, parsedCmd{name, b[i : i+n]})
		i += n
	}
	return cmds, nil
}

var errShort = fmt.Errorf("command cut short")

func commandAt(b []byte) (n int, name string, err error) {
	need := func(k int) error {
		if len(b) < k {
			return errShort
		}
		return nil
	}
	switch {
	case b[0] >= 0x20:
		for n < len(b) && b[n] >= 0x20 {
			n++
		}
		return n, fmt.Sprintf("text %q", b[:n]), nil
	case b[0] == 0x0A:
		return 1, "LF print and feed a line", nil
	case b[0] == 0x10: // DLE EOT n
		if err := need(3); err != nil {
			return 0, "", err
		}
		if b[1] != 0x04 {
			return 0, "", fmt.Errorf("unknown DLE command %02x", b[1])
		}
		return 3, fmt.Sprintf("DLE EOT %d real-time status request", b[2]), nil
	case b[0] == 0x1B:
		if err := need(2); err != nil {
			return 0, "", err
		}
		switch b[1] {
		case '@':
			return 2, "ESC @ initialise", nil
		case 'a', 'E', 't', 'd':
			if err := need(3); err != nil {
				return 0, "", err
			}
			what := map[byte]string{'a': "align", 'E': "bold", 't': "code page", 'd': "feed lines"}[b[1]]
			return 3, fmt.Sprintf("ESC %c %d %s", b[1], b[2], what), nil
		case '$':
			if err := need(4); err != nil {
				return 0, "", err
			}
			return 4, fmt.Sprintf("ESC $ %d absolute position", int(b[2])+int(b[3])*256), nil
		}
		return 0, "", fmt.Errorf("unknown ESC command %02x", b[1])
	case b[0] == 0x1D:
		if err := need(2); err != nil {
			return 0, "", err
		}
		switch b[1] {
		case '!':
			if err := need(3); err != nil {
				return 0, "", err
			}
			return 3, fmt.Sprintf("GS ! %02x size width %d height %d", b[2], b[2]>>4+1, b[2]&7+1), nil
		case 'r':
			if err := need(3); err != nil {
				return 0, "", err
			}
			return 3, fmt.Sprintf("GS r %d transmit status", b[2]), nil
		case 'V':
			if err := need(3); err != nil {
				return 0, "", err
			}
			switch b[2] {
			case 0, 48:
				return 3, fmt.Sprintf("GS V %d full cut", b[2]), nil
			case 1, 49:
				return 3, fmt.Sprintf("GS V %d partial cut", b[2]), nil
			case 65, 66:
				if err := need(4); err != nil {
					return 0, "", err
				}
				kind := map[byte]string{65: "full", 66: "partial"}[b[2]]
				return 4, fmt.Sprintf("GS V %d %d feed to cut position + %d, %s cut", b[2], b[3], b[3], kind), nil
			}
			return 0, "", fmt.Errorf("unknown GS V mode %d", b[2])
		case '(':
			if err := need(5); err != nil {
				return 0, "", err
			}
			if b[2] != 'k' {
				return 0, "", fmt.Errorf("unknown GS ( function %02x", b[2])
			}
			p := int(b[3]) + int(b[4])*256
			if err := need(5 + p); err != nil {
				return 0, "", err
			}
			if p < 2 || b[5] != 49 {
				return 0, "", fmt.Errorf("GS ( k: not a QR command")
			}
			params := b[7 : 5+p]
			var what string
			switch b[6] {
			case 65:
				what = fmt.Sprintf("fn165 model %d", params[0])
			case 67:
				what = fmt.Sprintf("fn167 module %d dots", params[0])
			case 69:
				what = fmt.Sprintf("fn169 error correction %d", params[0])
			case 80:
				what = fmt.Sprintf("fn180 store %d bytes", p-3)
			case 81:
				what = "fn181 print symbol"
			default:
				return 0, "", fmt.Errorf("GS ( k: unknown QR function %d", b[6])
			}
			return 5 + p, fmt.Sprintf("GS ( k pL=%d pH=%d (%d) cn=49 %s", b[3], b[4], p, what), nil
		case 'v':
			if err := need(8); err != nil {
				return 0, "", err
			}
			if b[2] != '0' {
				return 0, "", fmt.Errorf("unknown GS v function %02x", b[2])
			}
			x := int(b[4]) + int(b[5])*256
			y := int(b[6]) + int(b[7])*256
			if err := need(8 + x*y); err != nil {
				return 0, "", err
			}
			return 8 + x*y, fmt.Sprintf("GS v 0 m=%d raster %d bytes x %d rows", b[3], x, y), nil
		}
		return 0, "", fmt.Errorf("unknown GS command %02x", b[1])
	}
	return 0, "", fmt.Errorf("control byte %02x outside a command", b[0])
}

// rasterBitmap redraws the GS v 0 bands of a stream as the printer would
// print them (m=3 doubles both ways), ignoring every other command: the
// test's stand-in for the paper.
func rasterBitmap(t *testing.T, stream []byte) *image.Gray {
	t.Helper()
	cmds, err := parseStream(stream)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	var rows [][]bool
	for _, c := range cmds {
		b := c.bytes
		if len(b) < 8 || b[0] != 0x1D || b[1] != 'v' {
			continue
		}
		scale := 1
		if b[3] == 3 {
			scale = 2
		}
		x := int(b[4]) + int(b[5])*256
		y := int(b[6]) + int(b[7])*256
		for r := 0; r < y; r++ {
			row := make([]bool, 0, x*8*scale)
			for _, v := range b[8+r*x : 8+(r+1)*x] {
				for bit := 7; bit >= 0; bit-- {
					for range scale {
						row = append(row, v>>bit&1 == 1)
					}
				}
			}
			for range scale {
				rows = append(rows, row)
			}
		}
	}
	if len(rows) == 0 {
		t.Fatal("no raster in stream")
	}
	img := image.NewGray(image.Rect(0, 0, len(rows[0]), len(rows)))
	for y, row := range rows {
		for x, black := range row {
			if !black {
				img.Pix[y*img.Stride+x] = 0xFF
			}
		}
	}
	return img
}

// Golden files hold the stream as hex, one command per block, each under a
// "# name" line from parseStream; comments and spaces are ignored on read.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, formatGolden(t, got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it, then review it against spec/escpos.md)", err)
	}
	want := parseGolden(t, text)
	if !bytes.Equal(got, want) {
		t.Errorf("%s: stream differs from golden\n got:\n%s\nwant:\n%s", name, formatGolden(t, got), formatGolden(t, want))
	}
}

func formatGolden(t *testing.T, b []byte) []byte {
	t.Helper()
	cmds, err := parseStream(b)
	if err != nil {
		t.Fatalf("golden stream does not parse: %v", err)
	}
	var out strings.Builder
	for _, c := range cmds {
		fmt.Fprintf(&out, "# %s\n", c.name)
		for i := 0; i < len(c.bytes); i += 32 {
			chunk := c.bytes[i:min(i+32, len(c.bytes))]
			h := hex.EncodeToString(chunk)
			for j := 0; j < len(h); j += 2 {
				if j > 0 {
					out.WriteByte(' ')
				}
				out.WriteString(h[j : j+2])
			}
			out.WriteByte('\n')
		}
	}
	return []byte(out.String())
}

func parseGolden(t *testing.T, text []byte) []byte {
	t.Helper()
	var digits strings.Builder
	for _, line := range strings.Split(string(text), "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		digits.WriteString(strings.Join(strings.Fields(line), ""))
	}
	b, err := hex.DecodeString(digits.String())
	if err != nil {
		t.Fatalf("golden file: %v", err)
	}
	return b
}

// mustHex decodes a hex literal written with spaces.
func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex literal %q: %v", s, err)
	}
	return b
}
