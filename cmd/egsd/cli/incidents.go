package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/egsd/egsd/queue"
)

func runIncidents(ctx context.Context, io IO, args []string) error {
	fs := newFlags(io, "incidents", "incidents list [--all] | show ID | notify ID --reference REF | open --kind unit-failure --since TIME [--until TIME] [--cause TEXT] | close ID [--summary TEXT]  [--json]")
	all := fs.Bool("all", false, "list: closed incidents too (default: the open ones)")
	reference := fs.String("reference", "", "notify: the authority's reference for the notice you filed about the incident")
	kind := fs.String("kind", "", "open: the kind of incident, unit-failure (the unit could not issue)")
	since := fs.String("since", "", "open: when the unit stopped issuing, RFC 3339 with offset (2026-03-01T14:05:00+03:00)")
	until := fs.String("until", "", "open: when it could issue again (default: now)")
	cause := fs.String("cause", "", "open: what happened, for the authority's notice")
	summary := fs.String("summary", "", "close: how the incident ended (default: late entry complete)")
	asJSON := fs.Bool("json", false, "print the agent's answer as JSON")
	af := addAPIFlags(fs)
	action, rest, err := parseActionArgs(fs, args, "incidents needs an action: list, show, notify, open or close")
	if err != nil {
		return err
	}
	var id uint64
	switch action {
	case "list", "open":
		if len(rest) > 0 {
			return usagef("incidents %s takes no arguments", action)
		}
		if action == "open" && (*kind != "unit-failure" || *since == "") {
			return usagef("incidents open needs --kind unit-failure and --since TIME: when the unit stopped issuing")
		}
	case "close":
		if id, err = oneID(rest, "incidents close"); err != nil {
			return err
		}
	case "show", "notify":
		if id, err = oneID(rest, "incidents "+action); err != nil {
			return err
		}
		if action == "notify" && strings.TrimSpace(*reference) == "" {
			return usagef("incidents notify needs --reference: the authority's reference for the notice")
		}
	default:
		return usagef("unknown incidents action %q: list, show, notify, open or close", action)
	}
	c, err := af.client(io, true)
	if err != nil {
		return err
	}
	switch action {
	case "close":
		if *asJSON {
			var inc queue.Incident
			if err := c.postJSON(ctx, "/v1/incidents/"+strconv.FormatUint(id, 10)+"/close", map[string]string{"summary": *summary}, &inc); err != nil {
				return err
			}
			return printJSON(io, inc)
		}
		return closeIncident(ctx, io, c, id, *summary)
	case "open":
		var inc queue.Incident
		req := map[string]string{"kind": *kind, "since": *since, "until": *until, "cause": *cause}
		if err := c.postJSON(ctx, "/v1/incidents", req, &inc); err != nil {
			return err
		}
		if *asJSON {
			return printJSON(io, inc)
		}
		fmt.Fprintf(io.Stdout, "opened incident %d\n", inc.ID)
		printIncident(io, inc)
		return nil
	}
	if action == "notify" {
		var inc queue.Incident
		if err := c.postJSON(ctx, "/v1/incidents/"+strconv.FormatUint(id, 10)+"/notifications", map[string]string{"reference": *reference}, &inc); err != nil {
			return err
		}
		if *asJSON {
			return printJSON(io, inc)
		}
		fmt.Fprintf(io.Stdout, "recorded notice %q on incident %d\n", strings.TrimSpace(*reference), id)
		printIncident(io, inc)
		return nil
	}
	path := "/v1/incidents"
	if action == "list" && !*all {
		path += "?" + url.Values{"open": {"true"}}.Encode()
	}
	var out struct {
		Incidents []queue.Incident `json:"incidents"`
	}
	if err := c.get(ctx, path, &out); err != nil {
		return err
	}
	if action == "show" {
		for _, inc := range out.Incidents {
			if inc.ID == id {
				if *asJSON {
					return printJSON(io, inc)
				}
				printIncident(io, inc)
				return nil
			}
		}
		return fmt.Errorf("no incident %d: egsd incidents list --all shows them all", id)
	}
	if *asJSON {
		return printJSON(io, out.Incidents)
	}
	if len(out.Incidents) == 0 {
		if *all {
			fmt.Fprintln(io.Stdout, "no incidents")
		} else {
			fmt.Fprintln(io.Stdout, "no open incidents (egsd incidents list --all shows the closed ones)")
		}
		return nil
	}
	tw := tabwriter.NewWriter(io.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tSTARTED\tENDED\tNOTICES\tTITLE")
	for _, inc := range out.Incidents {
		ended := "open"
		if !inc.Open() {
			ended = inc.End.Local().Format("2006-01-02 15:04:05")
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\n", inc.ID, inc.Kind, inc.Start.Local().Format("2006-01-02 15:04:05"), ended, len(inc.Notified), inc.Title)
	}
	return tw.Flush()
}

// printIncident shows one incident in full.
func printIncident(io IO, inc queue.Incident) {
	state := "open"
	if !inc.Open() {
		state = "closed " + inc.End.Local().Format("2006-01-02 15:04:05")
	}
	fmt.Fprintf(io.Stdout, "incident     %d (%s), %s\ntitle        %s\nstarted      %s\ndetail       %s\n",
		inc.ID, inc.Kind, state, inc.Title, inc.Start.Local().Format("2006-01-02 15:04:05"), inc.Detail)
	if !inc.Until.IsZero() {
		fmt.Fprintf(io.Stdout, "until        %s\n", inc.Until.Local().Format("2006-01-02 15:04:05"))
	}
	if inc.Kind == "unit_unavailable" {
		fmt.Fprintf(io.Stdout, "late entries %d\n", inc.LateEntries)
	}
	if inc.Summary != "" {
		fmt.Fprintf(io.Stdout, "summary      %s\n", inc.Summary)
	}
	keys := make([]string, 0, len(inc.Data))
	for k := range inc.Data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(io.Stdout, "  %-18s %s\n", k, inc.Data[k])
	}
	if len(inc.Notified) == 0 {
		fmt.Fprintf(io.Stdout, "notices      none recorded: once you have notified the authority, egsd incidents notify %d --reference REF\n", inc.ID)
	}
	for _, n := range inc.Notified {
		fmt.Fprintf(io.Stdout, "notice       %s (by %s at %s)\n", n.Reference, n.By, n.At.Local().Format("2006-01-02 15:04:05"))
	}
}

// oneID reads the single numeric ID that cmd takes.
func oneID(args []string, cmd string) (uint64, error) {
	if len(args) != 1 {
		return 0, usagef("%s takes one ID", cmd)
	}
	id, err := strconv.ParseUint(args[0], 10, 64)
	if err != nil || id == 0 {
		return 0, usagef("%s: %q is not an ID (a whole number from 1)", cmd, args[0])
	}
	return id, nil
}

// printJSON writes v as indented JSON.
func printJSON(io IO, v any) error {
	enc := json.NewEncoder(io.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
