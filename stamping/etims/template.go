package etims

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// templatePrefix is how every stored sale template begins: the two
// numbers KRA's sequence fills at the first submission, both zero.
const templatePrefix = `{"invcNo":0,"orgInvcNo":0,`

// ErrNotNumbered is returned (wrapped) for a sale request whose invcNo
// is still zero: a template, which is never sent to KRA.
var ErrNotNumbered = errors.New("the sale has no KRA invoice number yet")

// Template writes a sale request with invcNo and orgInvcNo zero: the
// document the unit stores at issue. Its bytes are final; [Number] makes
// the request that is sent from it.
func Template(r *SaleRequest) ([]byte, error) {
	if r.InvcNo != 0 || r.OrgInvcNo != 0 {
		return nil, errors.New("etims: a template has invcNo and orgInvcNo 0")
	}
	b, err := Marshal(r)
	if err != nil {
		return nil, err
	}
	if !bytes.HasPrefix(b, []byte(templatePrefix)) {
		return nil, errors.New("etims: the template does not begin with its numbers")
	}
	return b, nil
}

// Number returns the request that is sent to KRA for a stored template:
// the same bytes with invcNo and orgInvcNo written in place, so that
// nothing else is re-serialised. invcNo is the document's number in KRA's
// gap-free sequence ([Sequence]); orgInvcNo is, on a credit note, the
// invcNo its original was accepted under, and 0 on a sale.
//
// A credit note must name an original numbered before it; a sale must not
// name one.
func Number(template []byte, invcNo, orgInvcNo int64) ([]byte, error) {
	if !bytes.HasPrefix(template, []byte(templatePrefix)) {
		return nil, errors.New("etims: not a sale template (it does not begin with zero invcNo and orgInvcNo)")
	}
	if invcNo < 1 {
		return nil, fmt.Errorf("etims: invcNo %d: KRA's sequence starts at 1", invcNo)
	}
	var r struct {
		RcptTyCd string `json:"rcptTyCd"`
	}
	if err := json.Unmarshal(template, &r); err != nil {
		return nil, fmt.Errorf("etims: not a sale request: %w", err)
	}
	switch r.RcptTyCd {
	case "R":
		if orgInvcNo < 1 || orgInvcNo >= invcNo {
			return nil, fmt.Errorf("etims: a credit note (invcNo %d) needs the invcNo of its original, issued before it, not %d", invcNo, orgInvcNo)
		}
	default:
		if orgInvcNo != 0 {
			return nil, fmt.Errorf("etims: a sale has orgInvcNo 0, not %d", orgInvcNo)
		}
	}
	head := `{"invcNo":` + strconv.FormatInt(invcNo, 10) + `,"orgInvcNo":` + strconv.FormatInt(orgInvcNo, 10) + `,`
	out := make([]byte, 0, len(template)+len(head))
	out = append(out, head...)
	return append(out, template[len(templatePrefix):]...), nil
}

// Numbers reads invcNo and orgInvcNo of a sale request (numbered or a
// template), without the rest.
func Numbers(req []byte) (invcNo, orgInvcNo int64, err error) {
	var r struct {
		InvcNo    *int64 `json:"invcNo"`
		OrgInvcNo *int64 `json:"orgInvcNo"`
	}
	if err := json.Unmarshal(req, &r); err != nil {
		return 0, 0, fmt.Errorf("etims: not a sale request: %w", err)
	}
	if r.InvcNo == nil || r.OrgInvcNo == nil {
		return 0, 0, errors.New("etims: not a sale request: it has no invcNo or orgInvcNo")
	}
	return *r.InvcNo, *r.OrgInvcNo, nil
}
