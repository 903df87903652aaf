package archive

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/egsd/egsd/stamping/keystore"
	"github.com/egsd/egsd/stamping/kz"
)

// goldenTicket reads a ticket from one of the protocol layer's golden
// request frames.
func goldenTicket(t testing.TB, name string) *kz.TicketRequest {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, payload, err := kz.ReadFrame(f)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	req, err := kz.UnmarshalRequest(payload)
	if err != nil || req.Ticket == nil {
		t.Fatalf("%s: no ticket (%v)", name, err)
	}
	return req.Ticket
}

var unit = Unit{RNM: "620300000011", ZNM: "EGSD-0001", OFDID: 203539, BIN: "940140000385"}

var goldenTickets = []string{"request_ticket_sell.frame", "request_ticket_sell_return.frame", "request_ticket_buy.frame", "request_ticket_buy_return.frame", "request_ticket_offline.frame"}

// facts is the record of a golden ticket: the OFD's sign online, the
// autonomous one offline.
func facts(t testing.TB, name string) Facts {
	tk := goldenTicket(t, name)
	f := Facts{Unit: unit, Ticket: tk, Document: DocumentOf(42, "0f8fad5b-d9cb-469f-a165-70867728950e", []byte(name))}
	if tk.OfflineTicketNumber == 0 {
		f.FiscalSign = "4228143549"
	}
	return f
}

// awkwardFacts carries every character canonical XML escapes, in texts
// and in attributes, and Kazakh letters.
func awkwardFacts(t testing.TB) Facts {
	f := facts(t, "request_ticket_sell.frame")
	f.Ticket.Operator.Name = "Әлия \"Q\" <&> 'x'\tтаб\nстрока\rCR"
	f.Ticket.Items[0].Commodity.Name = "Сүт & <ірімшік> \"2,5%\"\r\n ӘҒҚҢӨҰҮҺ әғқңөұүһ ₸"
	f.Ticket.Extension = &kz.ExtensionOptions{CustomerEmail: "a&b@example.kz", CustomerIINOrBIN: "000740000006"}
	return f
}

func newKey(t testing.TB, name string) *keystore.Key {
	t.Helper()
	k, err := keystore.Create(filepath.Join(t.TempDir(), name))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func build(t testing.TB, f Facts) []byte {
	t.Helper()
	doc, err := Build(f)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func sign(t testing.TB, doc []byte, k *keystore.Key) []byte {
	t.Helper()
	signed, err := Sign(doc, k)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

// TestSignVerify signs each golden ticket's record and reads back, from
// the verified record, the values of the ticket it was built from.
func TestSignVerify(t *testing.T) {
	k := newKey(t, "unit.key")
	for _, name := range goldenTickets {
		f := facts(t, name)
		signed := sign(t, build(t, f), k)
		r, err := Verify(signed, k.PublicKeyDER())
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, signed)
		}
		tk := f.Ticket
		var commodities, taxes int
		for _, it := range tk.Items {
			if it.Commodity != nil {
				commodities++
				taxes += len(it.Commodity.Taxes)
			}
		}
		var gotCommodities, gotTaxes int
		for _, it := range r.Ticket.Items {
			if it.Commodity != nil {
				gotCommodities++
				gotTaxes += len(it.Commodity.Taxes)
			}
		}
		checks := []struct{ what, got, want string }{
			{"rnm", r.Unit.RNM, unit.RNM},
			{"znm", r.Unit.ZNM, unit.ZNM},
			{"ofd id", r.Unit.OFDID, "203539"},
			{"shift", r.Shift.Number, strconv.Itoa(int(tk.ShiftNumber))},
			{"shift document", r.Shift.Document, strconv.Itoa(int(tk.ShiftDocumentNumber))},
			{"operation", r.Ticket.Operation, tk.Operation.String()},
			{"total", r.Ticket.Amounts.Total, strconv.FormatUint(tk.Amounts.Total.Bills, 10) + "." + twoDigits(tk.Amounts.Total.Coins)},
			{"items", strconv.Itoa(len(r.Ticket.Items)), strconv.Itoa(len(tk.Items))},
			{"commodities", strconv.Itoa(gotCommodities), strconv.Itoa(commodities)},
			{"commodity taxes", strconv.Itoa(gotTaxes), strconv.Itoa(taxes)},
			{"payments", strconv.Itoa(len(r.Ticket.Payments)), strconv.Itoa(len(tk.Payments))},
			{"ofd sign", r.Sign.OFD, f.FiscalSign},
		}
		if tk.OfflineTicketNumber != 0 {
			checks = append(checks, struct{ what, got, want string }{"autonomous sign", r.Sign.Autonomous, strconv.Itoa(int(tk.OfflineTicketNumber))})
		}
		if tk.Operation.IsReturn() {
			checks = append(checks, struct{ what, got, want string }{"parent", r.Ticket.Parent.Number, tk.Parent.Number})
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("%s: %s = %q, want %q", name, c.what, c.got, c.want)
			}
		}
	}
}

func twoDigits(c uint32) string {
	s := strconv.Itoa(int(c))
	if len(s) < 2 {
		s = "0" + s
	}
	return s
}

// edit is one change to a signed record.
type edit struct {
	what string
	doc  []byte
}

// flip changes a value so it differs, keeping the document well formed.
func flip(v string) string {
	if v == "" {
		return "0"
	}
	last := v[len(v)-1]
	if last == '0' {
		return v[:len(v)-1] + "1"
	}
	return v[:len(v)-1] + "0"
}

var attrPattern = regexp.MustCompile(`\s([A-Za-z:]+)="([^"]*)"`)

// edits lists, for every text node and every attribute of doc (the
// signature's included), a copy with that one value flipped, and for every
// attribute a copy with it renamed.
func edits(t *testing.T, doc []byte) []edit {
	t.Helper()
	var out []edit
	replace := func(what string, from, to int, with string) {
		d := append(append(append([]byte{}, doc[:from]...), with...), doc[to:]...)
		out = append(out, edit{what, d})
	}
	d := xml.NewDecoder(bytes.NewReader(doc))
	for {
		start := int(d.InputOffset())
		tok, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		end := int(d.InputOffset())
		switch tok := tok.(type) {
		case xml.CharData:
			raw := string(doc[start:end])
			replace("text "+strconv.Quote(raw), start, end, flip(raw))
		case xml.StartElement:
			raw := doc[start:end]
			for _, m := range attrPattern.FindAllSubmatchIndex(raw, -1) {
				name := string(raw[m[2]:m[3]])
				val := string(raw[m[4]:m[5]])
				replace("attribute "+tok.Name.Local+"/@"+name, start+m[4], start+m[5], flip(val))
				replace("attribute name "+tok.Name.Local+"/@"+name, start+m[2], start+m[3], name+"x")
			}
		}
	}
	return out
}

// TestEveryEditFails flips every text node and every attribute of a
// signed record in turn — in the ticket and in the signature — and renames
// every attribute: each must fail verification.
func TestEveryEditFails(t *testing.T) {
	k := newKey(t, "unit.key")
	for _, f := range []Facts{facts(t, "request_ticket_sell_return.frame"), facts(t, "request_ticket_offline.frame"), awkwardFacts(t)} {
		signed := sign(t, build(t, f), k)
		if _, err := Verify(signed, k.PublicKeyDER()); err != nil {
			t.Fatal(err)
		}
		es := edits(t, signed)
		if len(es) < 100 {
			t.Fatalf("only %d edits: the walk misses values", len(es))
		}
		var texts, attrs int
		for _, e := range es {
			if strings.HasPrefix(e.what, "text") {
				texts++
			} else {
				attrs++
			}
			_, err := Verify(e.doc, k.PublicKeyDER())
			if err == nil {
				t.Errorf("%s: the edited record verifies", e.what)
				continue
			}
			if !errors.Is(err, ErrVerification) && !errors.Is(err, ErrForm) {
				t.Errorf("%s: %v wraps neither ErrVerification nor ErrForm", e.what, err)
			}
		}
		t.Logf("%d text nodes and %d attribute edits refused", texts, attrs)
	}
}

// TestVerifyRefuses covers what is not a value edit: another unit's key,
// a removed or duplicated signature, an added element or comment.
func TestVerifyRefuses(t *testing.T) {
	k := newKey(t, "unit.key")
	other := newKey(t, "other.key")
	signed := sign(t, build(t, facts(t, "request_ticket_sell.frame")), k)
	unsigned := build(t, facts(t, "request_ticket_sell.frame"))
	sigAt := bytes.Index(signed, []byte("<Signature"))
	sigEnd := bytes.Index(signed, []byte("</Signature>")) + len("</Signature>")
	cases := []struct {
		name string
		doc  []byte
		key  []byte
		want string
	}{
		{"another unit's key", signed, other.PublicKeyDER(), "not by this unit's key"},
		{"signed by another key", sign(t, unsigned, other), k.PublicKeyDER(), "not by this unit's key"},
		{"unsigned", unsigned, k.PublicKeyDER(), "no signature"},
		{"signature removed", slicesConcat(signed[:sigAt], signed[sigEnd:]), k.PublicKeyDER(), "no signature"},
		{"element added", bytes.Replace(signed, []byte("</Ticket>"), []byte("<Note>x</Note>\n</Ticket>"), 1), k.PublicKeyDER(), "changed after it was signed"},
		{"comment added", bytes.Replace(signed, []byte("</Ticket>"), []byte("<!-- x --></Ticket>"), 1), k.PublicKeyDER(), "changed after it was signed"},
		{"signature twice", slicesConcat(signed[:sigEnd], signed[sigAt:]), k.PublicKeyDER(), "changed after it was signed"},
		{"no declaration", signed[len(declaration):], k.PublicKeyDER(), "XML declaration"},
	}
	for _, c := range cases {
		_, err := Verify(c.doc, c.key)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", c.name, err, c.want)
		}
	}
}

func slicesConcat(a, b []byte) []byte { return append(append([]byte{}, a...), b...) }

// TestSignRefusesOtherForms: Sign takes only Build's form, since it signs
// the bytes as they are.
func TestSignRefusesOtherForms(t *testing.T) {
	k := newKey(t, "unit.key")
	doc := build(t, facts(t, "request_ticket_sell.frame"))
	for name, bad := range map[string][]byte{
		"self-closed element": bytes.Replace(doc, []byte("></Shift>"), []byte("/>"), 1),
		"attributes swapped":  regexp.MustCompile(`<Shift document="(\d+)" number="(\d+)">`).ReplaceAll(doc, []byte(`<Shift number="$2" document="$1">`)),
		"single quotes":       bytes.Replace(doc, []byte(`version="1"`), []byte(`version='1'`), 1),
		"escaped differently": bytes.Replace(doc, []byte(`operation="SELL"`), []byte(`operation="&#83;ELL"`), 1),
		"signed already":      sign(t, doc, k),
	} {
		if _, err := Sign(bad, k); !errors.Is(err, ErrForm) {
			t.Errorf("%s: Sign = %v, want ErrForm", name, err)
		}
	}
}

// TestBuildRefuses: a record that cannot be written says which field.
func TestBuildRefuses(t *testing.T) {
	cases := map[string]struct {
		edit func(*Facts)
		want string
	}{
		"no rnm":        {func(f *Facts) { f.Unit.RNM = "" }, "unit.rnm"},
		"no znm":        {func(f *Facts) { f.Unit.ZNM = "" }, "unit.znm"},
		"no bin":        {func(f *Facts) { f.Unit.BIN = "" }, "unit.bin"},
		"no ticket":     {func(f *Facts) { f.Ticket = nil }, "ticket is required"},
		"no sign":       {func(f *Facts) { f.FiscalSign = "" }, "fiscal_sign"},
		"control char":  {func(f *Facts) { f.Ticket.Operator.Name = "a\x01b" }, "ticket.operator.name"},
		"bad utf-8":     {func(f *Facts) { f.Ticket.Items[0].Commodity.Name = "a\xffb" }, "ticket.items[0].commodity.name"},
		"bad operation": {func(f *Facts) { f.Ticket.Operation = 9 }, "ticket.operation"},
		"bad payment":   {func(f *Facts) { f.Ticket.Payments[0].Type = 2 }, "ticket.payments[0].type"},
		"bad item":      {func(f *Facts) { f.Ticket.Items[0].Type = 0 }, "ticket.items[0]"},
		"no counter":    {func(f *Facts) { f.Document.Counter = 0 }, "document.counter"},
		"no uuid":       {func(f *Facts) { f.Document.UUID = "" }, "document.uuid"},
		"bad digest":    {func(f *Facts) { f.Document.SHA256 = strings.ToUpper(f.Document.SHA256) }, "document.sha256"},
		"short digest":  {func(f *Facts) { f.Document.SHA256 = "abc" }, "document.sha256"},
		"uuid control":  {func(f *Facts) { f.Document.UUID = "a\x02" }, "document.uuid"},
	}
	for name, c := range cases {
		f := facts(t, "request_ticket_sell.frame")
		c.edit(&f)
		if _, err := Build(f); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error naming %s", name, err, c.want)
		}
	}
}

func xmllint(t *testing.T, mode string, doc []byte) []byte {
	t.Helper()
	if _, err := exec.LookPath("xmllint"); err != nil {
		t.Skip("xmllint not installed (apt-get install libxml2-utils); CI has it")
	}
	p := filepath.Join(t.TempDir(), "in.xml")
	if err := os.WriteFile(p, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command("xmllint", mode, p)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("xmllint %s: %v %s", mode, err, stderr.Bytes())
	}
	return out
}

// TestCanonicalAgainstXmllint: the bytes a record is signed over are
// libxml2's Canonical XML (inclusive and exclusive) of the record, and a
// signed record verifies by an independent path — xmllint canonicalises
// the record without its Signature and the SignedInfo, and openssl checks
// the signature value over the latter.
func TestCanonicalAgainstXmllint(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed (CI installs it)")
	}
	k := newKey(t, "unit.key")
	dir := t.TempDir()
	pub := filepath.Join(dir, "pub.pem")
	if err := os.WriteFile(pub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: k.PublicKeyDER()}), 0o600); err != nil {
		t.Fatal(err)
	}
	all := []Facts{awkwardFacts(t)}
	for _, name := range goldenTickets {
		all = append(all, facts(t, name))
	}
	for i, f := range all {
		doc := build(t, f)
		body := doc[len(declaration) : len(doc)-1]
		for _, mode := range []string{"--c14n", "--exc-c14n"} {
			if got := xmllint(t, mode, doc); !bytes.Equal(got, body) {
				t.Errorf("record %d: xmllint %s differs:\n%s\nours:\n%s", i, mode, got, body)
			}
		}

		signed := sign(t, doc, k)
		sigRE := regexp.MustCompile(`<Signature .*</Signature>`)
		without := sigRE.ReplaceAll(signed, nil)
		digest := sha256.Sum256(xmllint(t, "--c14n", without))
		dv := regexp.MustCompile(`<DigestValue>([^<]*)</DigestValue>`).FindSubmatch(signed)
		if dv == nil || string(dv[1]) != base64.StdEncoding.EncodeToString(digest[:]) {
			t.Errorf("record %d: DigestValue %q is not SHA-256 of xmllint's canonical record", i, dv)
		}
		si := regexp.MustCompile(`<SignedInfo>.*</SignedInfo>`).Find(signed)
		// SignedInfo as a document subset carries the namespace it inherits.
		subset := bytes.Replace(si, []byte("<SignedInfo>"), []byte(`<SignedInfo xmlns="http://www.w3.org/2000/09/xmldsig#">`), 1)
		c14nSI := xmllint(t, "--c14n", subset)
		sv := regexp.MustCompile(`<SignatureValue>([^<]*)</SignatureValue>`).FindSubmatch(signed)
		raw, err := base64.StdEncoding.DecodeString(string(sv[1]))
		if err != nil {
			t.Fatal(err)
		}
		der, err := derSignature(raw)
		if err != nil {
			t.Fatal(err)
		}
		msg, sig := filepath.Join(dir, "si"), filepath.Join(dir, "sig")
		if err := errors.Join(os.WriteFile(msg, c14nSI, 0o600), os.WriteFile(sig, der, 0o600)); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("openssl", "dgst", "-sha256", "-verify", pub, "-signature", sig, msg).CombinedOutput(); err != nil {
			t.Errorf("record %d: openssl does not verify the SignatureValue over xmllint's SignedInfo: %v\n%s", i, err, out)
		}
	}
}
