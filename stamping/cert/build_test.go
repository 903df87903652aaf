package cert

import (
	"encoding/asn1"
	"math/big"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// This file builds certificates for tests: the SDK certificate's issuer is
// not available, so CheckSignature and the corner cases of names are tested
// on certificates made here.

type testATV struct {
	oid   asn1.ObjectIdentifier
	tag   cbasn1.Tag
	value []byte
}

type testCert struct {
	version    int // 0 for v1 without the [0] field
	serial     *big.Int
	sigAlg     asn1.ObjectIdentifier
	innerAlg   asn1.ObjectIdentifier // defaults to sigAlg
	issuer     [][]testATV
	subject    [][]testATV
	notBefore  time.Time
	notAfter   time.Time
	spki       []byte
	extensions []testExt
}

type testExt struct {
	oid      asn1.ObjectIdentifier
	critical bool
	value    []byte
}

var oidECDSASHA256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}

func utf8ATV(oid asn1.ObjectIdentifier, v string) testATV {
	return testATV{oid, cbasn1.UTF8String, []byte(v)}
}

func addName(b *cryptobyte.Builder, name [][]testATV) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		for _, rdn := range name {
			b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
				for _, a := range rdn {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1ObjectIdentifier(a.oid)
						b.AddASN1(a.tag, func(b *cryptobyte.Builder) { b.AddBytes(a.value) })
					})
				}
			})
		}
	})
}

func addTime(b *cryptobyte.Builder, t time.Time) {
	if t.Year() >= 2050 {
		b.AddASN1GeneralizedTime(t)
	} else {
		b.AddASN1UTCTime(t)
	}
}

func (c testCert) tbs() []byte {
	inner := c.innerAlg
	if inner == nil {
		inner = c.sigAlg
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		if c.version > 0 {
			b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
				b.AddASN1Int64(int64(c.version - 1))
			})
		}
		b.AddASN1BigInt(c.serial)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(inner) })
		addName(b, c.issuer)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			addTime(b, c.notBefore)
			addTime(b, c.notAfter)
		})
		addName(b, c.subject)
		b.AddBytes(c.spki)
		if len(c.extensions) > 0 {
			b.AddASN1(cbasn1.Tag(3).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					for _, e := range c.extensions {
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
							b.AddASN1ObjectIdentifier(e.oid)
							if e.critical {
								b.AddASN1Boolean(true)
							}
							b.AddASN1OctetString(e.value)
						})
					}
				})
			})
		}
	})
	return b.BytesOrPanic()
}

// signed assembles the certificate with sign(tbs) as its signature.
func (c testCert) signed(sign func(tbs []byte) []byte) []byte {
	tbs := c.tbs()
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(tbs)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(c.sigAlg) })
		b.AddASN1BitString(sign(tbs))
	})
	return b.BytesOrPanic()
}

// sanDirName is a subjectAltName value: optional dNSName, then one
// directoryName with the given attributes.
func sanDirName(dns string, attrs ...testATV) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		if dns != "" {
			b.AddASN1(cbasn1.Tag(2).ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes([]byte(dns)) })
		}
		b.AddASN1(cbasn1.Tag(4).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			rdns := make([][]testATV, len(attrs))
			for i, a := range attrs {
				rdns[i] = []testATV{a}
			}
			addName(b, rdns)
		})
	})
	return b.BytesOrPanic()
}
