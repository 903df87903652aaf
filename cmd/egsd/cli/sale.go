package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/egsd/egsd/agent"
)

func runSale(ctx context.Context, io_ IO, args []string) error {
	fs := newFlags(io_, "sale", "sale [FILE | -] [--key KEY] [--json]  |  sale --batch FILE [--incident ID] [--complete [--summary TEXT]]")
	key := fs.String("key", "", "Idempotency-Key (default: a new random key, printed so that a retry can reuse it)")
	asJSON := fs.Bool("json", false, "print the agent's full answer as JSON")
	batch := fs.String("batch", "", "enter the sales of a paper log kept while the unit could not issue (JSON lines or CSV; manager): a rerun issues only what is missing")
	incident := fs.Uint64("incident", 0, "--batch: the unit failure incident the sales belong to (default: the one whose window holds each sale's time)")
	complete := fs.Bool("complete", false, "--batch: close the incident once every sale is entered (needs --incident)")
	summary := fs.String("summary", "", "--batch --complete: the closing summary (default: late entry complete)")
	af := addAPIFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *batch != "" {
		if fs.NArg() > 0 || *key != "" || *asJSON {
			return usagef("sale --batch takes no other file, --key or --json: each sale's key comes from the file")
		}
		if *complete && *incident == 0 {
			return usagef("sale --batch --complete needs --incident: the incident to close")
		}
		c, err := af.client(io_, true)
		if err != nil {
			return err
		}
		return runBatch(ctx, io_, c, *batch, batchOptions{incident: *incident, complete: *complete, summary: *summary, every: 1})
	}
	if *incident != 0 || *complete || *summary != "" {
		return usagef("--incident, --complete and --summary go with --batch")
	}
	var body []byte
	var err error
	switch fs.NArg() {
	case 0:
		body, err = io.ReadAll(io_.Stdin)
	case 1:
		if fs.Arg(0) == "-" {
			body, err = io.ReadAll(io_.Stdin)
		} else {
			body, err = os.ReadFile(fs.Arg(0))
		}
	default:
		return usagef("sale takes one file (or - for standard input)")
	}
	if err != nil {
		return fmt.Errorf("read sale: %w", err)
	}
	c, err := af.client(io_, true)
	if err != nil {
		return err
	}
	k := *key
	if k == "" {
		if k, err = randomKey(); err != nil {
			return err
		}
	}
	var doc agent.DocumentView
	resp, err := c.do(ctx, http.MethodPost, "/v1/sales", http.Header{"Idempotency-Key": {k}}, body, &doc)
	if err != nil {
		if ae, ok := err.(*apiError); ok && len(ae.Problem.Errors) > 0 {
			fmt.Fprintln(io_.Stderr, "The sale was refused:")
			for _, fe := range ae.Problem.Errors {
				fmt.Fprintf(io_.Stderr, "  %s\n", fe.Error()) // a problem with the whole body names no field
			}
			return fmt.Errorf("sale refused (%s); nothing was issued", plural(len(ae.Problem.Errors), "problem", "problems"))
		}
		// Only a request that reached the agent and got no answer, or an
		// internal error, leaves the outcome open; a refusal (4xx, or 503
		// "not ready") or a connection nobody accepted issued nothing.
		var noAnswer *noAnswerError
		if ae, ok := err.(*apiError); errors.As(err, &noAnswer) || ok && ae.Status == http.StatusInternalServerError {
			fmt.Fprintf(io_.Stderr, "The outcome is unknown. Resend with --key %s: the agent returns the document if it was issued.\n", k)
		}
		var unreachable *unreachableError
		if errors.As(err, &unreachable) {
			return fmt.Errorf("%w; nothing was issued", err)
		}
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(io_.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(doc)
	}
	verb := "issued"
	if resp.Header.Get("Idempotent-Replayed") == "true" {
		verb = "already issued earlier"
	}
	fmt.Fprintf(io_.Stdout, "%s document %d (%s) at %s\n  uuid    %s\n  hash    %s\n  status  %s\n  key     %s\n",
		verb, doc.Counter, doc.Kind, doc.IssuedAt.Local().Format("2006-01-02 15:04:05"), doc.UUID, doc.Hash, doc.Status, k)
	return nil
}

func randomKey() (string, error) {
	b := make([]byte, 16)
	if _, err := randRead(b); err != nil {
		return "", err
	}
	return fmt.Sprintf("%x", b), nil
}
