package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/egsd/egsd/queue"
)

func runJournal(_ context.Context, io IO, args []string) error {
	fs := newFlags(io, "journal", "journal export --out DIR [--since N] [--config FILE | --data DIR]")
	out := fs.String("out", "", "directory to write the documents into (created if missing)")
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
	n := 0
	for next := *since; ; {
		recs, more, err := store.Documents(next, 1000, nil)
		if err != nil {
			return err
		}
		for _, r := range recs {
			name := fmt.Sprintf("%010d-%s%s", r.Counter, r.UUID, extension(r.ContentType))
			// The bytes exactly as stored: they are what was hashed and signed.
			if err := os.WriteFile(filepath.Join(*out, name), r.Document, 0o600); err != nil {
				return err
			}
			n++
			next = r.Counter
		}
		if more == 0 {
			break
		}
		next = more
	}
	fmt.Fprintf(io.Stdout, "exported %s to %s\n", plural(n, "document", "documents"), *out)
	return nil
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
