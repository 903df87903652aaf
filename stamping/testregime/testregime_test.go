package testregime_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/egsd/egsd/stamping"
	"github.com/egsd/egsd/stamping/sale"
	"github.com/egsd/egsd/stamping/testregime"
)

var cfg = stamping.Config{
	Seller: stamping.Seller{Name: "Corner Shop", VATNumber: "300000000000003"},
	Device: stamping.Device{Serial: "EGS-1"},
}

func newRegime(t *testing.T, name string, c stamping.Config) stamping.Regime {
	t.Helper()
	r, err := stamping.New(name, c)
	if err != nil {
		t.Fatalf("stamping.New(%q): %v", name, err)
	}
	return r
}

func mustDecode(t *testing.T, body string) *sale.Sale {
	t.Helper()
	s, err := sale.Decode([]byte(body), sale.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// basket: 1.5 × 2.99 = 4.485 → 4.49 at 15 % (VAT 0.6735 → 0.67) and
// 1 × 10 zero rated; net 14.49, VAT 0.67, gross 15.16.
const basket = `{"kind":"invoice","currency":"SAR","buyer":{"name":"Ali"},"lines":[
	{"name":"Tea","quantity":"1.5","unit_price":"2.99","vat_category":"S","vat_rate":"15"},
	{"name":"Bread","quantity":"1","unit_price":"10","vat_category":"Z"}]}`

func slot(counter uint64) stamping.Slot {
	return stamping.Slot{
		Counter:  counter,
		PrevHash: "cHJldmlvdXM=",
		UUID:     "3cf5ee18-ee25-44ea-a444-2c37ba7f28be",
		IssuedAt: time.Date(2026, 3, 1, 9, 30, 0, 123456789, time.UTC),
	}
}

// sha is base64(SHA-256(b)), the chaining hash the package documents.
func sha(b []byte) string {
	sum := sha256.Sum256(b)
	return base64.StdEncoding.EncodeToString(sum[:])
}

func TestModes(t *testing.T) {
	for name, want := range map[string]stamping.Mode{testregime.Local: stamping.StampLocal, testregime.Remote: stamping.StampRemote} {
		r := newRegime(t, name, cfg)
		if r.Name() != name || r.Mode() != want {
			t.Errorf("%s: Name() = %q, Mode() = %v; want %q, %v", name, r.Name(), r.Mode(), name, want)
		}
	}
}

// TestGenesisHash: the first document chains to base64 of the hex SHA-256
// of "0", the value spec/zatca.md gives for the first invoice's PIH.
func TestGenesisHash(t *testing.T) {
	const zatcaPIH = "NWZlY2ViNjZmZmM4NmYzOGQ5NTI3ODZjNmQ2OTZjNzljMmRiYzIzOWRkNGU5MWI0NjcyOWQ3M2EyN2ZiNTdlOQ=="
	if got := newRegime(t, testregime.Local, cfg).GenesisHash(); got != zatcaPIH {
		t.Errorf("GenesisHash() = %q, want %q", got, zatcaPIH)
	}
}

func TestStampDeterministic(t *testing.T) {
	r := newRegime(t, testregime.Local, cfg)
	a, err := r.Stamp(slot(7), mustDecode(t, basket))
	if err != nil {
		t.Fatal(err)
	}
	// The same slot and sale, decoded again and with the time in another
	// zone, give the same bytes.
	sl := slot(7)
	sl.IssuedAt = sl.IssuedAt.In(time.FixedZone("AST", 3*3600))
	b, err := r.Stamp(sl, mustDecode(t, basket))
	if err != nil {
		t.Fatal(err)
	}
	if string(a.Bytes) != string(b.Bytes) || a.Hash != b.Hash {
		t.Errorf("Stamp is not deterministic:\n%s\n%s", a.Bytes, b.Bytes)
	}
	if a.Hash != sha(a.Bytes) {
		t.Errorf("Hash = %q, want base64 SHA-256 of the bytes %q", a.Hash, sha(a.Bytes))
	}
	if h, err := r.Rehash(a.Bytes); err != nil || h != a.Hash {
		t.Errorf("Rehash = %q, %v; want %q", h, err, a.Hash)
	}
	if a.ContentType != "application/json" {
		t.Errorf("ContentType = %q", a.ContentType)
	}

	// Another slot is another document.
	c, err := r.Stamp(slot(8), mustDecode(t, basket))
	if err != nil {
		t.Fatal(err)
	}
	if c.Hash == a.Hash {
		t.Error("documents for counters 7 and 8 have the same hash")
	}
}

func TestStampContent(t *testing.T) {
	r := newRegime(t, testregime.Local, cfg)
	doc, err := r.Stamp(slot(7), mustDecode(t, basket))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Regime, UUID, Seller, Device, Kind, Currency, Buyer string
		Counter                                             uint64
		PrevHash                                            string    `json:"prev_hash"`
		IssuedAt                                            time.Time `json:"issued_at"`
		Net, VAT, Gross                                     string
		Lines                                               []map[string]string
	}
	if err := json.Unmarshal(doc.Bytes, &got); err != nil {
		t.Fatalf("document is not JSON: %v\n%s", err, doc.Bytes)
	}
	s := slot(7)
	if got.Regime != "test" || got.Counter != 7 || got.UUID != s.UUID || got.PrevHash != s.PrevHash || !got.IssuedAt.Equal(s.IssuedAt) {
		t.Errorf("slot fields = %s/%d/%s/%s/%v, want test/7/%s/%s/%v", got.Regime, got.Counter, got.UUID, got.PrevHash, got.IssuedAt, s.UUID, s.PrevHash, s.IssuedAt)
	}
	if got.Seller != "Corner Shop" || got.Device != "EGS-1" || got.Buyer != "Ali" || got.Kind != "invoice" || got.Currency != "SAR" {
		t.Errorf("parties = %+v", got)
	}
	if got.Net != "14.49" || got.VAT != "0.67" || got.Gross != "15.16" {
		t.Errorf("totals = %s/%s/%s, want 14.49/0.67/15.16", got.Net, got.VAT, got.Gross)
	}
	if len(got.Lines) != 2 || got.Lines[0]["net"] != "4.49" || got.Lines[0]["quantity"] != "1.5" || got.Lines[1]["net"] != "10.00" {
		t.Errorf("lines = %v", got.Lines)
	}
}

func TestSubmitSignature(t *testing.T) {
	r := newRegime(t, testregime.Remote, cfg)
	doc, err := r.Stamp(slot(1), mustDecode(t, basket))
	if err != nil {
		t.Fatal(err)
	}
	res := r.Submit(context.Background(), stamping.Submission{Slot: slot(1), Document: doc.Bytes, Attempt: 1})
	if res.Outcome != stamping.Accepted {
		t.Fatalf("Outcome = %v, want accepted", res.Outcome)
	}
	var answer map[string]string
	if err := json.Unmarshal(res.Answer, &answer); err != nil || answer["uuid"] != slot(1).UUID {
		t.Errorf("answer %s: %v; want the slot's UUID", res.Answer, err)
	}
	if !testregime.VerifyAnswerSignature(doc.Bytes, res.Answer) {
		t.Fatal("VerifyAnswerSignature rejects the authority's own answer")
	}

	tampered := []byte(strings.Replace(string(doc.Bytes), `"gross":"15.16"`, `"gross":"15.17"`, 1))
	if string(tampered) == string(doc.Bytes) {
		t.Fatal("test did not modify the document")
	}
	if testregime.VerifyAnswerSignature(tampered, res.Answer) {
		t.Error("VerifyAnswerSignature accepts the answer for modified document bytes")
	}
	answer["signature"] = base64.StdEncoding.EncodeToString(make([]byte, 32))
	forged, _ := json.Marshal(answer)
	for name, a := range map[string][]byte{"forged": forged, "not JSON": []byte("accepted"), "empty": nil, "bad base64": []byte(`{"signature":"%%%"}`)} {
		if testregime.VerifyAnswerSignature(doc.Bytes, a) {
			t.Errorf("VerifyAnswerSignature accepts a %s answer", name)
		}
	}
}

func TestValidate(t *testing.T) {
	decodeLimit := func(v any) error {
		v.(*testregime.Options).MaxLineAmount = "5.00"
		return nil
	}
	c := cfg
	c.Decode = decodeLimit
	r := newRegime(t, testregime.Local, c)
	// Tea's net is 4.49 (under 5.00), Bread's 10.00 (over).
	err := r.Validate(mustDecode(t, basket))
	var errs sale.Errors
	if !errors.As(err, &errs) || len(errs) != 1 || errs[0].Field != "lines[1]" {
		t.Errorf("Validate = %v, want one error for lines[1]", err)
	}

	plain := newRegime(t, testregime.Local, cfg)
	if err := plain.Validate(mustDecode(t, basket)); err != nil {
		t.Errorf("Validate of a plain basket = %v", err)
	}
	note := mustDecode(t, `{"kind":"credit_note","currency":"SAR","original":"1","reason":"returned","buyer":{"vat_number":"300000000000003"},
		"lines":[{"name":"Tea","quantity":"1","unit_price":"1","vat_category":"S","vat_rate":"15"}]}`)
	if err := plain.Validate(note); !errors.As(err, &errs) || len(errs) != 1 || errs[0].Field != "buyer.vat_number" {
		t.Errorf("Validate of a note to the seller itself = %v, want an error for buyer.vat_number", err)
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := stamping.New(testregime.Local, stamping.Config{}); err == nil || !strings.Contains(err.Error(), "seller.name") {
		t.Errorf("New without a seller name: %v, want an error naming seller.name", err)
	}
	boom := errors.New("bad option")
	c := cfg
	c.Decode = func(any) error { return boom }
	if _, err := stamping.New(testregime.Local, c); !errors.Is(err, boom) || !strings.Contains(err.Error(), "regime test") {
		t.Errorf("New with a failing Decode: %v, want it wrapped with the regime name", err)
	}
	_, err := stamping.New("zatca-typo", cfg)
	if err == nil {
		t.Fatal("New of an unknown regime succeeded")
	}
	for _, want := range []string{`"zatca-typo"`, testregime.Local, testregime.Remote} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("New(unknown) error %q does not mention %s", err, want)
		}
	}
}

func TestNames(t *testing.T) {
	names := stamping.Names()
	has := map[string]bool{}
	for i, n := range names {
		has[n] = true
		if i > 0 && names[i-1] >= n {
			t.Errorf("Names() = %q is not sorted", names)
		}
	}
	if !has[testregime.Local] || !has[testregime.Remote] {
		t.Errorf("Names() = %q, want both test regimes", names)
	}
}

func mustPanic(t *testing.T, what, want string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		p := recover()
		if p == nil || !strings.Contains(fmt.Sprint(p), want) {
			t.Errorf("%s: panic = %v, want a panic mentioning %q", what, p, want)
		}
	}()
	f()
}

func TestRegisterPanics(t *testing.T) {
	factory := func(stamping.Config) (stamping.Regime, error) { return nil, errors.New("unused") }
	mustPanic(t, "duplicate Register", "twice", func() { stamping.Register(testregime.Local, factory) })
	mustPanic(t, "nil factory", "nil", func() { stamping.Register("testregime-nil-factory", nil) })
	// The registry is unchanged: the original "test" still works.
	newRegime(t, testregime.Local, cfg)
	for _, n := range stamping.Names() {
		if n == "testregime-nil-factory" {
			t.Error("a nil factory was registered")
		}
	}

	// A factory whose regime calls itself by another name is a programming
	// error that New reports by panicking.
	stamping.Register("testregime-misnamed", func(c stamping.Config) (stamping.Regime, error) {
		return stamping.New(testregime.Local, c)
	})
	mustPanic(t, "misnamed regime", "misnamed", func() { stamping.New("testregime-misnamed", cfg) })
}

// TestStampCarriesItemFields: the fields the sale model takes for other
// regimes' item registers, and a note's reason code, are in the document.
func TestStampCarriesItemFields(t *testing.T) {
	r := newRegime(t, testregime.Local, cfg)
	s := mustDecode(t, `{"kind":"credit_note","currency":"SAR","original":"T-000001","original_external":true,"reason":"Damaged","reason_code":"03",
		"lines":[{"name":"Tea","quantity":"1","unit_price":"2.00","vat_category":"S","vat_rate":"15",
		"item_class":"5059690800","packaging_unit":"NT","quantity_unit":"U","item_code":"KE1NTXU0000001"}]}`)
	doc, err := r.Stamp(slot(3), s)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		ReasonCode string `json:"reason_code"`
		Lines      []map[string]string
	}
	if err := json.Unmarshal(doc.Bytes, &got); err != nil {
		t.Fatal(err)
	}
	l := got.Lines[0]
	if got.ReasonCode != "03" || l["item_class"] != "5059690800" || l["packaging_unit"] != "NT" || l["quantity_unit"] != "U" || l["item_code"] != "KE1NTXU0000001" {
		t.Errorf("document = %s, want the reason code and the four item fields", doc.Bytes)
	}
}

// The numbered option: only the remote variant has it, it names a known
// authority, and with it the regime is a stamping.Numbered.
func TestNumberedOption(t *testing.T) {
	withOpts := func(opts map[string]any) stamping.Config {
		c := cfg
		c.Decode = func(v any) error {
			o := v.(*testregime.Options)
			o.Numbered, _ = opts["numbered"].(bool)
			o.Authority, _ = opts["authority"].(string)
			return nil
		}
		return c
	}
	if _, err := stamping.New(testregime.Local, withOpts(map[string]any{"numbered": true})); err == nil || !strings.Contains(err.Error(), "regime.options.numbered") {
		t.Errorf("numbered local regime: %v", err)
	}
	if _, err := stamping.New(testregime.Remote, withOpts(map[string]any{"numbered": true, "authority": "nobody"})); err == nil || !strings.Contains(err.Error(), "regime.options.authority") {
		t.Errorf("unknown authority: %v", err)
	}
	if _, ok := newRegime(t, testregime.Remote, cfg).(stamping.Numbered); ok {
		t.Error("test-remote without the option is numbered")
	}
	r := newRegime(t, testregime.Remote, withOpts(map[string]any{"numbered": true}))
	if _, ok := r.(stamping.Numbered); !ok {
		t.Fatal("test-remote with numbered = true is not a stamping.Numbered")
	}
}
