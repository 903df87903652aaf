package etims

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/egsd/egsd/stamping/securefile"
)

// CodeCache is the unit's copy of KRA's code lists and item classes
// (spec/etims.md §A4.3, §A7 "codes sync"), kept in data_dir/etims/codes.json
// beside the device record: read at start, so that a unit that restarts
// offline validates with what KRA said last; merged with each incremental
// answer (lastReqDt); written atomically, 0600.
type CodeCache struct {
	// Tin and BhfID are the unit the lists were fetched for: a cache of
	// another unit is not used.
	Tin   string `json:"tin"`
	BhfID string `json:"bhf_id"`
	// CodesAsOf and ItemClassesAsOf are the lastReqDt of the next
	// request: KRA's time (resultDt) of the last answer, so that the
	// till's clock cannot skip a change. Zero asks for everything.
	CodesAsOf       time.Time `json:"codes_as_of,omitzero"`
	ItemClassesAsOf time.Time `json:"item_classes_as_of,omitzero"`
	// RefreshedAt is the unit's time of the last complete refresh, which
	// the refresh period runs from.
	RefreshedAt time.Time   `json:"refreshed_at,omitzero"`
	Classes     []CodeClass `json:"classes"`
	ItemClasses []ItemClass `json:"item_classes"`
}

// CodeCacheFile is where a unit's code lists are kept, below its data
// directory.
func CodeCacheFile(dataDir string) string { return filepath.Join(dataDir, "etims", "codes.json") }

// maxCacheFile bounds the cache file read at start: a code list answer is
// at most MaxAnswer, and the item classes another.
const maxCacheFile = 2*MaxAnswer + 1<<20

// loadCodeCache reads the cache file. A missing file is an empty cache;
// an unreadable one, or one of another unit, is an empty cache and an
// error saying why (the lists are fetched again in full: nothing is lost
// but a download).
func loadCodeCache(path string, id Identity) (CodeCache, error) {
	empty := CodeCache{Tin: id.Tin, BhfID: id.BhfID}
	var c CodeCache
	if found, err := readUnitFile(path, maxCacheFile, "a code list cache", "it is fetched again", &c); !found {
		return empty, err
	}
	if c.Tin != id.Tin || c.BhfID != id.BhfID {
		return empty, fmt.Errorf("%s holds the code lists of KRA PIN %s branch %s, not this unit's; they are fetched again", path, c.Tin, c.BhfID)
	}
	return c, nil
}

// Rules are the rules the cached lists give: RulesFromCodeLists of the
// whole list, and the item classes in use once any were fetched.
func (c *CodeCache) Rules() (Rules, error) {
	rules, err := RulesFromCodeLists(c.Classes, Rules{})
	if err != nil {
		return Rules{}, err
	}
	if len(c.ItemClasses) > 0 {
		rules.ItemClasses = make(map[string]bool, len(c.ItemClasses))
		for _, ic := range c.ItemClasses {
			if ic.UseYn != "N" {
				rules.ItemClasses[string(ic.Code)] = true
			}
		}
	}
	return rules, nil
}

// mergeClasses applies an incremental code list answer to the cached
// classes: a class listed again has its name and use replaced and its
// codes merged, code by code (a code listed again replaces the cached
// one, a new one is added); a new class is added.
func mergeClasses(have, changed []CodeClass) []CodeClass {
	out := append([]CodeClass(nil), have...)
	for _, c := range changed {
		i := indexOf(out, func(x CodeClass) bool { return x.Class == c.Class })
		if i < 0 {
			out = append(out, c)
			continue
		}
		merged := out[i]
		merged.Name, merged.UseYn = c.Name, c.UseYn
		merged.Details = append([]Code(nil), merged.Details...)
		for _, d := range c.Details {
			if j := indexOf(merged.Details, func(x Code) bool { return x.Code == d.Code }); j >= 0 {
				merged.Details[j] = d
			} else {
				merged.Details = append(merged.Details, d)
			}
		}
		out[i] = merged
	}
	return out
}

// mergeItemClasses applies an incremental item class answer, class by
// class.
func mergeItemClasses(have, changed []ItemClass) []ItemClass {
	out := append([]ItemClass(nil), have...)
	at := make(map[Text]int, len(out))
	for i, ic := range out {
		at[ic.Code] = i
	}
	for _, ic := range changed {
		if i, ok := at[ic.Code]; ok {
			out[i] = ic
		} else {
			at[ic.Code] = len(out)
			out = append(out, ic)
		}
	}
	return out
}

func indexOf[T any](s []T, match func(T) bool) int {
	for i := range s {
		if match(s[i]) {
			return i
		}
	}
	return -1
}

// answerTime is KRA's time of an answer (resultDt), or fallback when it
// gives none that can be read.
func answerTime(env *Envelope, fallback time.Time) time.Time {
	if env != nil {
		if t, err := time.ParseInLocation(DateTimeLayout, string(env.ResultDt), Nairobi); err == nil {
			return t
		}
	}
	return fallback
}

// RefreshCodes fetches what changed in KRA's code lists and item classes
// since the cache's last answers (selectCodeList and selectItemClsList,
// by lastReqDt), merges it into the cache, writes the cache file and puts
// the rules it gives in force: a band whose rate KRA changed is validated
// and sent at the new rate from the next sale on. A failed call or a list
// that gives no usable rules changes nothing and is returned; the unit
// keeps the rules it had. Calls are serialised.
func (r *Regime) RefreshCodes(ctx context.Context) error {
	if err := r.Ready(); err != nil {
		return err
	}
	r.codesMu.Lock()
	defer r.codesMu.Unlock()
	c := r.client()
	next := r.codes
	started := r.now()
	r.codesTried = started
	classes, env, err := c.CodeList(ctx, next.CodesAsOf)
	if err != nil {
		return fmt.Errorf("etims: refreshing the code lists: %w", err)
	}
	next.Classes = mergeClasses(next.Classes, classes)
	next.CodesAsOf = answerTime(env, started)
	items, env, err := c.ItemClasses(ctx, next.ItemClassesAsOf)
	if err != nil {
		return fmt.Errorf("etims: refreshing the item classes: %w", err)
	}
	next.ItemClasses = mergeItemClasses(next.ItemClasses, items)
	next.ItemClassesAsOf = answerTime(env, started)
	next.RefreshedAt = started
	rules, err := next.Rules()
	if err != nil {
		return err
	}
	data, err := json.Marshal(next)
	if err != nil {
		return err
	}
	if err := securefile.Write(r.codesFile, data); err != nil {
		return fmt.Errorf("etims: writing the code list cache: %w", err)
	}
	r.codes = next
	r.SetRules(rules)
	r.event("etims_codes_refreshed", map[string]string{"rate_b": rules.rates().B.String(), "rate_e": rules.rates().E.String(),
		"changed_classes": fmt.Sprint(len(classes)), "changed_item_classes": fmt.Sprint(len(items))})
	return nil
}

// codeRetry is how long after a failed refresh the next is tried, so that
// an outage does not add two failing calls to every submission.
const codeRetry = 10 * time.Minute

// codesDue reports whether the code lists are older than the refresh
// period (or were never fetched), and no refresh failed in the last
// codeRetry.
func (r *Regime) codesDue(now time.Time) bool {
	r.codesMu.Lock()
	defer r.codesMu.Unlock()
	if t := r.codesTried; !t.IsZero() && t.After(r.codes.RefreshedAt) && now.Sub(t) < codeRetry && !now.Before(t) {
		return false
	}
	at := r.codes.RefreshedAt
	return at.IsZero() || now.Sub(at) >= r.settings.CodeRefresh || now.Before(at)
}

// refreshIfDue refreshes the code lists when the period has passed. A
// failure is an event, not an error: the cached rules stay in force, and
// the next submission tries again.
func (r *Regime) refreshIfDue(ctx context.Context) {
	if !r.codesDue(r.now()) {
		return
	}
	if err := r.RefreshCodes(ctx); err != nil {
		r.event("etims_codes_refresh_failed", map[string]string{"error": err.Error()})
	}
}

// CodeCache returns a copy of the cached code lists.
func (r *Regime) CodeCache() CodeCache {
	r.codesMu.Lock()
	defer r.codesMu.Unlock()
	return r.codes
}

// readUnitFile reads a JSON file the regime keeps beside the device record
// into v. A missing file is (false, nil); one above limit bytes or not
// JSON is (false, an error naming the file as not being what, and saying
// what happens instead, again).
func readUnitFile(path string, limit int64, what, again string, v any) (bool, error) {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, err
	case fi.Size() > limit:
		return false, fmt.Errorf("%s is %d bytes, more than %s holds; %s", path, fi.Size(), what, again)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return false, fmt.Errorf("%s is not %s (%v); %s", path, what, err, again)
	}
	return true, nil
}
