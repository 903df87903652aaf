package zatca

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
)

// Namespaces the invoice hash looks for. Elements are matched by namespace
// URI and local name, never by prefix.
const (
	hashNSInvoice = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
	hashNSExt     = "urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2"
	hashNSCAC     = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
	hashNSCBC     = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
)

// ErrNotInvoice is returned by InvoiceHash and InvoiceHashInput when the
// document element is not a UBL 2.1 Invoice (credit and debit notes are
// Invoices too in ZATCA's profile).
var ErrNotInvoice = errors.New("document element is not a UBL Invoice")

// InvoiceHash returns the ZATCA invoice hash of doc (spec/zatca.md §1): the
// SHA-256 of InvoiceHashInput(doc), raw and in base64. The base64 form is
// the DigestValue of the invoiceSignedData reference, QR tag 6 and the next
// document's PIH.
func InvoiceHash(doc []byte) (digest [32]byte, b64 string, err error) {
	in, err := InvoiceHashInput(doc)
	if err != nil {
		return digest, "", err
	}
	digest = sha256.Sum256(in)
	return digest, base64.StdEncoding.EncodeToString(digest[:]), nil
}

// InvoiceHashInput returns the bytes the invoice hash is taken over: doc
// with the children of Invoice that BR-KSA-26 excludes cut out as exact
// substrings, then canonicalised with C14N 1.1 (Canonicalize). The excluded
// children are ext:UBLExtensions (which holds the XAdES signature), every
// cac:AdditionalDocumentReference whose cbc:ID is QR, and cac:Signature
// (the body element, not the ds:Signature inside the extensions). The
// white space around them stays, as the SDK's hashes require (§1.4).
//
// Only direct children of the document element are excluded; elements of
// the same name deeper down are hashed. Content inside an excluded element
// is tokenised and its tags matched, but is not otherwise checked, since it
// does not reach the hash.
func InvoiceHashInput(doc []byte) ([]byte, error) {
	cuts, err := invoiceHashCuts(doc)
	if err != nil {
		return nil, err
	}
	return hashInput(doc, cuts)
}

// hashInput is InvoiceHashInput for doc and its cuts (invoiceHashCuts).
func hashInput(doc []byte, cuts [][2]int) ([]byte, error) {
	kept := doc
	if len(cuts) > 0 {
		kept = make([]byte, 0, len(doc))
		at := 0
		for _, c := range cuts {
			kept = append(kept, doc[at:c[0]]...)
			at = c[1]
		}
		kept = append(kept, doc[at:]...)
	}
	out, err := Canonicalize(kept)
	if err != nil {
		return nil, fmt.Errorf("invoice hash: %w", err)
	}
	return out, nil
}

// invoiceHashCuts returns the byte ranges [start, end) of the children of
// the document element that the invoice hash excludes, in document order.
func invoiceHashCuts(doc []byte) ([][2]int, error) {
	d := xml.NewDecoder(bytes.NewReader(doc))
	var h hashCuts
	h.init()
	for {
		start := d.InputOffset()
		tok, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, h.tokenError(d, err)
		}
		if err := h.token(tok, start, d.InputOffset()); err != nil {
			return nil, err
		}
	}
	return h.end()
}

// hashCuts finds the children of the document element that the invoice
// hash excludes, one raw token (xml.Decoder.RawToken) at a time.
type hashCuts struct {
	scope c14nScope
	open  []c14nOpen
	cuts  [][2]int
	// The child of Invoice being read; set at its start tag.
	childStart int64
	cut        bool // excluded whatever its content
	docRef     bool // an AdditionalDocumentReference: excluded if its cbc:ID is QR
	inID       bool // inside a cbc:ID child of that reference
	id         []byte
}

func (h *hashCuts) init() { h.scope.init() }

// tokenError is the error for the tokenizer's error err.
func (h *hashCuts) tokenError(d *xml.Decoder, err error) error {
	return fmt.Errorf("invoice hash: %w", &C14NError{Offset: d.InputOffset(), Err: err})
}

// token takes the next raw token, which spans [start, end) of the document.
func (h *hashCuts) token(tok xml.Token, start, end int64) error {
	switch t := tok.(type) {
	case xml.StartElement:
		mark := len(h.scope.b)
		for _, a := range t.Attr {
			switch {
			case a.Name.Space == "xmlns":
				h.scope.push(a.Name.Local, a.Value)
			case a.Name.Space == "" && a.Name.Local == "xmlns":
				h.scope.push("", a.Value)
			}
		}
		uri, ok := h.scope.lookup(t.Name.Space)
		if !ok {
			return fmt.Errorf("invoice hash: element <%s> at byte %d: namespace prefix %q is not declared", c14nQName(t.Name), start, t.Name.Space)
		}
		h.open = append(h.open, c14nOpen{name: t.Name, mark: mark})
		switch len(h.open) {
		case 1:
			if uri != hashNSInvoice || t.Name.Local != "Invoice" {
				return fmt.Errorf("invoice hash: %w: found {%s}%s", ErrNotInvoice, uri, t.Name.Local)
			}
		case 2:
			h.childStart = start
			h.cut = uri == hashNSExt && t.Name.Local == "UBLExtensions" ||
				uri == hashNSCAC && t.Name.Local == "Signature"
			h.docRef = uri == hashNSCAC && t.Name.Local == "AdditionalDocumentReference"
		case 3:
			if h.docRef && uri == hashNSCBC && t.Name.Local == "ID" {
				h.inID, h.id = true, h.id[:0]
			}
		}
	case xml.EndElement:
		n := len(h.open)
		if n == 0 || h.open[n-1].name != t.Name {
			return fmt.Errorf("invoice hash: end tag </%s> at byte %d does not match the open element", c14nQName(t.Name), start)
		}
		h.scope.popTo(h.open[n-1].mark)
		h.open = h.open[:n-1]
		switch n {
		case 3:
			if h.inID {
				h.inID = false
				// XPath cbc:ID='QR': the string value, compared exactly.
				h.cut = h.cut || string(h.id) == "QR"
			}
		case 2:
			if h.cut {
				h.cuts = append(h.cuts, [2]int{int(h.childStart), int(end)})
			}
		}
	case xml.CharData:
		if h.inID {
			h.id = append(h.id, t...)
		}
	case xml.Directive:
		err := ErrC14NDoctype
		if !bytes.HasPrefix(t, []byte("DOCTYPE")) {
			err = fmt.Errorf("unexpected markup declaration <!%.20s", t)
		}
		return fmt.Errorf("invoice hash: %w", &C14NError{Offset: start, Err: err})
	}
	return nil
}

// end returns the cuts once the tokens have run out.
func (h *hashCuts) end() ([][2]int, error) {
	if len(h.open) > 0 {
		return nil, fmt.Errorf("invoice hash: unexpected end of document: <%s> is not closed", c14nQName(h.open[len(h.open)-1].name))
	}
	return h.cuts, nil
}
