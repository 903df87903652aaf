package cli

import (
	"context"
	"fmt"
	"os"

	"github.com/egsd/egsd/stamping/zatca"
)

func runVerify(_ context.Context, io IO, args []string) error {
	fs := newFlags(io, "verify", "verify [--chain] FILE... | verify [--key PUBLIC_KEY] EXPORT_DIR | verify --data DIR [--key PUBLIC_KEY]\n"+
		"  a FILE is a ZATCA invoice; an EXPORT_DIR is written by `egsd journal export`, whose signed archive records are checked;\n"+
		"  --data checks the signed archive records in a stopped unit's store")
	chain := fs.Bool("chain", false, "also check that the files, in the order given, continue one ICV/PIH chain")
	keyFile := fs.String("key", "", "the public key (PEM) the archive records of an EXPORT_DIR must verify with; default the one in the export")
	dataDir := fs.String("data", "", "a stopped unit's data directory whose signed archive records to check")
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
		return usagef("verify needs at least one file")
	}
	failed, checks := 0, 0
	var verified []*zatca.Verified
	for _, path := range fs.Args() {
		if fi, err := os.Stat(path); err == nil && fi.IsDir() {
			n, bad, err := verifyArchive(io, path, *keyFile)
			if err != nil {
				return err
			}
			checks, failed = checks+n, failed+bad
			continue
		}
		checks++
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
	if *chain && failed == 0 {
		if err := zatca.VerifyChain(verified); err != nil {
			fmt.Fprintf(io.Stdout, "FAIL chain %v\n", err)
			failed++
		} else {
			fmt.Fprintf(io.Stdout, "OK chain ICV %d–%d\n", verified[0].ICV, verified[len(verified)-1].ICV)
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %s failed", failed, plural(checks, "check", "checks"))
	}
	return nil
}
