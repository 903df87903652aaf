package etims

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/egsd/egsd/stamping"
	"github.com/egsd/egsd/stamping/securefile"
)

// KRA refuses a sale of an item it has not registered (saveItem,
// spec/etims.md §A8), so the regime registers each item of a sale before
// the sale is sent, and remembers what it registered in
// data_dir/etims/items.json (0600, written atomically) so that an item is
// registered once, not before every sale.
//
// The file is a cache, not a record: losing it only repeats saveItem for
// the items sold next. That is safe because saveItem with an item code
// KRA has already registers the same item again under the same code; it
// creates no fiscal document and takes no number, so KRA's invcNo
// sequence and the journal are untouched.

// ItemsFile is where a unit's registered items are remembered, below its
// data directory.
func ItemsFile(dataDir string) string { return filepath.Join(dataDir, "etims", "items.json") }

// itemsRecord is the JSON of the items file.
type itemsRecord struct {
	Tin   string            `json:"tin"`
	BhfID string            `json:"bhf_id"`
	Items map[string]string `json:"items"` // item code → registrationKey
}

// maxItemsFile bounds the items file read at start (some 100,000 items).
const maxItemsFile = 16 << 20

// registrationKey is what KRA checks a sale's item against (class, units,
// band; spec/etims.md §A8): an item sold with other values than those it
// was registered with is registered again. Its name and default price are
// not part of it: they are the first registration's.
func registrationKey(it *ItemRequest) string {
	return strings.Join([]string{it.ItemClsCd, it.PkgUnitCd, it.QtyUnitCd, it.TaxTyCd}, "/")
}

// loadItems reads the items file. A missing, unreadable or another unit's
// file is an empty registry (the items are registered again) and, but for
// a missing file, an error saying why.
func loadItems(path string, id Identity) (map[string]string, error) {
	empty := map[string]string{}
	var rec itemsRecord
	if found, err := readUnitFile(path, maxItemsFile, "a registry of items", "the items are registered again", &rec); !found {
		return empty, err
	}
	if rec.Tin != id.Tin || rec.BhfID != id.BhfID {
		return empty, fmt.Errorf("%s holds the items of KRA PIN %s branch %s, not this unit's; they are registered again", path, rec.Tin, rec.BhfID)
	}
	if rec.Items == nil {
		rec.Items = empty
	}
	return rec.Items, nil
}

// ItemsOf returns the item registrations (saveItem) of a sale request's
// items, one per item code, in the order of the items: what KRA checks
// the sale's items against.
func ItemsOf(req *SaleRequest, id Identity) []*ItemRequest {
	tin, bhf := id.bodyIdentity()
	var out []*ItemRequest
	seen := map[string]bool{}
	for _, it := range req.ItemList {
		if seen[it.ItemCd] || len(it.ItemCd) < 3 {
			continue
		}
		seen[it.ItemCd] = true
		out = append(out, &ItemRequest{Tin: tin, BhfID: bhf, ItemCd: it.ItemCd, ItemClsCd: it.ItemClsCd, ItemTyCd: it.ItemCd[2:3],
			ItemNm: it.ItemNm, OrgnNatCd: it.ItemCd[:2], PkgUnitCd: it.PkgUnitCd, QtyUnitCd: it.QtyUnitCd,
			TaxTyCd: it.TaxTyCd, Bcd: it.Bcd, DftPrc: it.Prc, IsrcAplcbYn: "N", UseYn: "Y",
			RegrID: id.RegistrantID, RegrNm: id.RegistrantName, ModrID: id.RegistrantID, ModrNm: id.RegistrantName})
	}
	return out
}

// RegisteredItems returns the item codes the unit has registered, sorted.
func (r *Regime) RegisteredItems() []string {
	r.itemsMu.Lock()
	defer r.itemsMu.Unlock()
	codes := make([]string, 0, len(r.items))
	for c := range r.items {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	return codes
}

// registerItems registers with KRA every item of the sale request that
// the unit has not registered with the same class, units and band, before
// the sale is sent. It returns nil when all are registered, else the
// sale's outcome, naming the item:
//
//   - KRA refusing the item as it is (910–912): Rejected. KRA has not
//     seen the sale, so its invcNo is free for the next document, and the
//     same item would be refused again: retrying would hold the queue,
//     one request in flight, behind a sale that cannot pass;
//   - a refused key or device (900, 901, 903, HTTP 401/403):
//     CredentialError;
//   - anything else (no answer, a timeout, 5xx, other codes): Retryable.
//     saveItem is safe to repeat.
//
// KRA's 994 (overlapped data) to saveItem means that it has the item: it
// counts as registered.
func (r *Regime) registerItems(ctx context.Context, request []byte) *stamping.Result {
	req, err := readOwnRequest(request)
	if err != nil {
		return &stamping.Result{Outcome: stamping.Retryable, Messages: []string{err.Error()}}
	}
	r.itemsMu.Lock()
	defer r.itemsMu.Unlock()
	c := r.client()
	for _, item := range ItemsOf(req, r.settings.Identity) {
		key := registrationKey(item)
		if r.items[item.ItemCd] == key {
			continue
		}
		env, err := c.SaveItem(ctx, item)
		if a := Classify(OpSaveItem, env, err); err != nil && a.Outcome != stamping.Duplicate {
			out := a.Outcome
			if out != stamping.Rejected && out != stamping.CredentialError {
				out = stamping.Retryable
			}
			msgs := []string{fmt.Sprintf("KRA did not register item %s %q (saveItem), which the sale needs first", item.ItemCd, item.ItemNm)}
			if out == stamping.Rejected {
				msgs[0] += ": correct the item's fields on the till and sell it on a new sale"
			}
			return &stamping.Result{Outcome: out, Messages: append(msgs, a.Messages...)}
		}
		r.items[item.ItemCd] = key
		data, merr := json.Marshal(itemsRecord{Tin: r.settings.Tin, BhfID: r.settings.BhfID, Items: r.items})
		if merr == nil {
			merr = securefile.Write(r.itemsFile, data)
		}
		if merr != nil {
			// KRA has the item; only the memory of it is lost, which costs
			// a repeated saveItem (see the package comment above).
			r.event("etims_items_unsaved", map[string]string{"item_code": item.ItemCd, "error": merr.Error()})
		}
		r.event("etims_item_registered", map[string]string{"item_code": item.ItemCd, "item_class": item.ItemClsCd, "band": item.TaxTyCd})
	}
	return nil
}
