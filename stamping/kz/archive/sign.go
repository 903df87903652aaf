package archive

import (
	"bytes"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"regexp"

	"github.com/egsd/egsd/stamping/keystore"
)

// The algorithms of the signature (XML-DSig 1.1 identifiers).
const (
	dsigNamespace = "http://www.w3.org/2000/09/xmldsig#"
	algC14N       = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
	algEnveloped  = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
	algSHA256     = "http://www.w3.org/2001/04/xmlenc#sha256"
	algECDSA256   = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
)

// ErrVerification wraps every report that a signed record does not
// verify: it was changed after signing, or signed by another key.
var ErrVerification = errors.New("the archive record does not verify")

const signatureStart = `<Signature xmlns="` + dsigNamespace + `">`

// signedInfo is the canonical SignedInfo over a record whose canonical
// body has SHA-256 digest. As a document subset it carries the namespace
// declaration it inherits from Signature (inclusive C14N); inside the
// record the same declaration is written once, on Signature.
func signedInfo(digest []byte, withNamespace bool) []byte {
	var b bytes.Buffer
	if withNamespace {
		b.WriteString(`<SignedInfo xmlns="` + dsigNamespace + `">`)
	} else {
		b.WriteString(`<SignedInfo>`)
	}
	b.WriteString(`<CanonicalizationMethod Algorithm="` + algC14N + `"></CanonicalizationMethod>`)
	b.WriteString(`<SignatureMethod Algorithm="` + algECDSA256 + `"></SignatureMethod>`)
	b.WriteString(`<Reference URI=""><Transforms>`)
	b.WriteString(`<Transform Algorithm="` + algEnveloped + `"></Transform>`)
	b.WriteString(`<Transform Algorithm="` + algC14N + `"></Transform>`)
	b.WriteString(`</Transforms><DigestMethod Algorithm="` + algSHA256 + `"></DigestMethod>`)
	b.WriteString(`<DigestValue>` + base64.StdEncoding.EncodeToString(digest) + `</DigestValue>`)
	b.WriteString(`</Reference></SignedInfo>`)
	return b.Bytes()
}

// signatureElement is the Signature element as Sign writes it.
func signatureElement(digest, rawSig []byte, keyName string) []byte {
	var b bytes.Buffer
	b.WriteString(signatureStart)
	b.Write(signedInfo(digest, false))
	b.WriteString(`<SignatureValue>` + base64.StdEncoding.EncodeToString(rawSig) + `</SignatureValue>`)
	b.WriteString(`<KeyInfo><KeyName>` + keyName + `</KeyName></KeyInfo>`)
	b.WriteString(`</Signature>`)
	return b.Bytes()
}

// signaturePattern reads the three values out of a Signature element;
// the element is then written again from them and must be identical.
var signaturePattern = regexp.MustCompile(`<DigestValue>([A-Za-z0-9+/=]{44})</DigestValue>.*<SignatureValue>([A-Za-z0-9+/=]{88})</SignatureValue><KeyInfo><KeyName>([0-9a-f]{64})</KeyName>`)

// KeyName names a public key in a record's KeyInfo: the lower-case hex
// SHA-256 of its DER SubjectPublicKeyInfo.
func KeyName(spkiDER []byte) string {
	sum := sha256.Sum256(spkiDER)
	return hex.EncodeToString(sum[:])
}

// Sign signs an unsigned record (Build's output) with the unit's key: it
// inserts an enveloped Signature as the root's last child.
func Sign(doc []byte, key *keystore.Key) ([]byte, error) {
	if key == nil {
		return nil, errors.New("archive: sign: no key")
	}
	if bytes.Contains(doc, []byte("<Signature")) {
		return nil, fmt.Errorf("archive: sign: %w: it is signed already", ErrForm)
	}
	if _, err := Parse(doc); err != nil {
		return nil, fmt.Errorf("archive: sign: %w", err)
	}
	return signChecked(doc, key)
}

// signChecked signs doc, an unsigned record known to be in Build's form.
func signChecked(doc []byte, key *keystore.Key) ([]byte, error) {
	body := doc[len(declaration) : len(doc)-1]
	digest := sha256.Sum256(body)
	der, err := key.SignSHA256(signedInfo(digest[:], true))
	if err != nil {
		return nil, fmt.Errorf("archive: sign: %w", err)
	}
	raw, err := rawSignature(der)
	if err != nil {
		return nil, fmt.Errorf("archive: sign: %w", err)
	}
	head := body[:len(body)-len(rootEnd)]
	out := bytes.NewBuffer(make([]byte, 0, len(doc)+1024))
	out.WriteString(declaration)
	out.Write(head)
	out.Write(signatureElement(digest[:], raw, KeyName(key.PublicKeyDER())))
	out.WriteString(rootEnd + "\n")
	return out.Bytes(), nil
}

// Verify checks a signed record against the unit's public key (a DER
// SubjectPublicKeyInfo) and returns what it says. Any change to the
// record after signing — of an element, an attribute, a text, the
// signature itself or the form — is an error wrapping ErrVerification or
// ErrForm.
func Verify(doc []byte, spkiDER []byte) (*Record, error) {
	rest, ok := bytes.CutPrefix(doc, []byte(declaration))
	if !ok {
		return nil, fmt.Errorf("archive: verify: %w: it does not begin with the XML declaration", ErrForm)
	}
	rest, ok = bytes.CutSuffix(rest, []byte(rootEnd+"\n"))
	if !ok {
		return nil, fmt.Errorf("archive: verify: %w: it does not end with %s and a line end", ErrForm, rootEnd)
	}
	at := bytes.LastIndex(rest, []byte(signatureStart))
	if at < 0 {
		return nil, fmt.Errorf("archive: verify: %w: it has no signature", ErrVerification)
	}
	sigElem := rest[at:]
	m := signaturePattern.FindSubmatch(sigElem)
	if m == nil {
		return nil, fmt.Errorf("archive: verify: %w: the signature is not in the form egsd writes", ErrVerification)
	}
	digest, err1 := base64.StdEncoding.DecodeString(string(m[1]))
	raw, err2 := base64.StdEncoding.DecodeString(string(m[2]))
	keyName := string(m[3])
	if err := errors.Join(err1, err2); err != nil || len(digest) != sha256.Size || len(raw) != 64 ||
		!bytes.Equal(sigElem, signatureElement(digest, raw, keyName)) {
		return nil, fmt.Errorf("archive: verify: %w: the signature is not in the form egsd writes", ErrVerification)
	}
	if want := KeyName(spkiDER); keyName != want {
		return nil, fmt.Errorf("archive: verify: %w: signed by key %s, not by this unit's key %s", ErrVerification, keyName, want)
	}
	der, err := derSignature(raw)
	if err != nil {
		return nil, fmt.Errorf("archive: verify: %w: %v", ErrVerification, err)
	}
	if err := keystore.VerifySHA256(spkiDER, signedInfo(digest, true), der); err != nil {
		return nil, fmt.Errorf("archive: verify: %w: the signature value does not match: %v", ErrVerification, err)
	}
	// The enveloped-signature transform: the record without its Signature.
	body := append(bytes.Clone(rest[:at]), rootEnd...)
	if got := sha256.Sum256(body); !bytes.Equal(got[:], digest) {
		return nil, fmt.Errorf("archive: verify: %w: the record was changed after it was signed (digest mismatch)", ErrVerification)
	}
	r, err := parseCanonical(body)
	if err != nil {
		return nil, fmt.Errorf("archive: verify: %w", err)
	}
	return r, nil
}

// ecdsaSig is the DER ECDSA-Sig-Value.
type ecdsaSig struct{ R, S *big.Int }

// rawSignature turns a DER ECDSA signature into XML-DSig's r || s, 32
// bytes each.
func rawSignature(der []byte) ([]byte, error) {
	var s ecdsaSig
	rest, err := asn1.Unmarshal(der, &s)
	if err != nil || len(rest) > 0 || s.R.Sign() <= 0 || s.S.Sign() <= 0 || s.R.BitLen() > 256 || s.S.BitLen() > 256 {
		return nil, errors.New("the key produced a malformed signature")
	}
	out := make([]byte, 64)
	s.R.FillBytes(out[:32])
	s.S.FillBytes(out[32:])
	return out, nil
}

func derSignature(raw []byte) ([]byte, error) {
	if len(raw) != 64 {
		return nil, fmt.Errorf("the signature value has %d bytes, not 64", len(raw))
	}
	return asn1.Marshal(ecdsaSig{new(big.Int).SetBytes(raw[:32]), new(big.Int).SetBytes(raw[32:])})
}
