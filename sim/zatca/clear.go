package zatcasim

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"

	"github.com/egsd/egsd/stamping/zatca"
)

// clearedInvoice returns the base64 clearedInvoice for a verified standard
// document with invoice hash hash: the document re-stamped by the
// simulator (see handleSubmission). Should re-stamping fail (a document
// laid out unlike ZATCA's, whose prefixes the new signature block cannot
// rely on), the submitted document is returned as it is.
func (s *Server) clearedInvoice(doc []byte, hash string) string {
	out, err := s.restamp(doc, hash)
	if err != nil {
		s.logf("clearance: cannot re-stamp the invoice (%v); answering it unchanged", err)
		out = doc
	}
	return base64.StdEncoding.EncodeToString(out)
}

// restamp replaces the unit's stamp with the simulator's: a new
// ext:UBLExtensions signed by the CA key over the same invoice digest
// (§2.5), with the CA certificate, and a QR with tags 1–5 as before and
// 6–8 from the new signature (§3.2). Nothing the invoice hash covers
// changes (§1). The result must pass zatca.Verify with the same hash.
func (s *Server) restamp(doc []byte, hash string) ([]byte, error) {
	ext, qr, err := locateStamp(doc)
	if err != nil {
		return nil, err
	}
	oldQR, err := zatca.DecodeQR(string(doc[qr[0]:qr[1]]))
	if err != nil {
		return nil, err
	}
	digest, err := base64.StdEncoding.DecodeString(hash)
	if err != nil {
		return nil, err
	}
	der, err := s.caKey.SignSHA256(digest)
	if err != nil {
		return nil, err
	}
	date, clock := zatca.IssueDateTime(s.now())
	sig := &zatca.Signature{
		InvoiceHash: hash, SignatureValue: base64.StdEncoding.EncodeToString(der),
		Certificate: s.caCert.Base64(), IssuerName: s.caCert.IssuerName,
		SerialNumber: s.caCert.SerialNumber.String(), SigningTime: date + "T" + clock,
	}
	q := zatca.QR{SellerName: oldQR.SellerName, VATNumber: oldQR.VATNumber, Timestamp: oldQR.Timestamp,
		Total: oldQR.Total, VATTotal: oldQR.VATTotal,
		InvoiceHash: hash, SignatureValue: sig.SignatureValue, PublicKey: s.caCert.PublicKeyDER}
	qrText, err := q.Encode(true, false)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.Write(doc[:ext[0]])
	b.WriteString(sig.UBLExtensions())
	b.Write(doc[ext[1]:qr[0]])
	b.WriteString(qrText)
	b.Write(doc[qr[1]:])
	out := b.Bytes()
	v, err := zatca.Verify(out)
	if err != nil {
		return nil, fmt.Errorf("re-stamped invoice does not verify: %w", err)
	}
	if v.Hash != hash {
		return nil, errors.New("re-stamping changed the invoice hash")
	}
	return out, nil
}

// locateStamp finds, among the children of the document element, the byte
// range of ext:UBLExtensions and that of the QR text (the content of
// EmbeddedDocumentBinaryObject in the AdditionalDocumentReference whose
// cbc:ID is QR). Elements are matched by namespace URI; the UBLExtensions
// must come before the QR reference, as in every ZATCA document.
func locateStamp(doc []byte) (ext, qr [2]int, err error) {
	d := xml.NewDecoder(bytes.NewReader(doc))
	type open struct {
		space, local string
		decls        map[string]string
	}
	var stack []open
	lookup := func(prefix string) string {
		for i := len(stack) - 1; i >= 0; i-- {
			if u, ok := stack[i].decls[prefix]; ok {
				return u
			}
		}
		return ""
	}
	var (
		foundExt, foundQR bool
		inRef, isQR, inID bool
		id                []byte
		objStart          int64
		refObj            [2]int
	)
	for {
		start := d.InputOffset()
		tok, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return ext, qr, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			o := open{local: t.Name.Local, decls: map[string]string{}}
			for _, a := range t.Attr {
				switch {
				case a.Name.Space == "xmlns":
					o.decls[a.Name.Local] = a.Value
				case a.Name.Space == "" && a.Name.Local == "xmlns":
					o.decls[""] = a.Value
				}
			}
			stack = append(stack, o)
			stack[len(stack)-1].space = lookup(t.Name.Space)
			o = stack[len(stack)-1]
			switch depth := len(stack); {
			case depth == 2 && o.space == nsExt && o.local == "UBLExtensions":
				ext[0] = int(start)
			case depth == 2 && o.space == nsCAC && o.local == "AdditionalDocumentReference":
				inRef, isQR = true, false
			case depth == 3 && inRef && o.space == nsCBC && o.local == "ID":
				inID, id = true, id[:0]
			case depth == 4 && inRef && o.space == nsCBC && o.local == "EmbeddedDocumentBinaryObject":
				objStart = d.InputOffset()
			}
		case xml.EndElement:
			if len(stack) == 0 {
				return ext, qr, errors.New("unbalanced end tag")
			}
			o := stack[len(stack)-1]
			switch depth := len(stack); {
			case depth == 2 && o.space == nsExt && o.local == "UBLExtensions":
				ext[1], foundExt = int(d.InputOffset()), true
			case depth == 3 && inID:
				inID, isQR = false, string(id) == "QR"
			case depth == 4 && inRef && o.space == nsCBC && o.local == "EmbeddedDocumentBinaryObject":
				refObj = [2]int{int(objStart), int(start)}
			case depth == 2 && inRef:
				inRef = false
				if isQR && !foundQR {
					qr, foundQR = refObj, true
				}
			}
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if inID {
				id = append(id, t...)
			}
		}
	}
	if !foundExt || !foundQR {
		return ext, qr, errors.New("no ext:UBLExtensions or no QR reference")
	}
	if ext[1] > qr[0] {
		return ext, qr, errors.New("the QR reference comes before ext:UBLExtensions")
	}
	return ext, qr, nil
}
