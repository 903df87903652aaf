package keystore

import (
	"bytes"
	"encoding/asn1"
	"fmt"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

var (
	oidECPublicKey = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidSecp256k1   = asn1.ObjectIdentifier{1, 3, 132, 0, 10}
)

// spkiPrefix is the fixed DER of a secp256k1 SubjectPublicKeyInfo up to the
// uncompressed point: SEQUENCE, AlgorithmIdentifier {id-ecPublicKey,
// secp256k1}, BIT STRING of 66 bytes with no unused bits.
var spkiPrefix = []byte{
	0x30, 0x56, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
	0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a, 0x03, 0x42, 0x00,
}

// marshalSPKI returns the DER SubjectPublicKeyInfo of pub (RFC 5480) with
// the uncompressed point.
func marshalSPKI(pub *secp256k1.PublicKey) []byte {
	out := make([]byte, 0, len(spkiPrefix)+65)
	out = append(out, spkiPrefix...)
	return append(out, pub.SerializeUncompressed()...)
}

// parseSPKI parses a DER SubjectPublicKeyInfo that must name id-ecPublicKey
// on secp256k1. Compressed and uncompressed points are accepted.
func parseSPKI(der []byte) (*secp256k1.PublicKey, error) {
	in := cryptobyte.String(der)
	var spki, alg, bits cryptobyte.String
	var algOID, curveOID asn1.ObjectIdentifier
	if !in.ReadASN1(&spki, cbasn1.SEQUENCE) || !in.Empty() {
		return nil, fmt.Errorf("%w: not a DER SubjectPublicKeyInfo", ErrMalformedPublicKey)
	}
	if !spki.ReadASN1(&alg, cbasn1.SEQUENCE) ||
		!alg.ReadASN1ObjectIdentifier(&algOID) {
		return nil, fmt.Errorf("%w: bad algorithm identifier", ErrMalformedPublicKey)
	}
	if !algOID.Equal(oidECPublicKey) {
		return nil, fmt.Errorf("%w: algorithm %s is not id-ecPublicKey", ErrMalformedPublicKey, algOID)
	}
	if !alg.ReadASN1ObjectIdentifier(&curveOID) || !alg.Empty() {
		return nil, fmt.Errorf("%w: curve is not a named curve", ErrMalformedPublicKey)
	}
	if !curveOID.Equal(oidSecp256k1) {
		return nil, fmt.Errorf("%w: curve %s is not secp256k1", ErrMalformedPublicKey, curveOID)
	}
	if !spki.ReadASN1(&bits, cbasn1.BIT_STRING) || !spki.Empty() {
		return nil, fmt.Errorf("%w: bad subjectPublicKey", ErrMalformedPublicKey)
	}
	if len(bits) < 1 || bits[0] != 0 {
		return nil, fmt.Errorf("%w: subjectPublicKey has unused bits", ErrMalformedPublicKey)
	}
	point := []byte(bits[1:])
	if len(point) == 0 || (point[0] != 2 && point[0] != 3 && point[0] != 4) {
		return nil, fmt.Errorf("%w: point is neither compressed nor uncompressed", ErrMalformedPublicKey)
	}
	pub, err := secp256k1.ParsePubKey(point)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedPublicKey, err)
	}
	return pub, nil
}

// marshalPKCS8 returns the PKCS#8 DER of priv: version 0, id-ecPublicKey
// with secp256k1, and a SEC1 ECPrivateKey with the scalar and the public
// point (the layout of OpenSSL and of the SDK test key). The caller should
// wipe the result when done with it.
func marshalPKCS8(priv *secp256k1.PrivateKey) ([]byte, error) {
	var scalar [32]byte
	priv.Key.PutBytes(&scalar)
	defer clear(scalar[:])
	pub := priv.PubKey().SerializeUncompressed()

	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(0)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oidECPublicKey)
			b.AddASN1ObjectIdentifier(oidSecp256k1)
		})
		b.AddASN1(cbasn1.OCTET_STRING, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1Int64(1)
				b.AddASN1OctetString(scalar[:])
				b.AddASN1(cbasn1.Tag(1).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
					b.AddASN1BitString(pub)
				})
			})
		})
	})
	return b.Bytes()
}

// parsePKCS8 parses a PKCS#8 PrivateKeyInfo (or RFC 5958 OneAsymmetricKey)
// holding a secp256k1 EC key.
func parsePKCS8(der []byte) (*secp256k1.PrivateKey, error) {
	in := cryptobyte.String(der)
	var info, alg, inner cryptobyte.String
	var version int64
	var algOID asn1.ObjectIdentifier
	if !in.ReadASN1(&info, cbasn1.SEQUENCE) || !in.Empty() {
		return nil, fmt.Errorf("%w: not a DER PKCS#8 PrivateKeyInfo", ErrMalformedKey)
	}
	if !info.ReadASN1Integer(&version) || (version != 0 && version != 1) {
		return nil, fmt.Errorf("%w: PKCS#8 version is not 0 or 1", ErrMalformedKey)
	}
	if !info.ReadASN1(&alg, cbasn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&algOID) {
		return nil, fmt.Errorf("%w: bad PKCS#8 algorithm identifier", ErrMalformedKey)
	}
	if !algOID.Equal(oidECPublicKey) {
		return nil, fmt.Errorf("%w: PKCS#8 algorithm %s is not id-ecPublicKey", ErrMalformedKey, algOID)
	}
	var curve asn1.ObjectIdentifier
	if !alg.ReadASN1ObjectIdentifier(&curve) || !alg.Empty() {
		return nil, fmt.Errorf("%w: PKCS#8 key does not name its curve", ErrMalformedKey)
	}
	if !curve.Equal(oidSecp256k1) {
		return nil, fmt.Errorf("%w: curve %s is not secp256k1", ErrMalformedKey, curve)
	}
	if !info.ReadASN1(&inner, cbasn1.OCTET_STRING) {
		return nil, fmt.Errorf("%w: bad PKCS#8 privateKey", ErrMalformedKey)
	}
	// Optional attributes [0] and, in OneAsymmetricKey, publicKey [1].
	info.SkipOptionalASN1(cbasn1.Tag(0).Constructed().ContextSpecific())
	info.SkipOptionalASN1(cbasn1.Tag(1).ContextSpecific())
	if !info.Empty() {
		return nil, fmt.Errorf("%w: trailing data in PKCS#8 structure", ErrMalformedKey)
	}
	return parseSEC1(inner, false)
}

// parseSEC1 parses a SEC1 ECPrivateKey (RFC 5915). Outside PKCS#8 the
// parameters [0] must be present and name secp256k1 (needCurve).
func parseSEC1(der []byte, needCurve bool) (*secp256k1.PrivateKey, error) {
	in := cryptobyte.String(der)
	var seq, scalar cryptobyte.String
	var version int64
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !in.Empty() {
		return nil, fmt.Errorf("%w: not a DER SEC1 ECPrivateKey", ErrMalformedKey)
	}
	if !seq.ReadASN1Integer(&version) || version != 1 {
		return nil, fmt.Errorf("%w: SEC1 version is not 1", ErrMalformedKey)
	}
	if !seq.ReadASN1(&scalar, cbasn1.OCTET_STRING) {
		return nil, fmt.Errorf("%w: bad SEC1 privateKey", ErrMalformedKey)
	}
	var params, pubField cryptobyte.String
	var hasParams, hasPub bool
	tag0 := cbasn1.Tag(0).Constructed().ContextSpecific()
	tag1 := cbasn1.Tag(1).Constructed().ContextSpecific()
	if !seq.ReadOptionalASN1(&params, &hasParams, tag0) ||
		!seq.ReadOptionalASN1(&pubField, &hasPub, tag1) || !seq.Empty() {
		return nil, fmt.Errorf("%w: bad SEC1 optional fields", ErrMalformedKey)
	}
	if hasParams {
		var curve asn1.ObjectIdentifier
		if !params.ReadASN1ObjectIdentifier(&curve) || !params.Empty() {
			return nil, fmt.Errorf("%w: SEC1 parameters are not a named curve", ErrMalformedKey)
		}
		if !curve.Equal(oidSecp256k1) {
			return nil, fmt.Errorf("%w: curve %s is not secp256k1", ErrMalformedKey, curve)
		}
	} else if needCurve {
		return nil, fmt.Errorf("%w: SEC1 key does not name its curve", ErrMalformedKey)
	}

	// RFC 5915 fixes the length at 32 bytes; some encoders drop leading
	// zeros, so shorter values are accepted.
	s := bytes.TrimLeft(scalar, "\x00")
	if len(s) > 32 {
		return nil, fmt.Errorf("%w: private scalar longer than 32 bytes", ErrMalformedKey)
	}
	var k secp256k1.ModNScalar
	if overflow := k.SetByteSlice(s); overflow || k.IsZero() {
		k.Zero()
		return nil, fmt.Errorf("%w: private scalar out of range", ErrMalformedKey)
	}
	priv := secp256k1.NewPrivateKey(&k)
	k.Zero()

	if hasPub {
		var bits asn1.BitString
		if !pubField.ReadASN1BitString(&bits) || !pubField.Empty() || bits.BitLength%8 != 0 {
			priv.Zero()
			return nil, fmt.Errorf("%w: bad SEC1 publicKey", ErrMalformedKey)
		}
		pub, err := secp256k1.ParsePubKey(bits.Bytes)
		if err != nil || !pub.IsEqual(priv.PubKey()) {
			priv.Zero()
			return nil, fmt.Errorf("%w: stored public key does not belong to the private key", ErrMalformedKey)
		}
	}
	return priv, nil
}
