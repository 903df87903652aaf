package textraster

import (
	"golang.org/x/text/unicode/bidi"
)

// level is an embedding level of the Unicode Bidirectional Algorithm (UAX #9):
// even levels run left to right, odd levels right to left.
type level int8

// The resolver below implements UAX #9 for one line of implicit text: rules
// P2–P3, W1–W7, N0–N2, I1–I2, L1 and L2. Explicit embeddings, overrides and
// isolates (X1–X8) are left out because validate refuses their control
// characters, so the whole line is one isolating run sequence at the
// paragraph level. go-text's and x/text's bidi packages resolve the same
// levels but only expose runs of one direction, which merges level 0 with
// level 2 and orders "abc ١٢٣ عربي" wrongly; L2 needs the levels.

// classOf returns the Bidi_Class of r.
func classOf(r rune) bidi.Class {
	p, _ := bidi.LookupRune(r)
	return p.Class()
}

// paragraphLevel applies P2 and P3: the first strong character decides, and
// a line without one is left to right.
func paragraphLevel(classes []bidi.Class) level {
	for _, c := range classes {
		switch c {
		case bidi.L:
			return 0
		case bidi.R, bidi.AL:
			return 1
		}
	}
	return 0
}

// bidiScratch holds the working slices of resolveLevels so that a renderer
// reuses them from line to line.
type bidiScratch struct {
	seq   []int        // positions of the runes that X9 keeps (all but BN)
	types []bidi.Class // current type of each kept rune while rules apply
	pairs []bracketPair
	stack []bracketOpen
}

type bracketPair struct{ open, close int } // indexes into seq

type bracketOpen struct {
	closer rune // the closing bracket that matches
	at     int  // index into seq
}

// resolveLevels writes the embedding level of every rune of text into levels
// (same length as text). classes holds the original Bidi_Class of each rune.
func (s *bidiScratch) resolveLevels(text []rune, classes []bidi.Class, para level, levels []level) {
	s.seq = s.seq[:0]
	s.types = s.types[:0]
	for i, c := range classes {
		if c == bidi.BN {
			continue // X9: boundary neutrals take no part; they get a level below
		}
		s.seq = append(s.seq, i)
		s.types = append(s.types, c)
	}
	t := s.types
	n := len(t)
	sos := bidi.L // with no explicit embeddings sos and eos follow the paragraph
	if para%2 == 1 {
		sos = bidi.R
	}
	eos := sos

	// W1: a non-spacing mark takes the type of the character before it.
	for i := range t {
		if t[i] == bidi.NSM {
			if i == 0 {
				t[i] = sos
			} else {
				t[i] = t[i-1]
			}
		}
	}
	// W2: a European number after an Arabic letter is an Arabic number.
	last := sos
	for i, c := range t {
		switch c {
		case bidi.L, bidi.R, bidi.AL:
			last = c
		case bidi.EN:
			if last == bidi.AL {
				t[i] = bidi.AN
			}
		}
	}
	// W3: Arabic letters are right to left from here on.
	for i, c := range t {
		if c == bidi.AL {
			t[i] = bidi.R
		}
	}
	// W4: a single separator between two numbers of one kind joins them.
	for i := 1; i+1 < n; i++ {
		switch {
		case t[i] == bidi.ES && t[i-1] == bidi.EN && t[i+1] == bidi.EN:
			t[i] = bidi.EN
		case t[i] == bidi.CS && t[i-1] == bidi.EN && t[i+1] == bidi.EN:
			t[i] = bidi.EN
		case t[i] == bidi.CS && t[i-1] == bidi.AN && t[i+1] == bidi.AN:
			t[i] = bidi.AN
		}
	}
	// W5: terminators (%, currency signs) next to a European number join it.
	for i := 0; i < n; {
		if t[i] != bidi.ET {
			i++
			continue
		}
		j := i
		for j < n && t[j] == bidi.ET {
			j++
		}
		if (i > 0 && t[i-1] == bidi.EN) || (j < n && t[j] == bidi.EN) {
			for k := i; k < j; k++ {
				t[k] = bidi.EN
			}
		}
		i = j
	}
	// W6: remaining separators and terminators are neutral.
	for i, c := range t {
		if c == bidi.ES || c == bidi.ET || c == bidi.CS {
			t[i] = bidi.ON
		}
	}
	// W7: a European number in left-to-right context is left to right.
	last = sos
	for i, c := range t {
		switch c {
		case bidi.L, bidi.R:
			last = c
		case bidi.EN:
			if last == bidi.L {
				t[i] = bidi.L
			}
		}
	}

	embedding := sos // the embedding direction is the paragraph's
	s.resolveBrackets(text, classes, embedding)

	// N1 and N2: a run of neutrals between two strong types of one direction
	// takes that direction, otherwise the embedding direction. Numbers count
	// as right to left here.
	for i := 0; i < n; {
		if !isNeutral(t[i]) {
			i++
			continue
		}
		j := i
		for j < n && isNeutral(t[j]) {
			j++
		}
		before, after := sos, eos
		if i > 0 {
			before = strongForNeutrals(t[i-1])
		}
		if j < n {
			after = strongForNeutrals(t[j])
		}
		dir := embedding
		if before == after {
			dir = before
		}
		for k := i; k < j; k++ {
			t[k] = dir
		}
		i = j
	}

	// I1 and I2.
	for k, c := range t {
		lv := para
		if para%2 == 0 {
			switch c {
			case bidi.R:
				lv++
			case bidi.AN, bidi.EN:
				lv += 2
			}
		} else if c == bidi.L || c == bidi.EN || c == bidi.AN {
			lv++
		}
		levels[s.seq[k]] = lv
	}
	// Boundary neutrals (ZWJ, ZWNJ, soft hyphen) sit at the level of the
	// character before them so that they stay inside its shaping run.
	prev := level(-1)
	for i, c := range classes {
		if c != bidi.BN {
			prev = levels[i]
			continue
		}
		if prev >= 0 {
			levels[i] = prev
			continue
		}
		levels[i] = para
		for _, k := range s.seq {
			if k > i {
				levels[i] = levels[k]
				break
			}
		}
	}

	// L1: segment separators, and white space before them or at the end of
	// the line, return to the paragraph level.
	trailing := true
	for i := len(classes) - 1; i >= 0; i-- {
		switch c := classes[i]; {
		case c == bidi.S || c == bidi.B:
			levels[i] = para
			trailing = true
		case trailing && (c == bidi.WS || c == bidi.BN):
			levels[i] = para
		default:
			trailing = false
		}
	}
}

func isNeutral(c bidi.Class) bool {
	return c == bidi.ON || c == bidi.WS || c == bidi.S || c == bidi.B
}

// strongForNeutrals maps a resolved type to the direction it imposes on
// neighbouring neutrals (N1), or ON when it imposes none.
func strongForNeutrals(c bidi.Class) bidi.Class {
	switch c {
	case bidi.L:
		return bidi.L
	case bidi.R, bidi.EN, bidi.AN:
		return bidi.R
	}
	return bidi.ON
}

// maxBracketDepth is the stack depth of BD16; deeper nesting stops pairing.
const maxBracketDepth = 63

// resolveBrackets applies N0: a pair of brackets takes the direction of the
// strong text it encloses, preferring the embedding direction, so that "(ABC)"
// inside Arabic keeps its parentheses around ABC.
func (s *bidiScratch) resolveBrackets(text []rune, classes []bidi.Class, embedding bidi.Class) {
	t := s.types
	s.pairs = s.pairs[:0]
	s.stack = s.stack[:0]
	// BD16: find the pairs among brackets whose current type is ON.
scan:
	for i, pos := range s.seq {
		if t[i] != bidi.ON {
			continue
		}
		r := text[pos]
		p, _ := bidi.LookupRune(r)
		if !p.IsBracket() {
			continue
		}
		if p.IsOpeningBracket() {
			if len(s.stack) == maxBracketDepth {
				break scan
			}
			s.stack = append(s.stack, bracketOpen{closer: canonicalBracket(counterpart(r)), at: i})
			continue
		}
		closer := canonicalBracket(r)
		for k := len(s.stack) - 1; k >= 0; k-- {
			if s.stack[k].closer == closer {
				s.pairs = append(s.pairs, bracketPair{open: s.stack[k].at, close: i})
				s.stack = s.stack[:k]
				break
			}
		}
	}
	sortPairs(s.pairs)

	for _, pr := range s.pairs {
		foundEmbedding, foundOpposite := false, false
		for k := pr.open + 1; k < pr.close; k++ {
			switch d := strongForNeutrals(t[k]); {
			case d == embedding:
				foundEmbedding = true
			case d != bidi.ON:
				foundOpposite = true
			}
			if foundEmbedding {
				break
			}
		}
		var dir bidi.Class
		switch {
		case foundEmbedding:
			dir = embedding
		case foundOpposite:
			// N0 c: the context before the opening bracket decides.
			context := embedding // sos equals the embedding direction here
			for k := pr.open - 1; k >= 0; k-- {
				if d := strongForNeutrals(t[k]); d != bidi.ON {
					context = d
					break
				}
			}
			dir = embedding
			if context != embedding {
				dir = context
			}
		default:
			continue // N0 d: nothing strong inside, leave the pair to N1
		}
		for _, b := range [2]int{pr.open, pr.close} {
			t[b] = dir
			// Marks that followed the bracket before W1 follow its new type.
			for k := b + 1; k < len(t) && classes[s.seq[k]] == bidi.NSM; k++ {
				t[k] = dir
			}
		}
	}
}

// sortPairs orders bracket pairs by their opening position (insertion sort:
// a line holds few brackets).
func sortPairs(p []bracketPair) {
	for i := 1; i < len(p); i++ {
		for j := i; j > 0 && p[j].open < p[j-1].open; j-- {
			p[j], p[j-1] = p[j-1], p[j]
		}
	}
}

// counterpart returns the Bidi_Paired_Bracket of a bracket. x/text keeps the
// mapping unexported but applies it when it reverses a string.
func counterpart(r rune) rune {
	for _, c := range bidi.ReverseString(string(r)) {
		return c
	}
	return r
}

// canonicalBracket folds the two canonically equivalent angle brackets, as
// BD16 requires.
func canonicalBracket(r rune) rune {
	switch r {
	case 0x2329:
		return 0x3008
	case 0x232A:
		return 0x3009
	}
	return r
}

// visualOrder applies L2 to n items whose levels levelOf reports, writing into
// order the item indexes from left to right.
func visualOrder(order []int, levelOf func(int) level) {
	if len(order) == 0 {
		return
	}
	highest, lowest := level(0), level(127)
	for i := range order {
		order[i] = i
		lv := levelOf(i)
		highest = max(highest, lv)
		lowest = min(lowest, lv)
	}
	lowestOdd := lowest | 1
	for lv := highest; lv >= lowestOdd; lv-- {
		for i := 0; i < len(order); {
			if levelOf(order[i]) < lv {
				i++
				continue
			}
			j := i
			for j < len(order) && levelOf(order[j]) >= lv {
				j++
			}
			for a, b := i, j-1; a < b; a, b = a+1, b-1 {
				order[a], order[b] = order[b], order[a]
			}
			i = j
		}
	}
}
