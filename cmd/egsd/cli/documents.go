package cli

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/egsd/egsd/agent"
	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/stamping/sale"
)

const documentsUsage = `documents list [--since N] [--limit N] [--status S] | show ID | content ID [--form F] [--out FILE] | print ID | credit-note ID  [--json]

ID is a document's counter or UUID. Cashiers see and reprint only their own
documents; credit-note is for managers.`

func runDocuments(ctx context.Context, io IO, args []string) error {
	fs := newFlags(io, "documents", documentsUsage)
	since := fs.Uint64("since", 0, "list: documents after this counter")
	limit := fs.Int("limit", 50, "list: at most this many (1-1000)")
	status := fs.String("status", "", "list: only documents the authority answered so: pending, accepted, accepted_with_warnings or rejected")
	form := fs.String("form", "", "content: issued (the stored bytes), cleared (the authority's cleared document) or handover (what the buyer may be given now)")
	out := fs.String("out", "", "content: write the document to this file instead of standard output")
	asJSON := fs.Bool("json", false, "list, show, credit-note: print the agent's answer as JSON")
	af := addAPIFlags(fs)
	action, rest, err := parseActionArgs(fs, args, "documents needs an action: list, show, content, print or credit-note")
	if err != nil {
		return err
	}
	var id string
	switch action {
	case "list":
		if len(rest) > 0 {
			return usagef("documents list takes no arguments")
		}
		if *limit < 1 || *limit > 1000 {
			return usagef("--limit must be between 1 and 1000")
		}
	case "show", "content", "print", "credit-note":
		if len(rest) != 1 || rest[0] == "" {
			return usagef("documents %s takes one document: its counter or UUID", action)
		}
		id = url.PathEscape(rest[0])
	default:
		return usagef("unknown documents action %q: list, show, content, print or credit-note", action)
	}
	c, err := af.client(io, true)
	if err != nil {
		return err
	}
	switch action {
	case "list":
		q := url.Values{"since": {strconv.FormatUint(*since, 10)}, "limit": {strconv.Itoa(*limit)}}
		if *status != "" {
			q.Set("status", *status)
		}
		var page struct {
			Documents []agent.DocumentView `json:"documents"`
			Next      uint64               `json:"next"`
		}
		if err := c.get(ctx, "/v1/documents?"+q.Encode(), &page); err != nil {
			return err
		}
		if *asJSON {
			return printJSON(io, page)
		}
		printDocumentList(io, page.Documents, page.Next)
		return nil
	case "show":
		var d agent.DocumentView
		if err := c.get(ctx, "/v1/documents/"+id, &d); err != nil {
			return err
		}
		if *asJSON {
			return printJSON(io, d)
		}
		printDocument(io, d)
		return nil
	case "content":
		return fetchContent(ctx, io, c, id, *form, *out)
	case "print":
		var answer struct {
			Job queue.PrintJob `json:"job"`
		}
		if err := c.postJSON(ctx, "/v1/documents/"+id+"/print", struct{}{}, &answer); err != nil {
			return err
		}
		what := "a copy (marked COPY)"
		if answer.Job.Copy == 0 {
			what = "the original, which had not printed yet,"
		}
		fmt.Fprintf(io.Stdout, "queued %s of document %d for the printer; egsd printer status shows the queue\n", what, answer.Job.Counter)
		return nil
	}
	// credit-note
	var note agent.DocumentView
	resp, err := c.do(ctx, http.MethodPost, "/v1/documents/"+id+"/credit-note", nil, nil, &note)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(io, note)
	}
	verb := "issued"
	if resp.Header.Get("Idempotent-Replayed") == "true" {
		verb = "already issued earlier:"
	}
	fmt.Fprintf(io.Stdout, "%s corrective credit note %d for document %s (status %s)\n", verb, note.Counter, rest[0], note.Status)
	fmt.Fprintln(io.Stdout, "Issue the sale again, correctly, as a new invoice.")
	return nil
}

// fetchContent writes a document's bytes to out, or to standard output.
func fetchContent(ctx context.Context, io IO, c *client, id, form, out string) error {
	path := "/v1/documents/" + id + "/content"
	if form != "" {
		path += "?" + url.Values{"form": {form}}.Encode()
	}
	resp, data, err := c.doRaw(ctx, http.MethodGet, path, nil, nil)
	if err != nil {
		return err
	}
	if out == "" || out == "-" {
		_, err = io.Stdout.Write(data)
		return err
	}
	// A new file only: a document is evidence, and an existing file is
	// not overwritten by mistake.
	if err := writeNewFile(out, data); err != nil {
		return fmt.Errorf("write the document: %w", err)
	}
	fmt.Fprintf(io.Stderr, "wrote %d bytes (%s, hash %s) to %s\n", len(data), resp.Header.Get("Content-Type"), resp.Header.Get("X-Document-Hash"), out)
	return nil
}

func printDocumentList(io IO, docs []agent.DocumentView, next uint64) {
	if len(docs) == 0 {
		fmt.Fprintln(io.Stdout, "no documents")
		return
	}
	tw := tabwriter.NewWriter(io.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "COUNTER\tISSUED\tKIND\tSTATUS\tUSER\tPRINTED\tUUID")
	for _, d := range docs {
		printed := "no"
		if !d.PrintedAt.IsZero() {
			printed = "yes"
			if d.Copies > 0 {
				printed += fmt.Sprintf(" +%d", d.Copies)
			}
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", d.Counter, d.IssuedAt.Local().Format("2006-01-02 15:04:05"),
			d.Kind, d.Status, d.User, printed, d.UUID)
	}
	tw.Flush()
	if next != 0 {
		fmt.Fprintf(io.Stdout, "more: --since %d\n", next)
	}
}

func printDocument(io IO, d agent.DocumentView) {
	fmt.Fprintf(io.Stdout, "document     %d (%s)\nuuid         %s\nissued       %s by %s\nstatus       %s\nhandover     %s\nhash         %s\nprevious     %s\ncontent      %s, %d bytes (egsd documents content %d)\n",
		d.Counter, strings.ReplaceAll(d.Kind, "_", " "), d.UUID, d.IssuedAt.Local().Format("2006-01-02 15:04:05"), d.User,
		d.Status, d.Handover, d.Hash, d.PrevHash, d.ContentType, len(d.Document), d.Counter)
	if !d.AnsweredAt.IsZero() {
		fmt.Fprintf(io.Stdout, "answered     %s\n", d.AnsweredAt.Local().Format("2006-01-02 15:04:05"))
	}
	for _, m := range d.Messages {
		fmt.Fprintf(io.Stdout, "  authority: %s\n", m)
	}
	switch {
	case d.Status != queue.StatusRejected:
	case d.Kind == string(sale.CreditNote):
		fmt.Fprintln(io.Stdout, "REJECTED: the credit note keeps its place in the chain and takes nothing from its original any more; issue the return again, corrected")
	default:
		fmt.Fprintf(io.Stdout, "REJECTED: the document keeps its place in the chain; a manager issues its corrective credit note with egsd documents credit-note %d (egsd status says when a credit note corrects it)\n", d.Counter)
	}
	if d.PrintedAt.IsZero() {
		fmt.Fprintln(io.Stdout, "printed      not yet")
	} else {
		fmt.Fprintf(io.Stdout, "printed      %s, %s since\n", d.PrintedAt.Local().Format("2006-01-02 15:04:05"), plural(d.Copies, "copy", "copies"))
	}
}

// writeNewFile writes data to a file that must not exist yet, readable by
// its owner only.
func writeNewFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}
