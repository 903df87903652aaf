package csr

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/egsd/egsd/stamping/keystore"
)

// testkeysDir is the ZATCA SDK test material, from $EGSD_SHARED (default
// ../../../shared, the shared directory beside the repository). Tests that
// need it skip when it is absent; CI always has it.
func testkeysDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("EGSD_SHARED")
	if dir == "" {
		dir = "../../../shared"
	}
	tk := filepath.Join(dir, "zatca", "testkeys")
	if _, err := os.Stat(filepath.Join(tk, "csr_en1.pem")); err != nil {
		t.Skipf("ZATCA test keys not found under %s (set EGSD_SHARED to the shared directory): %v", dir, err)
	}
	return tk
}

func readTestkey(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testkeysDir(t), name))
	if err != nil {
		t.Fatal(err)
	}
	return b
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
