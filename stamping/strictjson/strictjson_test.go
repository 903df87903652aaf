package strictjson_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/egsd/egsd/stamping/strictjson"
)

type inner struct {
	Code  string `json:"code"`
	Count int8   `json:"count"`
}

type embedded struct {
	Extra string `json:"extra"`
}

// request has one field of each shape the API's bodies use.
type request struct {
	embedded
	Name     string            `json:"name"`
	Flag     *bool             `json:"flag"`
	Items    []inner           `json:"items"`
	Inner    *inner            `json:"inner"`
	Labels   map[string]string `json:"labels"`
	Any      any               `json:"any"`
	Raw      json.RawMessage   `json:"raw"`
	When     time.Time         `json:"when"`
	Bytes    []byte            `json:"bytes"`
	Size     uint16            `json:"size"`
	Ratio    float32           `json:"ratio"`
	Untagged string
	Skipped  string `json:"-"`
	private  string // encoding/json does not see unexported fields
}

func TestDecodeRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, body, field, rule string
	}{
		{"empty", ``, "body", "is empty; send a JSON object"},
		{"white space", " \n\t", "body", "is empty"},
		{"truncated object", `{"name":"x"`, "body", "is truncated JSON: it ends after byte 11"},
		{"truncated string", `{"name":"x`, "body", "is truncated JSON"},
		{"syntax", `{"name" "x"}`, "body", "is not valid JSON (line 1, byte 9)"},
		{"syntax on line 2", "{\n\"name\":x}", "body", "(line 2, byte 10)"},
		{"invalid UTF-8", "{\"name\":\"\xc3\x28\"}", "body", "is not valid UTF-8 (byte 10)"},
		{"trailing object", `{}{}`, "body", "has data after the JSON object, at byte 3"},
		{"trailing garbage", `{} x`, "body", "has data after"},
		{"array for the object", `[]`, "body", "must be a JSON object, not an array"},
		{"string for the object", `"x"`, "body", "must be a JSON object, not a string"},

		{"unknown field", `{"nmae":"x"}`, "nmae", "is not a field of this request; check the spelling"},
		{"upper-case name", `{"NAME":"x"}`, "NAME", `field names are case-sensitive — did you mean "name"?`},
		{"title-case nested", `{"items":[{},{"Code":"x"}]}`, "items[1].Code", `did you mean "code"?`},
		{"case of a promoted field", `{"Extra":"x"}`, "Extra", `did you mean "extra"?`},
		{"case of an untagged field", `{"untagged":"x"}`, "untagged", `did you mean "Untagged"?`},
		{"skipped field", `{"Skipped":"x"}`, "Skipped", "is not a field"},
		{"empty key", `{"":"x"}`, `""`, "is not a field"},
		{"key with a dot", `{"labels":{"a.b":"x","a.b":"y"}}`, `labels."a.b"`, "appears twice"},
		{"unexported field", `{"private":"x"}`, "private", "is not a field"},

		{"duplicate at the top", `{"name":"a","name":"b"}`, "name", "appears twice in the object"},
		{"duplicate after a null", `{"inner":null,"inner":{}}`, "inner", "appears twice"},
		{"duplicate in an array element", `{"items":[{"code":"a"},{"code":"a","code":"b"}]}`, "items[1].code", "appears twice"},
		{"duplicate in a map", `{"labels":{"a":"1","a":"2"}}`, "labels.a", "appears twice"},
		{"duplicate deep in any", `{"any":{"x":[{"y":1,"y":2}]}}`, "any.x[0].y", "appears twice"},
		{"duplicate in a raw message", `{"raw":{"k":1,"k":1}}`, "raw.k", "appears twice"},

		{"number for a string", `{"name":1}`, "name", "must be a JSON string, not a number"},
		{"string for a bool", `{"flag":"true"}`, "flag", "must be a JSON boolean, not a string"},
		{"object for an array", `{"items":{}}`, "items", "must be a JSON array, not an object"},
		{"array for a struct", `{"inner":[]}`, "inner", "must be a JSON object, not an array"},
		{"string for a number", `{"inner":{"count":"1"}}`, "inner.count", "must be a JSON number, not a string"},
		{"int8 overflow", `{"inner":{"count":128}}`, "inner.count", "must be a whole number that fits 8 bits"},
		{"fraction for an int", `{"inner":{"count":1.5}}`, "inner.count", "whole number"},
		{"negative uint", `{"size":-1}`, "size", "from 0"},
		{"float32 overflow", `{"ratio":1e39}`, "ratio", "32-bit float"},
		{"number for bytes", `{"bytes":1}`, "bytes", "must be a JSON string"},
		{"number in a map of strings", `{"labels":{"a":1}}`, "labels.a", "must be a JSON string"},

		{"lone high surrogate", `{"name":"\ud800"}`, "name", `contains the escape \ud800`},
		{"lone low surrogate", `{"items":[{"code":"a\udfffb"}]}`, "items[0].code", `\udfff`},
		{"surrogate in a key", `{"labels":{"\ud800":"x"}}`, "labels", `\ud800`},
		{"surrogate deep in any", `{"any":["\udc00"]}`, "any[0]", `\udc00`},
		{"too deep", `{"any":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`, "any" + strings.Repeat("[0]", strictjson.MaxDepth-1), "deeper than"},
		{"bad time", `{"when":"yesterday"}`, "body", "is not valid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v request
			err := strictjson.Decode([]byte(tc.body), &v, "")
			var e *strictjson.Error
			if !errors.As(err, &e) {
				t.Fatalf("Decode(%q) = %v, want a *strictjson.Error", tc.body, err)
			}
			if e.Field != tc.field || !strings.Contains(e.Rule, tc.rule) {
				t.Errorf("Decode(%q) = %q, want field %q and a rule with %q", tc.body, err, tc.field, tc.rule)
			}
		})
	}
}

func TestDecodeAccepts(t *testing.T) {
	yes := true
	body := `{"name":"a\"\\u00e9\u00e9","flag":true,"items":[{"code":"x","count":-128},{}],"inner":{"count":127},
		"labels":{"a":"1","A":"2"},"any":{"k":[1,"two",null,{"k":{}}]},"raw":{"r":[1]},"when":"2026-01-02T03:04:05Z",
		"bytes":"AQI=","size":65535,"ratio":0.5,"Untagged":"u","extra":"e","note":null}`
	body = strings.Replace(body, `,"note":null`, ``, 1)
	var got request
	if err := strictjson.Decode([]byte(body), &got, ""); err != nil {
		t.Fatal(err)
	}
	want := request{
		embedded: embedded{Extra: "e"}, Name: `a"\u00e9é`, Flag: &yes,
		Items: []inner{{Code: "x", Count: -128}, {}}, Inner: &inner{Count: 127},
		Labels: map[string]string{"a": "1", "A": "2"}, Any: map[string]any{"k": []any{1.0, "two", nil, map[string]any{"k": map[string]any{}}}},
		Raw: json.RawMessage(`{"r":[1]}`), When: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Bytes: []byte{1, 2},
		Size: 65535, Ratio: 0.5, Untagged: "u",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Decode =\n%#v\nwant\n%#v", got, want)
	}
	// null at the top leaves the value alone, as encoding/json does.
	if err := strictjson.Decode([]byte(`null`), &got, ""); err != nil || got.Name != want.Name {
		t.Errorf("Decode(null) = %v, changed %q", err, got.Name)
	}
}

// TestDecodeNamesTheBody: what names the object in messages.
func TestDecodeNamesTheBody(t *testing.T) {
	var v struct{}
	for body, want := range map[string]string{
		``:        "body: is empty; send a JSON sale object",
		`{}{}`:    "body: has data after the sale object",
		`{"x":1}`: "x: is not a field of a sale;",
	} {
		if err := strictjson.Decode([]byte(body), &v, "a sale"); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("Decode(%q) = %v, want %q", body, err, want)
		}
	}
}

// FuzzDecode: Decode never panics; what it accepts encoding/json accepts
// to the same value, and what it refuses is an *Error with a field.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"name":"x","items":[{"code":"a","count":1}],"labels":{"a":"b"},"any":[{"a":1}]}`,
		`{"name":"a","name":"b"}`, `{"NAME":"x"}`, `{"name":"\ud800"}`, `{"raw":{"k":1}}`, `{}`, `[]`, ``} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var got request
		err := strictjson.Decode([]byte(body), &got, "")
		if err != nil {
			var e *strictjson.Error
			if !errors.As(err, &e) || e.Field == "" || e.Rule == "" {
				t.Fatalf("Decode(%q) = %v, want an *Error with a field and a rule", body, err)
			}
			return
		}
		var want request
		dec := json.NewDecoder(strings.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&want); err != nil {
			t.Fatalf("Decode accepted %q, which encoding/json refuses: %v", body, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Decode(%q) = %#v, encoding/json %#v", body, got, want)
		}
	})
}
