package strictjson

import (
	"errors"
	"reflect"
	"testing"
)

type scanLine struct {
	Name     string  `json:"name"`
	Quantity *string `json:"quantity"`
}

type scanBody struct {
	Kind  string     `json:"kind"`
	Lines []scanLine `json:"lines"`
	Buyer *struct {
		Name string `json:"name"`
	} `json:"buyer"`
	Labels map[string]string `json:"labels"`
	Any    any               `json:"any"`
	Count  int8              `json:"count"`
}

// TestCleanBody: the scan vouches for ordinary bodies and passes every
// kind of trouble to the walker.
func TestCleanBody(t *testing.T) {
	n := namesOf(reflect.TypeFor[scanBody]())
	for body, want := range map[string]bool{
		`{"kind":"invoice","lines":[{"name":"Tea","quantity":"2"}],"buyer":{"name":"Ali"}}`:      true,
		` {"kind" : "a\"b\\c\u00e9\ud83d\ude00" , "count" : -12 , "any":[true,false,null,1e3]} `: false, // a surrogate escape: the walker decides
		`{"kind":"a\"b\\c\u00e9","count":-12,"any":[true,false,null,1e3,{}]}`:                    true,
		`{"Kind":"x"}`:            false, // another case of a field name
		`{"kind":"x","kind":"y"}`: false,
		`{"lines":[{"name":"a"},{"name":"b","name":"c"}]}`: false,
		`{"lines":[{"name":"a"},{"name":"b"}]}`:            true,  // the same key in sibling objects
		`{"k\u0069nd":"x"}`:                                false, // an escaped key
		`{"kınd":"x"}`:                                     false, // a non-ASCII key that is not a name
		`{"colour":"red"}`:                                 true,  // unknown: encoding/json refuses it
		`{"kind":"x"} {}`:                                  false,
		`{"kind":"x"`:                                      false,
		``:                                                 false,
		`null`:                                             true,
		"{\"kind\":\"\xff\"}":                              false,
	} {
		if got := cleanBody([]byte(body), n); got != want {
			t.Errorf("cleanBody(%s) = %v, want %v", body, got, want)
		}
	}
}

// FuzzScanAgreesWithWalker: Decode, which trusts the scan for clean
// bodies, accepts and refuses exactly what the walker alone does, with
// the same value and the same error.
func FuzzScanAgreesWithWalker(f *testing.F) {
	for _, s := range []string{
		`{"kind":"invoice","lines":[{"name":"Tea","quantity":"2"}],"buyer":{"name":"Ali"},"labels":{"a":"b"},"count":3}`,
		`{"kind":"x","kind":"y"}`, `{"KIND":"x"}`, `{"labels":{"Kind":"x","kind":"y"}}`, `{"any":{"a":1,"a":2}}`,
		`{"kind":"\ud800"}`, `{"count":300}`, `{"lines":{}}`, `{"kind":1}`, `{}{}`, `[`, `null`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var fast, slow scanBody
		errFast := Decode([]byte(body), &fast, "")
		errSlow := decodeWalking([]byte(body), reflect.ValueOf(&slow), "")
		var ef, es *Error
		errors.As(errFast, &ef)
		errors.As(errSlow, &es)
		if (errFast == nil) != (errSlow == nil) || (ef != nil) != (es != nil) || ef != nil && *ef != *es {
			t.Fatalf("body %q: Decode = %v, the walker = %v", body, errFast, errSlow)
		}
		if errFast == nil && !reflect.DeepEqual(fast, slow) {
			t.Fatalf("body %q: Decode = %#v, the walker = %#v", body, fast, slow)
		}
	})
}
