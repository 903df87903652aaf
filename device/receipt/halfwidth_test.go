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
