package zatcasim

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// decodeReference is what handleSubmission read a body with before
// readInvoiceBody: encoding/json's Decoder into an invoiceBody.
func decodeReference(body []byte, limit int64) (submittedBody, error) {
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	var w invoiceBody
	if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, limit)).Decode(&w); err != nil {
		return submittedBody{}, err
	}
	return submittedBody{hash: w.InvoiceHash, uuid: w.UUID, invoice: []byte(w.Invoice)}, nil
}

func checkInvoiceBody(t *testing.T, body []byte, limit int64) {
	t.Helper()
	want, wantErr := decodeReference(body, limit)
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	r.Body = http.MaxBytesReader(nil, r.Body, limit)
	got, err := readInvoiceBody(r)
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("%q: error %v, encoding/json's %v", body, err, wantErr)
	}
	if err != nil {
		return
	}
	if got.hash != want.hash || got.uuid != want.uuid || !bytes.Equal(got.invoice, want.invoice) {
		t.Fatalf("%q: read %q %q %q, encoding/json %q %q %q", body, got.hash, got.uuid, got.invoice, want.hash, want.uuid, want.invoice)
	}
}

var invoiceBodySeeds = []string{
	`{"invoiceHash":"h","uuid":"u","invoice":"PEludm9pY2U+"}`,
	" \r\n\t{ \"invoiceHash\" : \"h\" ,\n\"uuid\":\"u\",\"invoice\":\"PEludm9p Y2U+\" } trailing",
	`{"invoiceHash":"h","uuid":"u","invoice":"a","invoice":"b"}`,
	`{"InvoiceHash":"h","UUID":"u","Invoice":"x"}`,
	`{"invoiceHash":"h","uuid":"u","invoice":"x","extra":1}`,
	`{"invoiceHash":"h\u0041","uuid":"u\/","invoice":"x\n"}`,
	`{"invoiceHash":"é","uuid":"u","invoice":"x"}`,
	`{"invoiceHash":null,"uuid":"u","invoice":"x"}`,
	`{"invoiceHash":1,"uuid":"u","invoice":"x"}`,
	`{"invoiceHash":"h","uuid":"u","invoice":"x",}`,
	`{"invoiceHash":"h" "uuid":"u"}`,
	`{"invoiceHash":"h","uuid":"u","invoice":"x"`,
	`{"invoiceHash":"h`,
	`{}`, `{ }`, `[]`, `"x"`, ``, `   `, `null`, `{"a":}`,
	"\xef\xbb\xbf{}",
	"{\"invoiceHash\":\"h\t\"}",
}

// TestReadInvoiceBody: the fast read of a submission body gives what
// encoding/json gives, for the common shape and every other.
func TestReadInvoiceBody(t *testing.T) {
	for _, s := range invoiceBodySeeds {
		checkInvoiceBody(t, []byte(s), 10<<20)
	}
	// A body over the limit: the value before it still decodes, as with
	// encoding/json reading as far as it needs.
	long := `{"invoiceHash":"h","uuid":"u","invoice":"x"}` + strings.Repeat(" ", 100)
	checkInvoiceBody(t, []byte(long), 60)
	checkInvoiceBody(t, []byte(`{"invoiceHash":"h","uuid":"u","invoice":"`+strings.Repeat("A", 100)+`"}`), 60)
	var mbe *http.MaxBytesError
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"invoice":"`+strings.Repeat("A", 100)+`"}`))
	r.Body = http.MaxBytesReader(nil, r.Body, 60)
	if _, err := readInvoiceBody(r); !errors.As(err, &mbe) {
		t.Errorf("over the limit: %v, want the MaxBytesError", err)
	}
}

func FuzzReadInvoiceBody(f *testing.F) {
	for _, s := range invoiceBodySeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkInvoiceBody(t, body, 10<<20)
		checkInvoiceBody(t, body, int64(len(body)/2))
	})
}

// TestDecodeInvoice: the invoice member decodes as standard base64 with
// white space removed, as it did through strings.Fields.
func TestDecodeInvoice(t *testing.T) {
	for _, s := range []string{"PEludm9pY2U+", "PEludm9p Y2U+", "PElu\ndm9p\r\nY2U+", "PEludm9pY2U", "!!", "", "PEl\u00a0udm9pY2U+", "PEl\u0085udm9pY2U+", "PEl\vudm9p\fY2U+", "\xffPEludm9pY2U+"} {
		want, wantErr := base64StdFields(s)
		got, err := decodeInvoice([]byte(s))
		if (err == nil) != (wantErr == nil) || err == nil && !bytes.Equal(got, want) {
			t.Errorf("%q: %q, %v; want %q, %v", s, got, err, want, wantErr)
		}
	}
}

func base64StdFields(s string) ([]byte, error) {
	return base64.StdEncoding.DecodeString(strings.Join(strings.Fields(s), ""))
}
