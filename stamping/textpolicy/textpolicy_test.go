package textpolicy_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/egsd/egsd/stamping/textpolicy"
	"github.com/egsd/egsd/stamping/textpolicy/textpolicytest"
)

// TestCheckClasses: every class of characters is accepted or refused as
// the table says, in a one-line field and in a multi-line one.
func TestCheckClasses(t *testing.T) {
	classes := textpolicytest.Classes()
	if len(classes) < 50 {
		t.Fatalf("only %d classes", len(classes))
	}
	seen := map[string]bool{}
	for _, c := range classes {
		if seen[c.Name] {
			t.Errorf("class %q twice", c.Name)
		}
		seen[c.Name] = true
		s := c.Text()
		if strings.Contains(c.JSON, `\ud800`) || strings.Contains(c.JSON, `\udc00`) {
			continue // a lone surrogate never reaches a Go string: the JSON reader refuses it
		}
		for _, k := range []struct {
			lines textpolicy.Lines
			want  bool
		}{{textpolicy.SingleLine, c.InName}, {textpolicy.MultiLine, c.InNote}} {
			p := textpolicy.Check(s, k.lines)
			if (p == nil) != k.want {
				t.Errorf("%s: Check(%q, %d) = %v, want accepted %v", c.Name, s, k.lines, p, k.want)
			}
		}
	}
}

func TestCheckRules(t *testing.T) {
	for _, tc := range []struct {
		s     string
		lines textpolicy.Lines
		rule  string
		char  int
	}{
		{"ab\tc", textpolicy.SingleLine, "contains a tab (U+0009, character 3); use spaces", 3},
		{"a\nb", textpolicy.SingleLine, "contains a line break (U+000A, character 2); this field is one line", 2},
		{"a\r\nb", textpolicy.MultiLine, "contains a carriage return (U+000D, character 2); end each line with U+000A alone", 2},
		{"a\u2028b", textpolicy.MultiLine, "separator (U+2028, character 2); end each line with U+000A", 2},
		{"x\u0085", textpolicy.MultiLine, "contains the control character U+0085, character 2, which a document cannot carry", 2},
		{"8.00\u202e", textpolicy.SingleLine, "contains the bidirectional control U+202E, character 5, which could show the text in another order", 5},
		{"\ufffe", textpolicy.SingleLine, "contains the noncharacter U+FFFE, character 1, which is not text", 1},
		{"é\ue000", textpolicy.SingleLine, "contains the private-use character U+E000, character 2", 2},
		{"\u0378", textpolicy.SingleLine, "contains U+0378, character 1, which is not an assigned character in Unicode", 1},
		{"a\u0300\u0301\u0302\u0303\u0304", textpolicy.SingleLine, "has more than 4 combining marks on one character (U+0304, character 6)", 6},
		{"\u200b\u00ad ", textpolicy.SingleLine, "has no visible character", 0},
		{"ok\xff", textpolicy.SingleLine, "is not valid UTF-8 (byte 3)", 3},
	} {
		p := textpolicy.Check(tc.s, tc.lines)
		if p == nil || !strings.Contains(p.Rule, tc.rule) || p.Char != tc.char {
			t.Errorf("Check(%q) = %+v, want character %d and a rule with %q", tc.s, p, tc.char, tc.rule)
		}
	}
	// Combining marks count per character: four on each of two letters.
	if p := textpolicy.Check("a\u0300\u0301\u0302\u0303b\u0300\u0301\u0302\u0303", textpolicy.SingleLine); p != nil {
		t.Errorf("four marks on each of two characters: %v", p)
	}
	if p := textpolicy.Check("", textpolicy.SingleLine); p != nil {
		t.Errorf("the empty text: %v", p)
	}
}

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"Coffee":                          "Coffee",
		"Cafe\u0301":                      "Café", // NFC: the fonts draw the precomposed letter
		"a\tb\nc\r\nd\u2028e\u0085f":      "a b c  d e f",
		"Total \u202e00.8":                "Total \ufffd00.8",
		"x\ufffey\ue000z\u0378":           "x\ufffdy\ufffdz\ufffd",
		"a" + strings.Repeat("\u0301", 9): norm.NFC.String("a\u0301\u0301\u0301\u0301"), // the marks beyond four dropped
		"\u200b":                          "",
		"bad\xffbyte":                     "bad\ufffdbyte",
		"\u0007":                          "\ufffd",
	} {
		if got := textpolicy.Printable(in); got != want {
			t.Errorf("Printable(%q) = %q, want %q", in, got, want)
		}
	}
	got := textpolicy.PrintableLines("one\r\ntwo\u2029\tthree\n\n\u202efour")
	want := []string{"one", "two", " three", "", "\ufffdfour"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("PrintableLines = %q, want %q", got, want)
	}
}

// FuzzPrintable: whatever a text holds, Printable makes it one line that
// Check accepts, or "" when nothing visible is left; and a text Check
// accepts keeps its meaning (the same text, up to canonical equivalence).
func FuzzPrintable(f *testing.F) {
	for _, c := range textpolicytest.Classes() {
		f.Add(c.Text())
	}
	f.Fuzz(func(t *testing.T, s string) {
		p := textpolicy.Printable(s)
		if p != "" {
			if prob := textpolicy.Check(p, textpolicy.SingleLine); prob != nil {
				t.Fatalf("Check(Printable(%q) = %q) = %v", s, p, prob)
			}
		}
		if !utf8.ValidString(p) {
			t.Fatalf("Printable(%q) = %q is not UTF-8", s, p)
		}
		if textpolicy.Check(s, textpolicy.SingleLine) == nil && p != norm.NFC.String(s) {
			t.Fatalf("Printable(%q) = %q changed an accepted text", s, p)
		}
		for _, line := range textpolicy.PrintableLines(s) {
			if line != "" && textpolicy.Check(line, textpolicy.SingleLine) != nil {
				t.Fatalf("PrintableLines(%q) holds %q", s, line)
			}
		}
	})
}
