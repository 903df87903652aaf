package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/egsd/egsd/agent"
	"github.com/egsd/egsd/offsite"
	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/stamping/etims"
)

func runJournal(_ context.Context, io IO, args []string) error {
	fs := newFlags(io, "journal", "journal export --out DIR [--since N] [--format documents|etims-summary] [--config FILE | --data DIR]\n"+
		"  documents also writes a Kazakh unit's signed archive records into DIR/archive, with the public key that checks them")
	out := fs.String("out", "", "directory to write the documents into (created if missing)")
	format := fs.String("format", "documents", "documents: each document as stored (a Kenyan one as the exact request sent to KRA, with KRA's answer beside it); "+
		"etims-summary: each signed Kenyan document in the readable layout of KRA's sample")
	since := fs.Uint64("since", 0, "export documents with a counter above this")
	cfgFlag := fs.String("config", "", "configuration file (default $EGSD_CONFIG or "+defaultConfigPath+")")
	dataFlag := fs.String("data", "", "data directory (overrides the configuration's data_dir)")
	action, err := parseAction(fs, args, "journal needs the action export")
	if err != nil {
		return err
	}
	if action != "export" {
		return usagef("unknown journal action %q: the action is export", action)
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
