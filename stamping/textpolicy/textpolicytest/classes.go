// Package textpolicytest lists classes of characters, each a named text
// with what the character policy of documents (package textpolicy) must do
// with it in a one-line field (a line's name, the buyer's name) and in the
// multi-line note. The end-to-end tests put every class through the API,
// the XML, the receipt and ZATCA's rules.
package textpolicytest

import "encoding/json"

// Class is one class of characters.
type Class struct {
	Name string
	// JSON is the text as a JSON string literal, quotes included, so that
	// a class can be an escape a Go string cannot hold (a lone surrogate).
	JSON string
	// InName and InNote say whether a one-line field and the note accept
	// the text.
	InName, InNote bool
}

// Text is the class's text as Go reads the JSON literal.
func (c Class) Text() string {
	var s string
	if err := json.Unmarshal([]byte(c.JSON), &s); err != nil {
		panic("textpolicytest: " + c.Name + ": " + err.Error())
	}
	return s
}

func text(name, s string, inName, inNote bool) Class {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return Class{Name: name, JSON: string(b), InName: inName, InNote: inNote}
}

func accepted(name, s string) Class { return text(name, s, true, true) }
func refused(name, s string) Class  { return text(name, s, false, false) }

func marks(base string, n int) string {
	s := base
	for i := range n {
		s += string(rune(0x0300 + i%0x30))
	}
	return s
}

// Classes returns every class: at least 50, every one named.
func Classes() []Class {
	return []Class{
		accepted("Latin", "Coffee latte"),
		accepted("Latin-1 accents", "Crème brûlée"),
		accepted("Latin decomposed", "Cafe\u0301 au lait"),
		accepted("Vietnamese stacked marks", "Phở bò tái, \u1ec7"),
		accepted("Cyrillic", "Чай чёрный"),
		accepted("Greek", "Καφές"),
		accepted("Arabic", "قهوة عربية"),
		accepted("Arabic with harakat", "قَهْوَةٌ عَرَبِيَّةٌ"),
		accepted("Arabic-Indic digits", "كوب ١٢٣"),
		accepted("Arabic and Latin with numbers", "شاي Tea 250ml"),
		accepted("Persian with ZWNJ", "می\u200cخواهم"),
		accepted("Hebrew", "קפה שחור"),
		accepted("Hebrew with niqqud", "שָׁלוֹם"),
		accepted("CJK", "拿铁咖啡"),
		accepted("CJK extension B", "𠀀𠀁"),
		accepted("Japanese kana", "コーヒー"),
		accepted("Korean Hangul", "커피"),
		accepted("Thai", "กาแฟเย็น"),
		accepted("Devanagari", "चाय मसाला"),
		accepted("Ethiopic", "ቡና"),
		accepted("emoji", "Cake 🎂"),
		accepted("emoji ZWJ family", "👨\u200d👩\u200d👧\u200d👦"),
		accepted("emoji with skin tone", "👍🏽"),
		accepted("emoji with variation selector", "☕\ufe0f"),
		accepted("keycap", "1\ufe0f\u20e3"),
		accepted("flag", "🇸🇦"),
		accepted("subdivision flag (tags)", "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"),
		accepted("one combining mark", marks("a", 1)),
		accepted("four combining marks", marks("a", 4)),
		accepted("BOM inside", "Tea\ufeffcup"),
		accepted("NBSP", "Tea\u00a0cup"),
		accepted("soft hyphen", "Tea\u00adcup"),
		accepted("ZWSP", "Tea\u200bcup"),
		accepted("ZWJ between letters", "a\u200db"),
		accepted("LRM and RLM", "Tea\u200ecup\u200f"),
		accepted("ALM", "قهوة\u061c 2"),
		accepted("fullwidth forms", "ＣＯＦＦＥＥ １２"),
		accepted("math alphanumerics", "𝐂𝐨𝐟𝐟𝐞𝐞"),
		accepted("currency signs", "€ £ ¥ ₹ ﷼"),
		accepted("arrows and stars", "→ ← ★ ✓"),
		accepted("ideographic space inside", "拿铁\u3000咖啡"),
		accepted("braille blank", "x\u2800y"),
		accepted("replacement character", "Tea \ufffd"),
		accepted("XML specials", `A & B <C> "q" 'a' ]]>`),
		{Name: "surrogate pair escaped", JSON: `"Tea \ud83d\ude00"`, InName: true, InNote: true},

		refused("five combining marks", marks("a", 5)),
		refused("200 combining marks", marks("a", 200)),
		refused("NEL U+0085", "Tea\u0085cup"),
		refused("BEL", "Tea\u0007"),
		refused("ESC sequence", "Tea\u001b[31m"),
		refused("DEL", "Tea\u007f"),
		refused("C1 CSI", "Tea\u009bcup"),
		refused("NUL", "Tea\u0000cup"),
		refused("tab", "Tea\tcup"),
		refused("CR", "Tea\rcup"),
		refused("CR LF", "Tea\r\ncup"),
		refused("line separator U+2028", "Tea\u2028cup"),
		refused("paragraph separator U+2029", "Tea\u2029cup"),
		refused("LRE U+202A", "a\u202ab"),
		refused("RLE U+202B", "a\u202bb"),
		refused("PDF U+202C", "a\u202cb"),
		refused("LRO U+202D", "a\u202db"),
		refused("RLO U+202E", "Total \u202e00.8"),
		refused("LRI U+2066", "a\u2066b"),
		refused("RLI U+2067", "a\u2067b"),
		refused("FSI U+2068", "a\u2068b"),
		refused("PDI U+2069", "a\u2069b"),
		refused("U+FFFE", "a\ufffeb"),
		refused("U+FFFF", "a\uffffb"),
		refused("U+FDD0", "a\ufdd0b"),
		refused("U+1FFFE", "a\U0001fffeb"),
		refused("private use", "a\ue000b"),
		refused("private use plane 15", "a\U000f0000b"),
		refused("unassigned U+0378", "a\u0378b"),
		refused("unassigned U+E0080", "a\U000e0080b"),
		{Name: "lone high surrogate", JSON: `"Tea\ud800"`},
		{Name: "lone low surrogate", JSON: `"\udc00Tea"`},
		refused("only a ZWSP", "\u200b"),
		refused("only a soft hyphen", "\u00ad"),
		refused("only combining marks", marks("", 2)),

		text("line feed", "Tea\ncup", false, true),
		text("paragraphs", "Thank you\n\nCome again", false, true),
	}
}
