package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/egsd/egsd/offsite"
	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/stamping/keystore"
	"github.com/egsd/egsd/stamping/zatca"
)

func runVerify(_ context.Context, io IO, args []string) error {
	fs := newFlags(io, "verify", "verify [--chain [--after HASH]] FILE... | verify [--chain] ARCHIVE_DIR... | verify [--key PUBLIC_KEY] EXPORT_DIR | verify --data DIR [--key PUBLIC_KEY]\n"+
		"  a FILE is a ZATCA invoice; an ARCHIVE_DIR is a downloaded copy of the object-store archive;\n"+
		"  an EXPORT_DIR is written by `egsd journal export`, whose signed archive records are checked;\n"+
		"  --data checks the signed archive records in a stopped unit's store")
	chain := fs.Bool("chain", false, "also check that the files, in the order given (in an archive: counter order), continue one ICV/PIH chain")
	keyFile := fs.String("key", "", "the public key (PEM) the archive records of an EXPORT_DIR must verify with; default the one in the export")
	dataDir := fs.String("data", "", "a stopped unit's data directory whose signed archive records to check")
	after := fs.String("after", "", "with --chain: the hash the first file must continue from (a pruned journal's anchor, which egsd journal export prints)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *dataDir != "" {
		if fs.NArg() > 0 {
			return usagef("verify --data takes no files")
		}
		checks, failed, err := verifyStoredArchive(io, *dataDir, *keyFile)
		if err == nil && failed > 0 {
			err = fmt.Errorf("%d of %s failed", failed, plural(checks, "check", "checks"))
		}
		return err
	}
	if fs.NArg() == 0 {
		return usagef("verify needs at least one file or archive directory")
	}
	dirs := 0
	for _, path := range fs.Args() {
		if st, err := os.Stat(path); err == nil && st.IsDir() {
			dirs++
		}
	}
	if dirs == 0 {
		if *after != "" && !*chain {
			return usagef("--after needs --chain")
		}
		return verifyFiles(io, fs.Args(), *chain, *after)
	}
	if dirs != fs.NArg() {
		return usagef("give either document files or directories (archive copies or exports), not both")
	}
	var failed []error
	for _, dir := range fs.Args() {
		var err error
		if isJournalExport(dir) {
			// The signed archive records of an export (a Kazakh unit's).
			var checks, bad int
			if checks, bad, err = verifyExportRecords(io, dir, *keyFile); err == nil && bad > 0 {
				err = fmt.Errorf("%s: %d of %s failed", dir, bad, plural(checks, "check", "checks"))
			}
		} else {
			err = verifyArchive(io, dir, *chain)
		}
		if err != nil {
			failed = append(failed, err)
		}
	}
	switch {
	case len(failed) == 1 && fs.NArg() == 1:
		return failed[0]
	case len(failed) > 0:
		return fmt.Errorf("%d of %s failed: %w", len(failed), plural(fs.NArg(), "directory", "directories"), errors.Join(failed...))
	}
	return nil
}

// verifyArchive checks a directory copy of an archive: each unit's
// manifests and objects, its signed audit checkpoints, then its documents
// in counter order as verifyFiles checks exported files.
func verifyArchive(io IO, dir string, chain bool) error {
	units, err := offsite.ReadArchive(dir)
	if err != nil {
		fmt.Fprintf(io.Stdout, "FAIL archive %v\n", err)
	}
	if len(units) == 0 {
		return fmt.Errorf("%s is not a copy of the object-store archive (no unit manifest found) and has no archive directory of signed records (as `egsd journal export` writes for a Kazakh unit)", dir)
	}
	failed := err != nil
	for _, u := range units {
		fmt.Fprintf(io.Stdout, "archive %s: seller %s device %s (id %s), %s, documents %d–%d, %s, %s\n",
			u.Dir, u.Seller, u.Device, u.DeviceID, plural(len(u.Days), "day", "days"), u.First, u.Last,
			plural(u.Answers, "answer", "answers"), plural(len(u.Checkpoints), "audit checkpoint", "audit checkpoints"))
		for _, cp := range u.Checkpoints {
			if err := queue.CheckCheckpoint(cp, cp.PublicKey, u.DeviceID, keystore.VerifySHA256); err != nil {
				fmt.Fprintf(io.Stdout, "FAIL checkpoint %d: %v\n", cp.Seq, err)
				failed = true
			}
		}
		if len(u.Checkpoints) > 0 && !failed {
			fmt.Fprintf(io.Stdout, "OK audit checkpoints %d–%d signed by key %s\n", u.Checkpoints[0].Seq,
				u.Checkpoints[len(u.Checkpoints)-1].Seq, queue.KeyFingerprint(u.Checkpoints[len(u.Checkpoints)-1].PublicKey))
		}
		if len(u.Documents) == 0 {
			continue
		}
		if other := slices.IndexFunc(u.Regimes, func(r string) bool { return r != zatca.Name }); other >= 0 {
			// Only ZATCA's documents carry a signature egsd can check on
			// its own; the others were checked against the manifests.
			fmt.Fprintf(io.Stdout, "documents %d–%d checked against the manifests; document %d is of regime %s, whose signatures egsd verify does not check\n",
				u.First, u.Last, u.First+uint64(other), u.Regimes[other])
			continue
		}
		if err := verifyFiles(io, u.Documents, chain, ""); err != nil {
			failed = true
		}
	}
	if failed {
		return fmt.Errorf("%s failed", dir)
	}
	return nil
}

// verifyFiles checks each document file, and with chain that they continue
// one chain in the order given.
func verifyFiles(io IO, paths []string, chain bool, after string) error {
	failed := 0
	var verified []*zatca.Verified
	for _, path := range paths {
		doc, err := os.ReadFile(path)
		if err == nil {
			var v *zatca.Verified
			if v, err = zatca.Verify(doc); err == nil {
				fmt.Fprintf(io.Stdout, "OK %s %s\n", path, v.Hash)
				verified = append(verified, v)
				continue
			}
		}
		failed++
		fmt.Fprintf(io.Stdout, "FAIL %s %v\n", path, err)
	}
	if chain && failed == 0 {
		if after != "" && verified[0].PIH != after {
			fmt.Fprintf(io.Stdout, "FAIL chain the first document has PIH %s, not the anchor %s\n", verified[0].PIH, after)
			failed++
		} else if err := zatca.VerifyChain(verified); err != nil {
			fmt.Fprintf(io.Stdout, "FAIL chain %v\n", err)
			failed++
		} else {
			fmt.Fprintf(io.Stdout, "OK chain ICV %d–%d\n", verified[0].ICV, verified[len(verified)-1].ICV)
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %s failed", failed, plural(len(paths), "check", "checks"))
	}
	return nil
}
