package etims

import (
	"encoding/json"
	"fmt"
	"io"
)

// CmcKey is the communication key KRA issues once, at initialisation
// (data.info.cmcKey, spec/etims.md §A3), and that every later OSCU call
// sends as a header. It is a secret: String, Format, GoString and
// MarshalJSON never show it, so a value holding one may be logged or
// answered in JSON. The key itself is read only by an explicit
// conversion, string(k), where it is sent or stored.
type CmcKey string

const redacted = "[redacted]"

// String is "[redacted]", or "unset" for an empty key.
func (k CmcKey) String() string {
	if k == "" {
		return "unset"
	}
	return redacted
}

// Format prints String for every verb, so %s, %q, %x or %v cannot show
// the key.
func (k CmcKey) Format(f fmt.State, _ rune) { io.WriteString(f, k.String()) }

// GoString is String, for %#v.
func (k CmcKey) GoString() string { return k.String() }

// MarshalJSON writes String: a key marshalled this way cannot be used.
func (k CmcKey) MarshalJSON() ([]byte, error) { return json.Marshal(k.String()) }

// UnmarshalJSON reads the key from KRA's answer; anything but a string is
// no key.
func (k *CmcKey) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) != nil {
		s = ""
	}
	*k = CmcKey(s)
	return nil
}
