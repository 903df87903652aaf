// Package textpolicy is the one character policy for the text a fiscal
// document carries — names, addresses, codes, a note — from the POS to the
// XML, the receipt and the authority.
//
// A text is refused (Check) when one of its characters cannot be carried
// faithfully by every later stage:
//
//   - control characters, C0 and C1 (U+0085 NEXT LINE included), DEL, and
//     tabs; a line feed only in a multi-line text (a sale's note), where
//     lines end with U+000A alone (no CR, no U+2028/U+2029);
//   - the bidirectional embeddings, overrides and isolates (U+202A–U+202E,
//     U+2066–U+2069): they can make a receipt or an XML viewer show the
//     characters in another order than the document holds (an override
//     can show "8.00" for "00.8"). The marks LRM, RLM and ALM, which only
//     settle the direction of neutral characters, are allowed;
//   - noncharacters (U+FDD0–U+FDEF, U+xFFFE, U+xFFFF), private-use
//     characters (no agreed meaning on a document) and code points not
//     assigned in the Unicode version Go carries (unicode.Version);
//   - more than MaxCombiningMarks combining marks on one character (marks
//     stacked without bound are unreadable, and unbounded work for every
//     renderer);
//   - a non-empty text without any visible character (only spaces, format
//     characters or marks).
//
// Everything else — every script, emoji and symbol — is carried as sent:
// the text is stored, signed and sent to the authority exactly as the POS
// sent it (no normalisation), so the journal's sale and the signed XML
// agree character for character. What the printer's fonts lack is the
// receipt's business: it prints a replacement glyph (device/textraster).
//
// Printable is the same policy for text that reaches a receipt without
// having been checked (the configuration, an authority's message, a sale
// journalled by an older version): it replaces what Check refuses instead
// of refusing, so that such text never makes a receipt fail.
package textpolicy

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Lines says whether a text may hold line breaks.
type Lines int

// The kinds of text.
const (
	SingleLine Lines = iota // names, addresses, codes, references, reasons
	MultiLine               // free text printed as lines (a sale's note): U+000A ends a line
)

// MaxCombiningMarks is the most combining marks (Unicode categories Mn, Mc
// and Me) a character may carry. Arabic with shadda and a vowel, Hebrew
// with points and a cantillation mark, Vietnamese and Devanagari stay well
// inside it.
const MaxCombiningMarks = 4

// Replacement stands for a character Printable cannot pass on.
const Replacement = '\uFFFD'

// Problem is the first character of a text that the policy refuses.
type Problem struct {
	Rune rune
	// Char is the character's position in the text, from 1.
	Char int
	// Rule says what is wrong and what to send instead, for a field error
	// ("contains a tab (U+0009, character 4); use spaces").
	Rule string
}

func (p *Problem) Error() string { return p.Rule }

// Check returns nil when s may be carried on a document as a text of the
// given kind, else the first problem.
func Check(s string, lines Lines) *Problem {
	marks, visible, n := 0, false, 0
	for i, r := range s {
		n++
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return &Problem{Rune: r, Char: n, Rule: fmt.Sprintf("is not valid UTF-8 (byte %d)", i+1)}
			}
		}
		if rule := refusal(r, lines); rule != "" {
			return &Problem{Rune: r, Char: n, Rule: fmt.Sprintf(rule, fmt.Sprintf("%U, character %d", r, n))}
		}
		if isMark(r) {
			marks++
			if marks > MaxCombiningMarks {
				return &Problem{Rune: r, Char: n, Rule: fmt.Sprintf("has more than %d combining marks on one character (%U, character %d); a character takes at most %d", MaxCombiningMarks, r, n, MaxCombiningMarks)}
			}
		} else {
			marks = 0
		}
		visible = visible || isVisible(r)
	}
	if s != "" && !visible {
		return &Problem{Rule: "has no visible character (only spaces, format characters or marks)"}
	}
	return nil
}

// refusal is the rule, with %s for the code point and its position, that
// refuses r in a text of the given kind; "" when r may be carried.
func refusal(r rune, lines Lines) string {
	if r >= 0x20 && r < 0x7F { // printable ASCII: the common case
		return ""
	}
	switch {
	case r == '\n':
		if lines == MultiLine {
			return ""
		}
		return "contains a line break (%s); this field is one line"
	case r == '\r':
		if lines == MultiLine {
			return "contains a carriage return (%s); end each line with U+000A alone"
		}
		return "contains a line break (%s); this field is one line"
	case r == '\t':
		return "contains a tab (%s); use spaces"
	case r < 0x20 || r >= 0x7F && r <= 0x9F:
		return "contains the control character %s, which a document cannot carry"
	case r == 0x2028 || r == 0x2029:
		if lines == MultiLine {
			return "contains a line or paragraph separator (%s); end each line with U+000A"
		}
		return "contains a line or paragraph separator (%s); this field is one line"
	case IsBidiControl(r):
		return "contains the bidirectional control %s, which could show the text in another order than the document holds; send the text in logical order without it"
	case isNoncharacter(r):
		return "contains the noncharacter %s, which is not text"
	case unicode.Is(unicode.Co, r):
		return "contains the private-use character %s, which has no agreed meaning on a document"
	case !isAssigned(r):
		return "contains %s, which is not an assigned character in Unicode " + unicode.Version
	}
	return ""
}

// IsBidiControl reports whether r is an explicit bidirectional embedding,
// override or isolate (U+202A–U+202E, U+2066–U+2069).
func IsBidiControl(r rune) bool {
	return r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069
}

func isNoncharacter(r rune) bool {
	return r >= 0xFDD0 && r <= 0xFDEF || r&0xFFFE == 0xFFFE
}

var assigned = []*unicode.RangeTable{unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Zs, unicode.Zl, unicode.Zp, unicode.Cc, unicode.Cf, unicode.Co}

func isAssigned(r rune) bool { return unicode.In(r, assigned...) }

func isMark(r rune) bool { return r >= 0x300 && unicode.In(r, unicode.Mn, unicode.Mc, unicode.Me) }

// isVisible reports whether r shows: not white space, a format character
// or a mark.
func isVisible(r rune) bool {
	if r > ' ' && r < 0x7F {
		return true
	}
	return !unicode.IsSpace(r) && !unicode.In(r, unicode.Cf, unicode.Zs, unicode.M) && !unicode.IsControl(r)
}

// Printable returns s as one line that Check accepts as SingleLine: each
// line break (LF, CR, NEL, U+2028, U+2029) and tab becomes a space, any
// other character Check refuses becomes Replacement, marks beyond
// MaxCombiningMarks on a character are dropped, and the result is in NFC
// (what a printer's fonts draw best; canonically the same text). A text
// with no visible character becomes "".
func Printable(s string) string {
	if Check(s, SingleLine) == nil && norm.NFC.IsNormalString(s) {
		return s
	}
	var b strings.Builder
	marks := 0
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				b.WriteRune(Replacement)
				marks = 0
				continue
			}
		}
		switch {
		case r == '\n' || r == '\r' || r == '\t' || r == 0x85 || r == 0x2028 || r == 0x2029:
			r = ' '
		case refusal(r, SingleLine) != "":
			r = Replacement
		}
		if isMark(r) {
			if marks++; marks > MaxCombiningMarks {
				continue
			}
		} else {
			marks = 0
		}
		b.WriteRune(r)
	}
	out := norm.NFC.String(b.String())
	if Check(out, SingleLine) != nil {
		return ""
	}
	return out
}

// PrintableLines splits s at its line breaks (LF, CR LF, CR, NEL, U+2028,
// U+2029) into lines made Printable. Empty lines are kept.
func PrintableLines(s string) []string {
	s = strings.NewReplacer("\r\n", "\n", "\r", "\n", "\u0085", "\n", "\u2028", "\n", "\u2029", "\n").Replace(s)
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = Printable(l)
	}
	return lines
}
