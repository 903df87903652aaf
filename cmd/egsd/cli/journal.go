package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/egsd/egsd/agent"
	"github.com/egsd/egsd/offsite"
	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/stamping"
	"github.com/egsd/egsd/stamping/etims"
)

func runJournal(ctx context.Context, io IO, args []string) error {
	if len(args) > 0 && args[0] == "compact" {
		return runJournalCompact(ctx, io, args[1:])
	}
	fs := newFlags(io, "journal", "journal export --out DIR [--since N] [--format documents|etims-summary] [--config FILE | --data DIR]\n"+
		"  documents also writes a Kazakh unit's signed archive records into DIR/archive, with the public key that checks them\n"+
		"       journal compact [--prune=false] [--hold-from N] [--config FILE | --data DIR]")
	out := fs.String("out", "", "directory to write the documents into (created if missing)")
	format := fs.String("format", "documents", "documents: each document as stored (a Kenyan one as the exact request sent to KRA, with KRA's answer beside it); "+
		"etims-summary: each signed Kenyan document in the readable layout of KRA's sample")
	since := fs.Uint64("since", 0, "export documents with a counter above this")
	cfgFlag := fs.String("config", "", "configuration file (default $EGSD_CONFIG or "+defaultConfigPath+")")
	dataFlag := fs.String("data", "", "data directory (overrides the configuration's data_dir)")
	action, err := parseAction(fs, args, "journal needs the action export or compact")
	if err != nil {
		return err
	}
	if action != "export" {
		return usagef("unknown journal action %q: the actions are export and compact", action)
	}
	if *out == "" {
		return usagef("--out is required")
	}
	if *format != "documents" && *format != "etims-summary" {
		return usagef("--format must be documents or etims-summary, not %q", *format)
	}
	cfg, err := localConfig(io, *cfgFlag, *dataFlag)
	if err != nil {
		return err
	}
	store, err := queue.Open(cfg.DataDir, &queue.Options{MustExist: true})
	if errors.Is(err, queue.ErrLocked) {
		return fmt.Errorf("%w; stop the agent to export, or read documents through GET /v1/documents/{id}/content", err)
	}
	if err != nil {
		return err
	}
	defer store.Close()
	if err := os.MkdirAll(*out, 0o700); err != nil {
		return err
	}
	if anchor, err := store.Anchor(); err != nil {
		return err
	} else if anchor.Counter > *since {
		fmt.Fprintf(io.Stdout, "documents 1–%d were pruned after their retention period; the export starts at %d, whose previous hash is %s\n",
			anchor.Counter, anchor.Counter+1, anchor.Hash)
	}
	var summaries *etims.Regime
	if *format == "etims-summary" {
		if summaries, err = etimsRegime(cfg); err != nil {
			return err
		}
	}
	n, skipped := 0, 0
	for next := *since; ; {
		recs, more, err := store.Documents(next, 1000, nil)
		if err != nil {
			return err
		}
		for _, r := range recs {
			next = r.Counter
			var wrote bool
			switch {
			case summaries != nil:
				wrote, err = exportSummary(*out, summaries, r)
			case r.Regime == etims.Name:
				wrote, err = exportETIMS(*out, r)
			default:
				name := offsite.DocumentName(r)
				// The bytes exactly as stored: they are what was hashed and signed.
				wrote, err = true, os.WriteFile(filepath.Join(*out, name), r.Document, 0o600)
			}
			if err != nil {
				return fmt.Errorf("document %d: %w", r.Counter, err)
			}
			if wrote {
				n++
			} else {
				skipped++
			}
		}
		if more == 0 {
			break
		}
		next = more
	}
	fmt.Fprintf(io.Stdout, "exported %s to %s\n", plural(n, "document", "documents"), *out)
	if *format == "documents" {
		records, keyProblem, err := exportArchive(*out, store, cfg.DataDir, *since)
		if err != nil {
			return err
		}
		if records > 0 {
			fmt.Fprintf(io.Stdout, "exported %s to %s; check them with `egsd verify %s`\n", plural(records, "signed archive record", "signed archive records"), filepath.Join(*out, archiveDir), *out)
		}
		if keyProblem != nil {
			fmt.Fprintf(io.Stdout, "the archive's public key is not in the export (%v): give the unit's key to `egsd verify --key`\n", keyProblem)
		}
	}
	if skipped > 0 {
		fmt.Fprintf(io.Stdout, "left out %s that KRA has not signed (no summary without the control unit's signature)\n", plural(skipped, "document", "documents"))
	}
	return nil
}

// exportETIMS writes a Kenyan document as KRA knows it: the exact request
// sent, with KRA's answer beside it. One not sent yet has no invcNo: its
// stored template is written as <counter>-<uuid>.unsent.json.
func exportETIMS(dir string, r *queue.Record) (bool, error) {
	if len(r.Answer) == 0 {
		name := fmt.Sprintf("%010d-%s.unsent.json", r.Counter, r.UUID)
		return true, os.WriteFile(filepath.Join(dir, name), r.Document, 0o600)
	}
	sa, err := etims.DecodeStoredAnswer(r.Answer)
	if err != nil {
		return false, err
	}
	return true, etims.WriteWire(dir, r.Counter, r.UUID, sa.Request, sa.Answer)
}

// exportSummary writes a signed Kenyan document in the sample's readable
// layout; others are left out (false).
func exportSummary(dir string, reg *etims.Regime, r *queue.Record) (bool, error) {
	if r.Regime != etims.Name || r.AuthorityNumber == 0 {
		return false, nil
	}
	sa, err := etims.DecodeStoredAnswer(r.Answer)
	if err != nil {
		return false, err
	}
	s, err := reg.Summary(sa.Request, sa.Answer)
	if err != nil {
		return false, err
	}
	return true, etims.WriteSummary(dir, r.Counter, r.UUID, s)
}

// etimsRegime is the unit's Kenyan regime, for the seller and control unit
// facts a summary names.
func etimsRegime(cfg agent.Config) (*etims.Regime, error) {
	if cfg.Regime.Name != etims.Name {
		return nil, usagef("--format etims-summary is for a Kenyan unit; this configuration's regime is %s (give the unit's --config)", cfg.Regime.Name)
	}
	return etims.New(cfg.StampingConfig(func(string, map[string]string) {}))
}

func extension(contentType string) string {
	switch {
	case strings.Contains(contentType, "xml"):
		return ".xml"
	case strings.Contains(contentType, "json"):
		return ".json"
	}
	return ".bin"
}

// runJournalCompact prunes what the retention allows and rewrites the store
// file without its free pages. It runs only while the service is stopped.
func runJournalCompact(_ context.Context, io IO, args []string) error {
	fs := newFlags(io, "journal compact", "journal compact [--prune=false] [--hold-from N] [--config FILE | --data DIR]")
	prune := fs.Bool("prune", true, "remove documents past the retention period (store.retention_years, by default the regime's legal period) that the authority has answered")
	holdFrom := fs.Uint64("hold-from", 0, "keep every document with this counter or above, whatever its age; 0 holds none (with [archive] on, what is not archived yet is always kept)")
	cfgFlag := fs.String("config", "", "configuration file (default $EGSD_CONFIG or "+defaultConfigPath+")")
	dataFlag := fs.String("data", "", "data directory (overrides the configuration's data_dir)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("journal compact takes no arguments, not %q", fs.Arg(0))
	}
	cfg, err := localConfig(io, *cfgFlag, *dataFlag)
	if err != nil {
		return err
	}
	opts := queue.CompactOptions{Rehash: rehashFor(cfg)}
	var years int
	var known bool
	var cutoff time.Time
	var regime string
	if *prune {
		// The regime is the journal's own: documents keep the retention
		// of the law they were issued under.
		opts.Prune = func(s *queue.Store) (queue.PruneReport, error) {
			id, err := s.Identity()
			if err != nil {
				return queue.PruneReport{}, err
			}
			regime = id.Regime
			if years, known = cfg.Store.RetentionYears, cfg.Store.RetentionYears > 0; !known {
				years, known = agent.LegalRetentionYears(regime)
			}
			if !known {
				return queue.PruneReport{}, nil
			}
			cutoff = agent.RetentionCutoff(time.Now(), years)
			// What the off-site archive has not stored yet stays, whatever
			// its age.
			cur, err := s.OffsiteCursor()
			if err != nil {
				return queue.PruneReport{}, err
			}
			hold := *holdFrom
			if h := cfg.Archive.HoldFrom(cur); h != 0 && (hold == 0 || h < hold) {
				hold = h
			}
			return s.Prune(queue.PruneOptions{Before: cutoff, HoldFrom: hold, Actor: "egsd journal compact"})
		}
	}
	rep, err := queue.Compact(cfg.DataDir, opts)
	if errors.Is(err, queue.ErrLocked) {
		return fmt.Errorf("%w; stop the service (systemctl stop egsd) and run egsd journal compact again", err)
	}
	if err != nil {
		return err
	}
	switch p := rep.Pruned; {
	case !*prune:
	case !known:
		fmt.Fprintf(io.Stdout, "removed no document: regime %q has no legal retention period; set store.retention_years to remove old documents\n", regime)
	case p.Removed > 0:
		fmt.Fprintf(io.Stdout, "removed %s (%d–%d) issued before %s, past their %d years; the chain now starts after document %d (hash %s)\n",
			plural(int(p.Removed), "document", "documents"), p.From, p.To, cutoff.Format(time.DateOnly), years, p.Anchor.Counter, p.Anchor.Hash)
	default:
		fmt.Fprintf(io.Stdout, "removed no document: none issued before %s (%d years) is removable\n", cutoff.Format(time.DateOnly), years)
	}
	if rep.Pruned.Kept != 0 {
		fmt.Fprintf(io.Stdout, "kept from document %d on: %s\n", rep.Pruned.Kept, rep.Pruned.Reason)
	}
	if rep.Repacked > 0 {
		fmt.Fprintf(io.Stdout, "compressed %s stored before compression\n", plural(int(rep.Repacked), "document", "documents"))
	}
	fmt.Fprintf(io.Stdout, "checked %s; the store file went from %s to %s\n",
		plural(int(rep.Check.Documents-rep.Check.Pruned), "document", "documents"), byteSize(rep.Before), byteSize(rep.After))
	return nil
}

// rehashFor is the configured regime's rehash for the store's check, or
// nil when the regime cannot be built here (the check then proves the
// chain and the stored values' own checksums, without rehashing).
func rehashFor(cfg agent.Config) func(string, []byte) (string, error) {
	reg, err := stamping.New(cfg.Regime.Name, cfg.StampingConfig(func(string, map[string]string) {}))
	if err != nil {
		return nil
	}
	return func(_ string, doc []byte) (string, error) { return reg.Rehash(doc) }
}

// byteSize writes n bytes in MB with one decimal (or in bytes below 1 MB).
func byteSize(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%d bytes", n)
	}
	return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
}
