package zatca

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"

	"github.com/egsd/egsd/stamping/cert"
	"github.com/egsd/egsd/stamping/keystore"
)

// verifyView is the part of a signed ZATCA document that Verify reads.
// encoding/xml matches elements by namespace URI and local name, so any
// prefix bindings work.
type verifyView struct {
	Extensions struct {
		Signature struct {
			Digests        []xmlReference `xml:"SignedInfo>Reference"`
			SignatureValue string         `xml:"SignatureValue"`
			Certificate    string         `xml:"KeyInfo>X509Data>X509Certificate"`
			Signed         struct {
				SigningTime string `xml:"SignedSignatureProperties>SigningTime"`
				CertDigest  string `xml:"SignedSignatureProperties>SigningCertificate>Cert>CertDigest>DigestValue"`
				Issuer      string `xml:"SignedSignatureProperties>SigningCertificate>Cert>IssuerSerial>X509IssuerName"`
				Serial      string `xml:"SignedSignatureProperties>SigningCertificate>Cert>IssuerSerial>X509SerialNumber"`
			} `xml:"Object>QualifyingProperties>SignedProperties"`
		} `xml:"UBLExtension>ExtensionContent>UBLDocumentSignatures>SignatureInformation>Signature"`
	} `xml:"urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2 UBLExtensions"`
	ID        string `xml:"urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2 ID"`
	UUID      string `xml:"urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2 UUID"`
	IssueDate string `xml:"urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2 IssueDate"`
	IssueTime string `xml:"urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2 IssueTime"`
	TypeCode  struct {
		Name string `xml:"name,attr"`
		Code string `xml:",chardata"`
	} `xml:"urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2 InvoiceTypeCode"`
	References []struct {
		ID     string `xml:"urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2 ID"`
		UUID   string `xml:"urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2 UUID"`
		Binary string `xml:"Attachment>EmbeddedDocumentBinaryObject"`
	} `xml:"urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2 AdditionalDocumentReference"`
	Seller struct {
		Name string `xml:"Party>PartyLegalEntity>RegistrationName"`
		VAT  string `xml:"Party>PartyTaxScheme>CompanyID"`
	} `xml:"urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2 AccountingSupplierParty"`
	TaxTotals []struct {
		Amount struct {
			Value    string `xml:",chardata"`
			Currency string `xml:"currencyID,attr"`
		} `xml:"TaxAmount"`
		Subtotals []struct{} `xml:"TaxSubtotal"`
	} `xml:"urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2 TaxTotal"`
	TaxCurrency string `xml:"urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2 TaxCurrencyCode"`
	Totals      struct {
		Payable string `xml:"PayableAmount"`
	} `xml:"urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2 LegalMonetaryTotal"`
}

type xmlReference struct {
	ID     string `xml:"Id,attr"`
	URI    string `xml:"URI,attr"`
	Digest string `xml:"DigestValue"`
}

// Verified is what Verify learned about a document.
type Verified struct {
	Hash       string // the recomputed invoice hash (base64)
	ICV        uint64
	PIH        string
	ID         string
	Simplified bool

	// What the document says, as Verify read it (set whenever the XML
	// could be read, whatever the checks found), so that a caller with
	// checks of its own need not decode the document again.
	UUID         string // cbc:UUID
	TypeCode     string // cbc:InvoiceTypeCode
	TypeCodeName string // its name attribute (01… standard, 02… simplified)
	IssueDate    string // cbc:IssueDate
	IssueTime    string // cbc:IssueTime
	SellerVAT    string // the seller's PartyTaxScheme CompanyID
	Certificate  string // the stamp's ds:X509Certificate (base64), as written
}

// Verify checks a signed ZATCA document: the invoice hash recomputed with
// C14N 1.1 against the signed DigestValue, the ECDSA signature against the
// embedded certificate, the certificate and SignedProperties digests, and
// every QR tag against the XML it restates (spec/zatca.md §1–3). It returns
// what it verified and the first problem found.
func Verify(doc []byte) (*Verified, error) {
	// One tokenisation of the document serves both the decoding of the
	// view and the invoice hash: plainly (plainTokens, plainDecoder) for
	// the documents egsd and ZATCA write, else by encoding/xml, which reads
	// every document (its errors are the ones reported).
	r, v, hash, err := readPlain(doc)
	if err == errNotPlain {
		if r, v, err = readXML(doc); err != nil {
			return nil, fmt.Errorf("not a readable UBL invoice: %w", err)
		}
	}
	out := &Verified{ID: v.ID, Simplified: len(v.TypeCode.Name) >= 2 && v.TypeCode.Name[:2] == "02",
		UUID: v.UUID, TypeCode: v.TypeCode.Code, TypeCodeName: v.TypeCode.Name, IssueDate: v.IssueDate, IssueTime: v.IssueTime,
		SellerVAT: v.Seller.VAT, Certificate: v.Extensions.Signature.Certificate}
	var qrText string
	for _, r := range v.References {
		switch r.ID {
		case "ICV":
			n, err := strconv.ParseUint(r.UUID, 10, 64)
			if err != nil {
				return out, fmt.Errorf("ICV %q is not a number", r.UUID)
			}
			out.ICV = n
		case "PIH":
			out.PIH = r.Binary
		case "QR":
			qrText = r.Binary
		}
	}
	if hash == "" {
		if _, hash, err = r.invoiceHash(); err != nil {
			return out, fmt.Errorf("invoice hash: %w", err)
		}
	}
	out.Hash = hash

	sig := &v.Extensions.Signature
	var signedHash, signedPropsDigest string
	for _, r := range sig.Digests {
		switch {
		case r.ID == "invoiceSignedData":
			signedHash = r.Digest
		case r.URI == "#xadesSignedProperties":
			signedPropsDigest = r.Digest
		}
	}
	if signedHash == "" {
		return out, errors.New("no signed invoice digest (ds:Reference Id=\"invoiceSignedData\"): the document is not stamped")
	}
	if signedHash != hash {
		return out, fmt.Errorf("invoice hash mismatch: the document hashes to %s but its signature covers %s (content changed after signing)", hash, signedHash)
	}
	c, err := ParseCertificate(sig.Certificate)
	if err != nil {
		return out, fmt.Errorf("embedded certificate: %w", err)
	}
	digest, _ := base64.StdEncoding.DecodeString(hash)
	sigBytes, err := base64.StdEncoding.DecodeString(sig.SignatureValue)
	if err != nil {
		return out, fmt.Errorf("SignatureValue is not base64: %w", err)
	}
	if err := keystore.VerifySHA256(c.PublicKeyDER, digest, sigBytes); err != nil {
		return out, fmt.Errorf("signature does not verify with the embedded certificate: %w", err)
	}
	if want := CertDigest(sig.Certificate); sig.Signed.CertDigest != want {
		return out, fmt.Errorf("CertDigest is %s, the certificate's is %s", sig.Signed.CertDigest, want)
	}
	if sig.Signed.Issuer != c.IssuerName || sig.Signed.Serial != c.SerialNumber.String() {
		return out, fmt.Errorf("IssuerSerial (%s, %s) does not name the certificate (%s, %s)", sig.Signed.Issuer, sig.Signed.Serial, c.IssuerName, c.SerialNumber)
	}
	props := &Signature{Certificate: sig.Certificate, IssuerName: sig.Signed.Issuer, SerialNumber: sig.Signed.Serial, SigningTime: sig.Signed.SigningTime}
	if want := props.SignedPropertiesDigest(); signedPropsDigest != want {
		return out, fmt.Errorf("SignedProperties digest is %s, recomputed %s", signedPropsDigest, want)
	}

	if qrText == "" {
		return out, errors.New("no QR (AdditionalDocumentReference ID=QR)")
	}
	if len(qrText) > MaxQRLength {
		return out, fmt.Errorf("QR is %d characters, over ZATCA's %d", len(qrText), MaxQRLength)
	}
	qr, err := DecodeQR(qrText)
	if err != nil {
		return out, err
	}
	vat := ""
	for _, t := range v.TaxTotals {
		if len(t.Subtotals) == 0 && t.Amount.Currency == v.TaxCurrency {
			vat = t.Amount.Value
		}
	}
	checks := []struct {
		tag       int
		got, want string
	}{
		{1, qr.SellerName, v.Seller.Name},
		{2, qr.VATNumber, v.Seller.VAT},
		{3, qr.Timestamp, v.IssueDate + "T" + v.IssueTime},
		{4, qr.Total, v.Totals.Payable},
		{5, qr.VATTotal, vat},
		{6, qr.InvoiceHash, hash},
		{7, qr.SignatureValue, sig.SignatureValue},
		{8, string(qr.PublicKey), string(c.PublicKeyDER)},
	}
	if out.Simplified {
		checks = append(checks, struct {
			tag       int
			got, want string
		}{9, string(qr.CertificateSignature), string(c.Signature)})
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			return out, fmt.Errorf("QR tag %d does not match the document", ch.tag)
		}
	}
	return out, nil
}

// readPlain is Verify's reading of a plain document: the view, and the
// invoice hash from the canonical form written on the way. It returns
// errNotPlain, having decided nothing, for a document it leaves to
// encoding/xml, including every document in which the hash's scan or
// canonicalisation finds a problem (encoding/xml then reports it).
func readPlain(doc []byte) (*verifyReader, verifyView, string, error) {
	var v verifyView
	p, ok := newPlainTokens(doc)
	if !ok {
		return nil, v, "", errNotPlain
	}
	r := newVerifyReader(doc, p)
	d := &plainDecoder{r: r}
	if err := d.decode(&v); err != nil {
		return nil, v, "", errNotPlain
	}
	_, hash, err := r.invoiceHash()
	if err != nil || !r.c14nOK {
		return nil, v, "", errNotPlain
	}
	return r, v, hash, nil
}

// readXML is Verify's reading of any document with encoding/xml: the
// view, and the reader positioned after the document element for the
// invoice hash.
func readXML(doc []byte) (*verifyReader, verifyView, error) {
	var v verifyView
	r := newVerifyReader(doc, nil)
	err := xml.NewTokenDecoder(r).Decode(&v)
	return r, v, err
}

// verifyReader gives Verify's xml.Decoder (xml.NewTokenDecoder) the raw
// tokens of a document, which the decoder then checks and translates as it
// does those it reads itself, and runs the invoice hash over the same
// tokens, so that the document is tokenised once for everything Verify
// reads: the scan for the excluded children (hashCuts, as invoiceHashCuts
// does), and their canonical form, written as the tokens come and cut back
// when a child turns out to be excluded.
//
// The canonical form so written is that of the document with the excluded
// children cut out (what InvoiceHashInput canonicalises) when it was
// written without an error and no excluded child follows a carriage
// return or a ']' (where cutting would join two pieces of text into
// something read differently). Otherwise, or if the excluded content does
// not pass the checks canonicalisation makes of what it keeps, the input
// is made as InvoiceHashInput makes it, with the same result and errors.
//
// A decoder over a TokenReader cannot know the line it is on, which its
// own two syntax errors (an end tag that does not match, the input ending
// inside an element) report; verifyReader finds those first and reports
// them with the line, as the decoder over the bytes would.
type verifyReader struct {
	doc []byte
	// d gives the raw tokens: an xml.Decoder (xd), or plainTokens, which
	// stops at errNotPlain where the decoder's reading could differ.
	d interface {
		RawToken() (xml.Token, error)
		InputOffset() int64
	}
	xd     *xml.Decoder
	plain  bool
	names  []xml.Name // the elements open, for the decoder's two errors
	cuts   hashCuts
	cutErr error // the first error of the scan; the scan stops there

	c14n      c14nState
	c14nOK    bool // c14n.out is so far the canonical form of the kept document
	childMark int  // len(c14n.out) before the current child of the document element
}

// newVerifyReader reads doc with plain, or with an xml.Decoder when plain
// is nil.
func newVerifyReader(doc []byte, plain *plainTokens) *verifyReader {
	r := &verifyReader{doc: doc}
	if plain != nil {
		r.d, r.plain = plain, true
	} else {
		r.xd = xml.NewDecoder(bytes.NewReader(doc))
		r.d = r.xd
	}
	r.cuts.init()
	// The canonical form of a document with a byte order mark is left to
	// Canonicalize, which drops the mark before reading.
	r.c14nOK = !bytes.HasPrefix(doc, []byte("\xEF\xBB\xBF"))
	r.c14n.out = make([]byte, 0, len(doc))
	r.c14n.begin(doc)
	return r
}

func (r *verifyReader) Token() (xml.Token, error) {
	start := r.d.InputOffset()
	tok, err := r.d.RawToken()
	if r.plain && (err != nil && err != io.EOF || err == io.EOF && len(r.names) > 0) {
		return nil, errNotPlain
	}
	if err != nil {
		if r.cutErr == nil && err != io.EOF {
			r.cutErr = r.cuts.tokenError(r.xd, err)
		}
		if tok == nil && err == io.EOF && len(r.names) > 0 {
			line, _ := r.xd.InputPos()
			return nil, &xml.SyntaxError{Msg: "unexpected EOF", Line: line}
		}
		return tok, err
	}
	r.hashToken(tok, start, r.d.InputOffset())
	switch t := tok.(type) {
	case xml.StartElement:
		r.names = append(r.names, t.Name)
	case xml.EndElement:
		n := len(r.names)
		if r.plain {
			if n == 0 || r.names[n-1] != t.Name {
				return nil, errNotPlain
			}
			r.names = r.names[:n-1]
			return tok, nil
		}
		// What xml.Decoder.Token checks of an end tag, in its words.
		line, _ := r.xd.InputPos()
		switch {
		case n == 0:
			return nil, &xml.SyntaxError{Msg: "unexpected end element </" + t.Name.Local + ">", Line: line}
		case r.names[n-1].Local != t.Name.Local:
			return nil, &xml.SyntaxError{Msg: "element <" + r.names[n-1].Local + "> closed by </" + t.Name.Local + ">", Line: line}
		case r.names[n-1].Space != t.Name.Space:
			ns := t.Name.Space
			if ns == "" {
				ns = `""`
			}
			return nil, &xml.SyntaxError{Msg: "element <" + r.names[n-1].Local + "> in space " + r.names[n-1].Space +
				" closed by </" + t.Name.Local + "> in space " + ns, Line: line}
		}
		r.names = r.names[:n-1]
	}
	return tok, nil
}

// hashToken runs the invoice hash's scan and canonicalisation over the raw
// token tok, which spans doc[start:end].
func (r *verifyReader) hashToken(tok xml.Token, start, end int64) {
	if r.cutErr != nil {
		return
	}
	cuts := len(r.cuts.cuts)
	if r.cutErr = r.cuts.token(tok, start, end); r.cutErr != nil || !r.c14nOK {
		return
	}
	if _, ok := tok.(xml.StartElement); ok && len(r.c14n.open) == 1 {
		r.childMark = len(r.c14n.out)
	}
	if r.c14n.token(tok, start, end) != nil {
		r.c14nOK = false
		return
	}
	if len(r.cuts.cuts) > cuts {
		// The child just ended is excluded: take back what was written
		// of it. The scope and open elements are back to the document
		// element's.
		r.c14n.out = r.c14n.out[:r.childMark]
		if at := r.cuts.cuts[cuts][0]; at > 0 && (r.doc[at-1] == '\r' || r.doc[at-1] == ']') {
			r.c14nOK = false
		}
	}
}

// invoiceHash finishes the scan over the rest of the document (after the
// document element, which is where the decoder stops) and returns what
// InvoiceHash returns for it.
func (r *verifyReader) invoiceHash() (digest [32]byte, b64 string, err error) {
	for r.cutErr == nil {
		start := r.d.InputOffset()
		tok, err := r.d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			if r.plain {
				return digest, "", errNotPlain
			}
			r.cutErr = r.cuts.tokenError(r.xd, err)
			break
		}
		r.hashToken(tok, start, r.d.InputOffset())
	}
	if r.cutErr != nil {
		return digest, "", r.cutErr
	}
	cuts, err := r.cuts.end()
	if err != nil {
		return digest, "", err
	}
	in := r.c14n.out
	if !r.c14nOK || r.c14n.finish() != nil {
		if in, err = hashInput(r.doc, cuts); err != nil {
			return digest, "", err
		}
	}
	digest = sha256.Sum256(in)
	return digest, base64.StdEncoding.EncodeToString(digest[:]), nil
}

// certCache holds the certificates Verify parsed, by their exact base64
// text: a unit stamps every document with the same certificate, and
// parsing it is a sizeable part of verifying a document. Parsing is a
// pure function of the text, so a cached result is the same answer.
// The cache is emptied when it reaches certCacheSize entries.
var certCache struct {
	sync.Mutex
	m map[string]*cert.Certificate
}

const certCacheSize = 64

// ParseCertificate is cert.ParseBase64 through a cache of the certificates
// seen last (Verify's, and the simulator's check of who signed). The
// certificate returned may be shared: it must not be modified.
func ParseCertificate(b64 string) (*cert.Certificate, error) {
	certCache.Lock()
	c := certCache.m[b64]
	certCache.Unlock()
	if c != nil {
		return c, nil
	}
	c, err := cert.ParseBase64(b64)
	if err != nil {
		return nil, err
	}
	certCache.Lock()
	if certCache.m == nil || len(certCache.m) >= certCacheSize {
		certCache.m = make(map[string]*cert.Certificate)
	}
	certCache.m[b64] = c
	certCache.Unlock()
	return c, nil
}

// VerifyChain checks that documents, in order, continue one chain: each ICV
// is the previous one plus one, and each PIH is the previous invoice hash.
func VerifyChain(docs []*Verified) error {
	for i := 1; i < len(docs); i++ {
		prev, cur := docs[i-1], docs[i]
		if cur.ICV != prev.ICV+1 {
			return fmt.Errorf("ICV %d follows %d", cur.ICV, prev.ICV)
		}
		if cur.PIH != prev.Hash {
			return fmt.Errorf("document with ICV %d has PIH %s, but the previous document's hash is %s", cur.ICV, cur.PIH, prev.Hash)
		}
	}
	return nil
}
