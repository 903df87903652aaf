// Command unitgen writes the systemd unit the packages install to the file
// named by its one argument (the package build runs it; see nfpm.yaml).
package main

import (
	"fmt"
	"os"

	"github.com/egsd/egsd/packaging"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: unitgen OUTPUT-FILE")
		os.Exit(2)
	}
	unit, err := packaging.PackagedUnit()
	if err == nil {
		err = os.WriteFile(os.Args[1], []byte(unit), 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "unitgen:", err)
		os.Exit(1)
	}
}
