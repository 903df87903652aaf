package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/egsd/egsd/agent"
	"github.com/egsd/egsd/stamping/sale"
)

func runStatus(ctx context.Context, io IO, args []string) error {
	fs := newFlags(io, "status", "status [--json]")
	asJSON := fs.Bool("json", false, "print the agent's answer as JSON")
	af := addAPIFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	c, err := af.client(io, true)
	if err != nil {
		return err
	}
	var st agent.Status
	if err := c.get(ctx, "/v1/status", &st); err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(io.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	fmt.Fprintf(io.Stdout, "state        %s", st.State)
	if st.StateDetail != "" {
		fmt.Fprintf(io.Stdout, ": %s", st.StateDetail)
	}
	fmt.Fprintf(io.Stdout, "\nregime       %s (%s stamping)\ndevice       %s\ndocuments    %d", st.Regime, st.StampMode, st.DeviceID, st.Counter)
	if !st.LastIssued.IsZero() {
		fmt.Fprintf(io.Stdout, " (last at %s)", st.LastIssued.Local().Format("2006-01-02 15:04:05"))
	}
	fmt.Fprintf(io.Stdout, "\noutbox       %d pending", st.Outbox.Pending)
	if !st.Outbox.Oldest.IsZero() {
		fmt.Fprintf(io.Stdout, " (oldest issued %s)", st.Outbox.Oldest.Local().Format("2006-01-02 15:04:05"))
	}
	if n := st.AuthorityNumbers; n != nil {
		fmt.Fprintf(io.Stdout, "\nauthority    next number %d", n.Next)
		if f := n.InFlight; f != nil {
			fmt.Fprintf(io.Stdout, "; number %d held by document %d since %s, awaiting the answer", f.Number, f.Counter, f.Since.Local().Format("2006-01-02 15:04:05"))
		}
	}
	fmt.Fprintf(io.Stdout, "\nversion      %s\n", st.Version)
	if o := st.Onboarding; o != nil {
		fmt.Fprintf(io.Stdout, "onboarding   %s", o.State)
		if !o.NotAfter.IsZero() {
			fmt.Fprintf(io.Stdout, " (certificate valid until %s)", o.NotAfter.Local().Format("2006-01-02"))
		}
		fmt.Fprintln(io.Stdout)
		if o.Warning != "" {
			fmt.Fprintln(io.Stdout, "WARNING     ", o.Warning)
		}
	}
	if s := st.Submission; s.Paused != "" {
		fmt.Fprintln(io.Stdout, "SUBMISSION PAUSED:", s.Paused)
	} else if !s.FailingSince.IsZero() {
		fmt.Fprintf(io.Stdout, "submission   failing since %s: %s\n", s.FailingSince.Local().Format("2006-01-02 15:04:05"), s.LastError)
	}
	if p := st.Printer; p != nil {
		fmt.Fprintf(io.Stdout, "printer      %s on %s (%s)", p.State, p.Port, p.Profile)
		if p.Detail != "" {
			fmt.Fprintf(io.Stdout, ": %s", p.Detail)
		}
		if p.Paper == "low" {
			fmt.Fprint(io.Stdout, ", paper low")
		}
		fmt.Fprintf(io.Stdout, "; %s queued", plural(p.Queue.Queued, "receipt", "receipts"))
		if p.Queue.AwaitingAnswer > 0 {
			fmt.Fprintf(io.Stdout, ", %d awaiting the authority's answer", p.Queue.AwaitingAnswer)
		}
		if p.Queue.Failed > 0 {
			fmt.Fprintf(io.Stdout, ", %d FAILED (egsd printer status)", p.Queue.Failed)
		}
		fmt.Fprintln(io.Stdout)
	}
	if ar := st.Archive; ar != nil {
		fmt.Fprintf(io.Stdout, "archive      up to document %d, %d pending", ar.Documents, ar.Pending)
		if !ar.LastPass.IsZero() {
			fmt.Fprintf(io.Stdout, ", last pass %s", ar.LastPass.Local().Format("2006-01-02 15:04:05"))
		}
		fmt.Fprintln(io.Stdout)
		if ar.LastError != "" {
			fmt.Fprintf(io.Stdout, "ARCHIVE      failing since %s (sales are not affected): %s\n", ar.FailingSince.Local().Format("2006-01-02 15:04:05"), ar.LastError)
		}
	}
	printRejected(io, st.Rejected)
	for _, inc := range st.Incidents {
		fmt.Fprintf(io.Stdout, "INCIDENT %d   %s since %s: %s\n", inc.ID, inc.Title, inc.Start.Local().Format("2006-01-02 15:04:05"), inc.Detail)
		if len(inc.Notified) == 0 {
			fmt.Fprintf(io.Stdout, "             no notice recorded: egsd incidents notify %d --reference REF (manager)\n", inc.ID)
		}
	}
	return nil
}

// printRejected lists the rejected documents and what each still needs.
func printRejected(io IO, r agent.RejectedSummary) {
	if r.Count == 0 {
		return
	}
	fmt.Fprintf(io.Stdout, "REJECTED     %s by the authority, %d without a credit note", plural(r.Count, "document", "documents"), r.WithoutCreditNote)
	if r.WithoutCreditNote > 0 {
		fmt.Fprint(io.Stdout, ": a manager issues each one's credit note with egsd documents credit-note N")
	}
	fmt.Fprintln(io.Stdout)
	tw := tabwriter.NewWriter(io.Stdout, 0, 4, 2, ' ', 0)
	for _, d := range r.Newest {
		note := "NO CREDIT NOTE"
		switch {
		case d.CreditNote != 0:
			note = fmt.Sprintf("credit note %d", d.CreditNote)
		case d.Kind == string(sale.CreditNote):
			note = "a credit note: issue the return again"
		}
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\n", d.Counter, d.Number, d.IssuedAt.Local().Format("2006-01-02 15:04:05"), note, d.Message)
	}
	tw.Flush()
	if more := r.Count - len(r.Newest); more > 0 {
		fmt.Fprintf(io.Stdout, "  and %d older: egsd documents list --status rejected\n", more)
	}
}
