package escpos_test

import (
	"bytes"
	"image"
	"math/rand/v2"
	"testing"

	"github.com/egsd/egsd/device/escpos"
)

// randomJob appends n random commands. QR data and raster rows are random
// bytes, so they contain 10 04 n and other command-like sequences.
func randomJob(r *rand.Rand, n int) *escpos.Encoder {
	e := escpos.NewEncoder()
	randBytes := func(k int, lo byte) []byte {
		b := make([]byte, k)
		for i := range b {
			b[i] = lo + byte(r.IntN(256-int(lo)))
		}
		return b
	}
	for range n {
		switch r.IntN(13) {
		case 0:
			e.Init()
		case 1:
			e.Align(escpos.Alignment(r.IntN(3)))
		case 2:
			e.Bold(r.IntN(2) == 0)
		case 3:
			e.Size(1+r.IntN(8), 1+r.IntN(8))
		case 4:
			e.CodePage(byte(r.IntN(256)))
		case 5:
			e.Text(randBytes(r.IntN(60), 0x20))
		case 6:
			e.Line(randBytes(r.IntN(60), 0x20))
		case 7:
			e.Feed(r.IntN(256))
		case 8:
			e.Cut([]escpos.CutMode{escpos.CutFull, escpos.CutPartial, escpos.CutNone}[r.IntN(3)], r.IntN(2)*r.IntN(256))
		case 9:
			e.QR(randBytes(1+r.IntN(700), 0), escpos.QROptions{Module: 1 + r.IntN(16), ECC: escpos.ECCL + escpos.ECCLevel(r.IntN(4))})
		case 10:
			w, h := 1+r.IntN(100), 1+r.IntN(300)
			img := image.NewGray(image.Rect(0, 0, w, h))
			copy(img.Pix, randBytes(len(img.Pix), 0))
			e.Raster(img, escpos.RasterOptions{BandRows: r.IntN(3) * (1 + r.IntN(128)), Scale2x: r.IntN(2) == 0})
		case 11:
			e.RequestStatus(escpos.StatusKind(1 + r.IntN(4)))
		case 12:
			e.TransmitStatus()
		}
	}
	return e
}

// Chunks never split a command: over random jobs and limits, the chunks put
// together are the stream, each chunk parses from its first byte to its
// last without a command cut short, each fits the limit unless it is one
// command, and no chunk could have taken the next command as well.
func TestChunksNeverSplitACommand(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for job := range 200 {
		e := randomJob(r, 1+r.IntN(40))
		if err := e.Err(); err != nil {
			t.Fatalf("job %d: %v", job, err)
		}
		stream := e.Bytes()
		if _, err := parseStream(stream); err != nil {
			t.Fatalf("job %d: whole stream does not parse: %v", job, err)
		}
		for _, max := range []int{0, 1, 3, 9, 64, 256, 1000, 4096, r.IntN(5000), 1 << 30} {
			chunks := e.Chunks(max)
			if got := bytes.Join(chunks, nil); !bytes.Equal(got, stream) {
				t.Fatalf("job %d max %d: chunks joined differ from Bytes()", job, max)
			}
			for i, c := range chunks {
				cmds, err := parseStream(c)
				if err != nil {
					t.Fatalf("job %d max %d chunk %d: %v", job, max, i, err)
				}
				if len(c) > max && len(cmds) > 1 {
					t.Fatalf("job %d max %d chunk %d: %d bytes in %d commands", job, max, i, len(c), len(cmds))
				}
				// The parser merges adjacent text into one command, which
				// can only make the next command look longer than it is.
				if i+1 < len(chunks) {
					next, _ := parseStream(chunks[i+1])
					if len(c)+len(next[0].bytes) <= max {
						t.Fatalf("job %d max %d chunk %d: %d bytes, and the next command (%d bytes) would have fitted",
							job, max, i, len(c), len(next[0].bytes))
					}
				}
			}
		}
	}
}

// The reference parser must notice a chunk that ends inside a command, or
// the property test above proves nothing.
func TestParserRejectsSplitCommands(t *testing.T) {
	img := image.NewGray(image.Rect(0, 0, 16, 4))
	stream := escpos.NewEncoder().Init().QR([]byte("hello"), escpos.QROptions{Module: 3, ECC: escpos.ECCM}).
		Raster(img, escpos.RasterOptions{}).Cut(escpos.CutPartial, 5).RequestStatus(escpos.StatusPaper).Bytes()
	cmds, err := parseStream(stream)
	if err != nil {
		t.Fatal(err)
	}
	boundary := map[int]bool{0: true}
	off := 0
	for _, c := range cmds {
		off += len(c.bytes)
		boundary[off] = true
	}
	for cut := 1; cut < len(stream); cut++ {
		_, err := parseStream(stream[:cut])
		if boundary[cut] != (err == nil) {
			t.Errorf("cut at %d: boundary %v, parse error %v", cut, boundary[cut], err)
		}
	}
}
