package sale_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/egsd/egsd/stamping/sale"
)

// BenchmarkDecode measures Decode (strict JSON, validation and totals) of
// a typical sale and of one with 100 lines.
func BenchmarkDecode(b *testing.B) {
	for _, n := range []int{3, 100} {
		body := []byte(`{"kind":"invoice","currency":"SAR","buyer":{"name":"Ali Co","vat_number":"300000000000003"},"lines":[` +
			strings.TrimSuffix(strings.Repeat(okLine+",", n), ",") + `],"payments":[{"means":"cash","amount":"8.05"}]}`)
		b.Run(fmt.Sprintf("lines=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := sale.Decode(body, sale.Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
