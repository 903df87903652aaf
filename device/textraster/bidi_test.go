package textraster

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/text/unicode/bidi"
)

// TestResolveLevelsConformance checks the resolver against Unicode's own
// BidiCharacterTest cases (the implicit subset, see the file header).
func TestResolveLevelsConformance(t *testing.T) {
	path := "testdata/bidi_character_cases.txt"
	if p := os.Getenv("BIDI_CHARACTER_TEST"); p != "" {
		path = p // the full upstream file, for a thorough local run
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var scratch bidiScratch
	cases, failures := 0, 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if text == "" || text[0] == '#' {
			continue
		}
		fields := strings.Split(text, ";")
		if len(fields) != 5 {
			t.Fatalf("line %d: %d fields", line, len(fields))
		}
		var runes []rune
		explicit := false
		for _, h := range strings.Fields(fields[0]) {
			v, err := strconv.ParseUint(h, 16, 32)
			if err != nil {
				t.Fatalf("line %d: %v", line, err)
			}
			runes = append(runes, rune(v))
			if c := classOf(rune(v)); c >= bidi.LRO {
				explicit = true
			}
		}
		if explicit {
			continue // outside the implicit subset the renderer accepts
		}
		cases++
		classes := make([]bidi.Class, len(runes))
		for i, r := range runes {
			classes[i] = classOf(r)
		}
		var para level
		switch fields[1] {
		case "0":
			para = 0
		case "1":
			para = 1
		default:
			para = paragraphLevel(classes)
		}
		wantPara, _ := strconv.Atoi(fields[2])
		levels := make([]level, len(runes))
		scratch.resolveLevels(runes, classes, para, levels)

		var kept []int // positions X9 keeps, whose levels the file lists
		ok := int(para) == wantPara
		for i, w := range strings.Fields(fields[3]) {
			if w == "x" {
				continue
			}
			kept = append(kept, i)
			want, _ := strconv.Atoi(w)
			if int(levels[i]) != want {
				ok = false
			}
		}
		order := make([]int, len(kept))
		visualOrder(order, func(i int) level { return levels[kept[i]] })
		var got []string
		for _, k := range order {
			got = append(got, strconv.Itoa(kept[k]))
		}
		if strings.Join(got, " ") != strings.TrimSpace(fields[4]) {
			ok = false
		}
		if !ok {
			failures++
			if failures <= 10 {
				t.Errorf("line %d: %s\n got para %d levels %v order %v", line, text, para, levels, got)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cases < 2000 {
		t.Fatalf("only %d cases read from %s", cases, path)
	}
	if failures > 0 {
		t.Fatalf("%d of %d cases failed", failures, cases)
	}
	t.Logf("%d cases", cases)
}
