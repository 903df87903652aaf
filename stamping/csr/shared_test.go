package csr

import (
	"bufio"
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/egsd/egsd/stamping/keystore"
	"github.com/egsd/egsd/stamping/stampingtest"
)

// testkeysDir is the ZATCA SDK test material in the shared directory (see
// stampingtest). Tests that need it skip when it is absent; CI always has it.
func testkeysDir(t *testing.T) string {
	t.Helper()
	return filepath.Dir(stampingtest.Path(t, "zatca", "testkeys", "csr_en1.pem"))
}

func readTestkey(t *testing.T, name string) []byte {
	t.Helper()
	return stampingtest.Read(t, "zatca", "testkeys", name)
}

func sdkKey(t *testing.T) *keystore.Key {
	t.Helper()
	k, err := keystore.ParsePKCS8DER(readTestkey(t, "key_pkcs8.der"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// readProperties reads an SDK csr-config .properties file: key=value
// lines, # and ! comments. The SDK files are UTF-8 without escapes.
func readProperties(t *testing.T, name string) map[string]string {
	t.Helper()
	data := readTestkey(t, filepath.Join("csr-configs", name))
	props := make(map[string]string)
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: line %q is not key=value", name, line)
		}
		props[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return props
}

// requestFromProperties maps the SDK properties (spec/zatca.md §4.1) onto
// a Request.
func requestFromProperties(p map[string]string, env Environment) Request {
	return Request{
		CommonName:             p["csr.common.name"],
		SerialNumber:           p["csr.serial.number"],
		OrganizationIdentifier: p["csr.organization.identifier"],
		OrganizationUnit:       p["csr.organization.unit.name"],
		Organization:           p["csr.organization.name"],
		Country:                p["csr.country.name"],
		InvoiceType:            p["csr.invoice.type"],
		Location:               p["csr.location.address"],
		Industry:               p["csr.industry.business.category"],
		Environment:            env,
	}
}
