package strictjson

import (
	"reflect"
	"sync"
	"unicode/utf8"
)

// A body is read in one of two ways. Most bodies are clean, and for them a
// single scan of the bytes (cleanBody) proves that encoding/json will read
// them as the strict rules do: no key twice in an object, no key that
// differs from a field name only by case, no escaped surrogate, no deeper
// nesting than MaxDepth. encoding/json (with unknown fields disallowed)
// then decodes them. Any body the scan cannot vouch for, or that
// encoding/json refuses, goes to the walker, which reads token by token
// and names the field of the first problem. The scan allocates nothing,
// so a clean body costs little more than encoding/json alone.

// names is every JSON field name of a type and of the types inside it.
type names struct {
	exact map[string]bool
	lower map[string]bool // ASCII lower case of each name
}

var namesCache sync.Map // reflect.Type → *names

func namesOf(t reflect.Type) *names {
	if n, ok := namesCache.Load(t); ok {
		return n.(*names)
	}
	n := &names{exact: map[string]bool{}, lower: map[string]bool{}}
	seen := map[reflect.Type]bool{}
	var visit func(t reflect.Type)
	visit = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || seen[t] {
			return
		}
		seen[t] = true
		for name, ft := range fieldsOf(t) {
			n.exact[name] = true
			n.lower[asciiLower(name)] = true
			visit(ft)
		}
	}
	visit(t)
	namesCache.Store(t, n)
	return n
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// maxScannedKeys is the most keys one object may have for the scan to
// check it for repeats (by comparing each pair); a larger one goes to the
// walker.
const maxScannedKeys = 32

// cleanBody reports whether the scan can vouch for data (see above). It
// returns false for anything it does not understand, including invalid
// JSON, which the walker then reports.
func cleanBody(data []byte, n *names) bool {
	if !utf8.Valid(data) {
		return false
	}
	var keys [64][2]int
	s := scanner{data: data, names: n, keys: keys[:0]}
	s.space()
	if !s.value(0) {
		return false
	}
	s.space()
	return s.i == len(data)
}

type scanner struct {
	data  []byte
	i     int
	names *names
	keys  [][2]int // the byte ranges of the keys of the objects being scanned, outermost first
}

func (s *scanner) space() {
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// value scans one value at the given depth.
func (s *scanner) value(depth int) bool {
	if s.i >= len(s.data) {
		return false
	}
	switch c := s.data[s.i]; {
	case c == '{':
		return s.object(depth + 1)
	case c == '[':
		return s.array(depth + 1)
	case c == '"':
		_, _, ok := s.str()
		return ok
	default:
		// Numbers and literals: encoding/json checks their syntax.
		start := s.i
		for s.i < len(s.data) {
			switch s.data[s.i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return s.i > start
			case '"', '{', '[', ':':
				return false
			}
			s.i++
		}
		return s.i > start
	}
}

func (s *scanner) object(depth int) bool {
	if depth > MaxDepth {
		return false
	}
	s.i++ // '{'
	s.space()
	if s.i < len(s.data) && s.data[s.i] == '}' {
		s.i++
		return true
	}
	base := len(s.keys)
	defer func() { s.keys = s.keys[:base] }()
	for count := 0; ; count++ {
		if count == maxScannedKeys || s.i >= len(s.data) || s.data[s.i] != '"' {
			return false
		}
		start, end, ok := s.str()
		if !ok || !s.goodKey(base, start, end) {
			return false
		}
		s.space()
		if s.i >= len(s.data) || s.data[s.i] != ':' {
			return false
		}
		s.i++
		s.space()
		if !s.value(depth) {
			return false
		}
		if more, ok := s.after('}'); !more {
			return ok
		}
	}
}

// after reads what follows a member or an element: a comma, which means
// more (true, true), or the closing delimiter (false, true).
func (s *scanner) after(closing byte) (more, ok bool) {
	s.space()
	if s.i >= len(s.data) {
		return false, false
	}
	switch s.data[s.i] {
	case ',':
		s.i++
		s.space()
		return true, true
	case closing:
		s.i++
		return false, true
	}
	return false, false
}

// goodKey checks the key data[start:end] (without quotes and escapes) of
// the object whose keys start at s.keys[base], and records it.
func (s *scanner) goodKey(base, start, end int) bool {
	key := s.data[start:end]
	if !s.names.exact[string(key)] {
		// Not a field name: encoding/json refuses it as unknown, unless it
		// is one in another case, which it would match. Non-ASCII keys
		// fold in ways ASCII lower case does not see: the walker decides.
		for _, c := range key {
			if c >= utf8.RuneSelf {
				return false
			}
		}
		if s.names.lower[asciiLower(string(key))] {
			return false
		}
	}
	for _, k := range s.keys[base:] {
		if string(s.data[k[0]:k[1]]) == string(key) {
			return false
		}
	}
	s.keys = append(s.keys, [2]int{start, end})
	return true
}

func (s *scanner) array(depth int) bool {
	if depth > MaxDepth {
		return false
	}
	s.i++ // '['
	s.space()
	if s.i < len(s.data) && s.data[s.i] == ']' {
		s.i++
		return true
	}
	for {
		if !s.value(depth) {
			return false
		}
		if more, ok := s.after(']'); !more {
			return ok
		}
	}
}

// str scans a string and returns the range of its contents. A string with
// an escape of a surrogate (\uD800–\uDFFF) is refused, pair or not (the
// walker tells the two apart), and so is a key with any escape, which the
// scan cannot compare.
func (s *scanner) str() (start, end int, ok bool) {
	s.i++ // '"'
	start = s.i
	escaped := false
	for s.i < len(s.data) {
		switch c := s.data[s.i]; {
		case c == '"':
			end = s.i
			s.i++
			if escaped && s.i < len(s.data) && s.next() == ':' {
				return 0, 0, false // an escaped key
			}
			return start, end, true
		case c == '\\':
			if s.i+1 >= len(s.data) {
				return 0, 0, false
			}
			if s.data[s.i+1] == 'u' {
				if s.i+5 >= len(s.data) {
					return 0, 0, false
				}
				if h := s.data[s.i+2]; (h == 'd' || h == 'D') && isSurrogateNibble(s.data[s.i+3]) {
					return 0, 0, false
				}
			}
			escaped = true
			s.i += 2
		case c < 0x20:
			return 0, 0, false
		default:
			s.i++
		}
	}
	return 0, 0, false
}

// next is the first byte after white space from s.i, without moving.
func (s *scanner) next() byte {
	for j := s.i; j < len(s.data); j++ {
		switch s.data[j] {
		case ' ', '\t', '\n', '\r':
		default:
			return s.data[j]
		}
	}
	return 0
}

func isSurrogateNibble(c byte) bool {
	return c >= '8' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
