package cli

import (
	"context"
	"fmt"
	"os"

	"github.com/egsd/egsd/stamping/zatca"
)

func runVerify(_ context.Context, io IO, args []string) error {
	fs := newFlags(io, "verify", "verify [--chain [--after HASH]] FILE...")
	chain := fs.Bool("chain", false, "also check that the files, in the order given, continue one ICV/PIH chain")
	after := fs.String("after", "", "with --chain: the hash the first file must continue from (a pruned journal's anchor, which egsd journal export prints)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usagef("verify needs at least one file")
	}
	failed := 0
	var verified []*zatca.Verified
	for _, path := range fs.Args() {
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
	if *after != "" && !*chain {
		return usagef("--after needs --chain")
	}
	if *chain && failed == 0 {
		if *after != "" && verified[0].PIH != *after {
			fmt.Fprintf(io.Stdout, "FAIL chain the first document has PIH %s, not the anchor %s\n", verified[0].PIH, *after)
			failed++
		} else if err := zatca.VerifyChain(verified); err != nil {
			fmt.Fprintf(io.Stdout, "FAIL chain %v\n", err)
			failed++
		} else {
			fmt.Fprintf(io.Stdout, "OK chain ICV %d–%d\n", verified[0].ICV, verified[len(verified)-1].ICV)
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %s failed", failed, plural(len(fs.Args()), "check", "checks"))
	}
	return nil
}
