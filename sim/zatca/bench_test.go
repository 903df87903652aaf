package zatcasim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/egsd/egsd/stamping/sale"
)

// BenchmarkReport is the simulator's work for one simplified invoice
// reported by a production unit: the request decoded, every check of the
// document (hash, signature, certificate, chain) and the answer written,
// without the network. Each iteration reports a new document of one
// chain; stamping them is not measured.
func BenchmarkReport(b *testing.B) {
	h := newHarness(b, nil)
	u := h.ready("1100")
	const docs = 512
	bodies := make([][]byte, docs)
	stampMore := func() {
		for i := range bodies {
			body, err := json.Marshal(u.stamp(sale.Invoice, false).body())
			if err != nil {
				b.Fatal(err)
			}
			bodies[i] = body
		}
	}
	stampMore()
	auth := &u.pcsid
	url := h.base() + "/" + EndpointReporting
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == docs {
			b.StopTimer() // the chain goes on
			stampMore()
			i = 0
			b.StartTimer()
		}
		r := httptest.NewRequest(http.MethodPost, url, bytes.NewReader(bodies[i]))
		r.Header.Set("Accept-Version", "V2")
		r.Header.Set("Content-Type", "application/json")
		r.SetBasicAuth(auth.BinarySecurityToken, auth.Secret)
		w := httptest.NewRecorder()
		h.sim.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("document %d: HTTP %d: %s", i, w.Code, w.Body)
		}
		i++
	}
}
