package csr

import (
	"encoding/asn1"
	"fmt"
	"testing"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// A strict reader of the CSRs this package writes, for the tests: it
// checks the structure of spec/zatca.md §4.2 and returns its parts.

type attr struct {
	oid   string
	tag   cbasn1.Tag
	value string
}

func (a attr) String() string { return fmt.Sprintf("%s=%#x:%s", a.oid, int(a.tag), a.value) }

type parsedCSR struct {
	info, spki, sig []byte
	sigAlg          string
	subject         []attr
	extOIDs         []string
	template        attr // tag and value of the template name
	san             []attr
}

func readAttrs(t *testing.T, name cryptobyte.String) []attr {
	t.Helper()
	var out []attr
	for !name.Empty() {
		var set, seq, val cryptobyte.String
		var oid asn1.ObjectIdentifier
		var tag cbasn1.Tag
		if !name.ReadASN1(&set, cbasn1.SET) || !set.ReadASN1(&seq, cbasn1.SEQUENCE) || !set.Empty() ||
			!seq.ReadASN1ObjectIdentifier(&oid) || !seq.ReadAnyASN1(&val, &tag) || !seq.Empty() {
			t.Fatal("bad RDN: want a SET of one AttributeTypeAndValue")
		}
		out = append(out, attr{oid.String(), tag, string(val)})
	}
	return out
}

func parseCSR(t *testing.T, der []byte) parsedCSR {
	t.Helper()
	var p parsedCSR
	in := cryptobyte.String(der)
	var csr, info, alg, infoBody, subject, attrs, attr1, set, exts cryptobyte.String
	var sigBits asn1.BitString
	var algOID, attrOID asn1.ObjectIdentifier
	var version int64
	if !in.ReadASN1(&csr, cbasn1.SEQUENCE) || !in.Empty() ||
		!csr.ReadASN1Element(&info, cbasn1.SEQUENCE) ||
		!csr.ReadASN1(&alg, cbasn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&algOID) || !alg.Empty() ||
		!csr.ReadASN1BitString(&sigBits) || !csr.Empty() {
		t.Fatal("CSR is not SEQUENCE{info, AlgorithmIdentifier without parameters, BIT STRING}")
	}
	p.info, p.sigAlg, p.sig = info, algOID.String(), sigBits.Bytes
	infoCopy := info
	if !infoCopy.ReadASN1(&infoBody, cbasn1.SEQUENCE) ||
		!infoBody.ReadASN1Integer(&version) || version != 0 ||
		!infoBody.ReadASN1(&subject, cbasn1.SEQUENCE) ||
		!infoBody.ReadASN1Element((*cryptobyte.String)(&p.spki), cbasn1.SEQUENCE) ||
		!infoBody.ReadASN1(&attrs, cbasn1.Tag(0).Constructed().ContextSpecific()) || !infoBody.Empty() {
		t.Fatal("CertificationRequestInfo is not {0, Name, SPKI, [0] attributes}")
	}
	p.subject = readAttrs(t, subject)
	if !attrs.ReadASN1(&attr1, cbasn1.SEQUENCE) || !attrs.Empty() ||
		!attr1.ReadASN1ObjectIdentifier(&attrOID) || attrOID.String() != "1.2.840.113549.1.9.14" ||
		!attr1.ReadASN1(&set, cbasn1.SET) || !attr1.Empty() ||
		!set.ReadASN1(&exts, cbasn1.SEQUENCE) || !set.Empty() {
		t.Fatal("attributes are not exactly one extensionRequest")
	}
	for !exts.Empty() {
		var ext, value cryptobyte.String
		var oid asn1.ObjectIdentifier
		if !exts.ReadASN1(&ext, cbasn1.SEQUENCE) || !ext.ReadASN1ObjectIdentifier(&oid) ||
			!ext.ReadASN1(&value, cbasn1.OCTET_STRING) || !ext.Empty() {
			t.Fatal("bad extension (or one marked critical)")
		}
		p.extOIDs = append(p.extOIDs, oid.String())
		switch oid.String() {
		case "1.3.6.1.4.1.311.20.2":
			var v cryptobyte.String
			if !value.ReadAnyASN1(&v, &p.template.tag) || !value.Empty() {
				t.Fatal("bad template name")
			}
			p.template.oid, p.template.value = oid.String(), string(v)
		case "2.5.29.17":
			var names, dir, name cryptobyte.String
			if !value.ReadASN1(&names, cbasn1.SEQUENCE) || !value.Empty() ||
				!names.ReadASN1(&dir, cbasn1.Tag(4).Constructed().ContextSpecific()) || !names.Empty() ||
				!dir.ReadASN1(&name, cbasn1.SEQUENCE) || !dir.Empty() {
				t.Fatal("subjectAltName is not exactly one directoryName")
			}
			p.san = readAttrs(t, name)
		}
	}
	return p
}
