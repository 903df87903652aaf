// Command egsd is the fiscal device agent: the service that issues, stamps
// and delivers fiscal documents, and the CLI that operates it.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/egsd/egsd/cmd/egsd/cli"
)

func main() {
	if err := cli.Run(context.Background(), os.Args[1:], cli.Stdio()); err != nil {
		fmt.Fprintln(os.Stderr, "egsd:", err)
		os.Exit(cli.ExitCode(err))
	}
}
