package etims_test

import (
	"testing"
	"time"

	"github.com/egsd/egsd/stamping/etims"
	"github.com/egsd/egsd/stamping/sale"
)

// TestBuildSaleLateEntry writes the transaction's Nairobi date as salesDt
// of a sale entered after a unit failure, and keeps cfmDt at the issue
// time.
func TestBuildSaleLateEntry(t *testing.T) {
	s := sampleSale()
	// 22:30 UTC on the 12th is already the 13th in Nairobi.
	s.Late = &sale.LateEntry{TransactionTime: time.Date(2026, 1, 12, 22, 30, 0, 0, time.UTC), Incident: 2}
	r, err := etims.BuildSale(s, etims.SaleInput{Identity: oscu, TraderInvoiceNo: "KE-1", IssuedAt: nairobi("2026-01-15 10:30:00")})
	if err != nil {
		t.Fatal(err)
	}
	if r.SalesDt != "20260113" || r.CfmDt != "20260115103000" {
		t.Errorf("salesDt %s, cfmDt %s; want 20260113 and 20260115103000", r.SalesDt, r.CfmDt)
	}
}
