package cli

import (
	"context"
	"fmt"
	"net/http"

	"github.com/egsd/egsd/agent"
	"github.com/egsd/egsd/stamping"
)

func runShift(ctx context.Context, io IO, args []string) error {
	fs := newFlags(io, "shift", "shift x | close  [--json]")
	asJSON := fs.Bool("json", false, "print the agent's answer as JSON")
	af := addAPIFlags(fs)
	action, err := parseAction(fs, args, "shift needs an action: x (the open shift's X report) or close (close it with its Z report)")
	if err != nil {
		return err
	}
	if action != "x" && action != "close" {
		return usagef("unknown shift action %q: x or close", action)
	}
	c, err := af.client(io, true)
	if err != nil {
		return err
	}
	if action == "x" {
		var rep stamping.ShiftReport
		if err := c.get(ctx, "/v1/shift", &rep); err != nil {
			return err
		}
		if *asJSON {
			return printJSON(io, rep)
		}
		title := "X report"
		if !rep.Open {
			title = "no shift is open; the last shift's Z report"
		}
		printShift(io, title, rep)
		return nil
	}
	var res agent.ShiftCloseResult
	if _, err := c.do(ctx, http.MethodPost, "/v1/shift/close", nil, nil, &res); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(io, res)
	}
	fmt.Fprintf(io.Stdout, "shift %d closed: document %d (%s), %s; the next document opens shift %d\n",
		res.Report.Number, res.Counter, res.Number, res.Status, res.Report.Number+1)
	printShift(io, "Z report", res.Report)
	return nil
}

// printShift writes a shift report: its documents, each operation's
// tickets and total, VAT per rate, the cash and the revenue.
func printShift(io IO, title string, rep stamping.ShiftReport) {
	fmt.Fprintf(io.Stdout, "%s, shift %d", title, rep.Number)
	if !rep.OpenedAt.IsZero() {
		fmt.Fprintf(io.Stdout, " opened %s", rep.OpenedAt.Format("2006-01-02 15:04:05"))
	}
	fmt.Fprintf(io.Stdout, "\n  documents  %d (%d autonomous)\n", rep.Documents, rep.Autonomous)
	for _, op := range rep.Operations {
		if op.Tickets > 0 {
			fmt.Fprintf(io.Stdout, "  %-12s %5d  %s\n", op.Operation, op.Tickets, op.Total)
		}
	}
	for _, tx := range rep.Taxes {
		fmt.Fprintf(io.Stdout, "  VAT %s%%  turnover %s  VAT %s\n", tx.Rate, tx.Turnover, tx.VAT)
	}
	fmt.Fprintf(io.Stdout, "  cash %s  revenue %s\n", rep.Cash, rep.Revenue)
}
