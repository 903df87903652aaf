package receipt

import (
	"image"
	"testing"
)

// TestHalfWidth: each pair of columns becomes one column, dark where either
// was; an odd last column stands alone; a sub-image's origin is honoured.
func TestHalfWidth(t *testing.T) {
	src := image.NewGray(image.Rect(0, 0, 7, 2))
	rows := []string{"#..##.#", ".#....."}
	for y, row := range rows {
		for x, c := range row {
			src.Pix[src.PixOffset(x, y)] = 255
			if c == '#' {
				src.Pix[src.PixOffset(x, y)] = 0
			}
		}
	}
	check := func(img *image.Gray, want []string) {
		t.Helper()
		got := halfWidth(img)
		for y, row := range want {
			for x, c := range row {
				if dark := got.Pix[got.PixOffset(x, y)] < 128; dark != (c == '#') {
					t.Errorf("(%d,%d) dark = %v, want %q", x, y, dark, c)
				}
			}
		}
		if got.Rect.Dx() != len(want[0]) {
			t.Errorf("width %d, want %d", got.Rect.Dx(), len(want[0]))
		}
	}
	check(src, []string{"####", "#..."})
	check(src.SubImage(image.Rect(1, 0, 7, 2)).(*image.Gray), []string{".##", "#.."})
}

// TestPadRight: a right-aligned raster line is widened at the left to
// whole bytes, so its ink ends at the right margin, plus the margin asked
// for at the right; what would not fit the paper is left off.
func TestPadRight(t *testing.T) {
	src := image.NewGray(image.Rect(3, 0, 8, 1)) // 5 columns, all ink
	cases := []struct {
		name                string
		margin, paper       int
		wantWidth, wantLeft int
	}{
		{"whole bytes", 0, 64, 8, 3},
		{"with a margin", 4, 64, 16, 7},
		{"margin to whole bytes", 3, 64, 8, 0},
		{"no room for the left pad", 0, 6, 5, 0},
		{"no room for the margin", 4, 7, 7, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := padRight(src, c.margin, c.paper)
			if got.Bounds().Dx() != c.wantWidth {
				t.Fatalf("padRight(5 columns, margin %d, paper %d) is %d wide, want %d", c.margin, c.paper, got.Bounds().Dx(), c.wantWidth)
			}
			for x := range got.Bounds().Dx() {
				ink := x >= c.wantLeft && x < c.wantLeft+5
				if dark := got.GrayAt(got.Bounds().Min.X+x, 0).Y < 128; dark != ink {
					t.Errorf("column %d dark = %v, want %v", x, dark, ink)
				}
			}
		})
	}
}
