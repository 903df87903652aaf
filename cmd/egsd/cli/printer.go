package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/egsd/egsd/agent"
	"github.com/egsd/egsd/device/escpos"
	"github.com/egsd/egsd/device/printer"
	"github.com/egsd/egsd/device/receipt"
	"github.com/egsd/egsd/device/serialport"
	"github.com/egsd/egsd/queue"
)

func runPrinter(ctx context.Context, io IO, args []string) error {
	fs := newFlags(io, "printer", "printer ports | profiles | status [--port PATH] | test [--port PATH]")
	port := fs.String("port", "", "status, test: talk to the printer on this port directly, without the agent (the agent must not be using it)")
	profile := fs.String("profile", "generic-80mm", "with --port: the printer profile (egsd printer profiles)")
	baud := fs.Int("baud", 0, "with --port: the baud rate (default: the profile's)")
	timeout := fs.Duration("timeout", 3*time.Second, "with --port: how long to wait for the printer's answer to a status request")
	asJSON := fs.Bool("json", false, "status: print the answer as JSON")
	af := addAPIFlags(fs)
	action, err := parseAction(fs, args, "printer needs an action: ports, profiles, status or test")
	if err != nil {
		return err
	}
	switch action {
	case "ports":
		return printPorts(io)
	case "profiles":
		return printProfiles(io)
	case "status", "test":
	default:
		return usagef("unknown printer action %q: ports, profiles, status or test", action)
	}
	if *port != "" {
		return printerDirect(ctx, io, action, *port, *profile, *baud, *timeout)
	}
	c, err := af.client(io, true)
	if err != nil {
		return err
	}
	if action == "test" {
		var out struct {
			Bytes int   `json:"bytes"`
			QR    []int `json:"qr_payload_lengths"`
		}
		fmt.Fprintln(io.Stderr, "asking egsd to print the test page; it answers once the printer has confirmed it, or with the reason it did not…")
		if err := c.postJSON(ctx, "/v1/printer/test", struct{}{}, &out); err != nil {
			return err
		}
		fmt.Fprintf(io.Stdout, "test page printed and confirmed: %d bytes, QR codes of %v characters; scan them to check the profile\n", out.Bytes, out.QR)
		return nil
	}
	var st struct {
		Enabled bool               `json:"enabled"`
		Printer agent.PrinterState `json:"printer"`
		Jobs    []queue.PrintJob   `json:"jobs"`
	}
	if err := c.get(ctx, "/v1/printer", &st); err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(io.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	if !st.Enabled {
		fmt.Fprintln(io.Stdout, "no printer configured ([printer] enabled = false)")
		return nil
	}
	p := st.Printer
	fmt.Fprintf(io.Stdout, "printer   %s on %s, profile %s\n", p.State, p.Port, p.Profile)
	if p.Detail != "" {
		fmt.Fprintf(io.Stdout, "detail    %s\n", p.Detail)
	}
	if p.Paper != "" {
		fmt.Fprintf(io.Stdout, "paper     %s\n", p.Paper)
	}
	fmt.Fprintf(io.Stdout, "queue     %d queued, %d awaiting the authority's answer, %d failed; %d printed since start\n",
		p.Queue.Queued, p.Queue.AwaitingAnswer, p.Queue.Failed, p.Printed)
	if len(st.Jobs) > 0 {
		tw := tabwriter.NewWriter(io.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "DOCUMENT\tCOPY\tSTATE\tATTEMPTS\tLAST ERROR")
		for _, j := range st.Jobs {
			fmt.Fprintf(tw, "%d\t%d\t%s\t%d\t%s\n", j.Counter, j.Copy, j.State, j.Attempts, j.LastError)
		}
		tw.Flush()
	}
	return nil
}

func printPorts(io IO) error {
	ports, err := serialport.List()
	if err != nil {
		return err
	}
	if len(ports) == 0 {
		fmt.Fprintln(io.Stdout, "no serial ports or USB printers found")
		return nil
	}
	tw := tabwriter.NewWriter(io.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PORT\tUSB VENDOR:PRODUCT\tSERIAL\tPRODUCT")
	for _, p := range ports {
		ids := "-"
		if p.USB {
			ids = p.VendorID + ":" + p.ProductID
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Name, ids, p.SerialNumber, p.Product)
	}
	return tw.Flush()
}

func printProfiles(io IO) error {
	tw := tabwriter.NewWriter(io.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROFILE\tWIDTH\tDPI\tCOLUMNS\tQR\tARABIC\tCUT\tBAUD")
	for _, p := range escpos.Profiles() {
		qr := "raster"
		if p.QRNative {
			qr = fmt.Sprintf("native ≤%d B", max(p.QRMaxBytes, 0))
			if p.QRMaxBytes == 0 {
				qr = "native"
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\t%s\t%d\n", p.Name, p.WidthDots, p.DPI, p.Columns, qr, p.Arabic, p.Cut, p.Baud)
	}
	return tw.Flush()
}

// printerDirect checks the printer or prints the test page on a port the
// agent is not using: the technician's first check at installation. It
// says on stderr what it is trying, and gives up on a printer that does
// not answer after one status request (without the agent's recovery
// flushes, which take half a minute at 9600 baud): a printer that does
// not answer at installation is off, unplugged or at another baud rate.
func printerDirect(ctx context.Context, io IO, action, port, profileName string, baud int, timeout time.Duration) error {
	prof, err := escpos.LookupProfile(profileName)
	if err != nil {
		return usagef("--profile: %v", err)
	}
	if baud == 0 {
		baud = prof.Baud
	}
	if timeout <= 0 {
		return usagef("--timeout must be positive, e.g. 3s")
	}
	sc := serialport.Config{Path: port, Baud: baud}
	if err := sc.Validate(); err != nil {
		return usagef("%v", err)
	}
	drv := printer.New(printer.Options{
		Open: func() (serialport.Port, error) { return serialport.Open(sc) }, Port: port, Baud: baud,
		ReplyTimeout: timeout, NoRecoveryFlush: true,
		Progress: func(step string) { fmt.Fprintf(io.Stderr, "%s…\n", step) },
	})
	defer drv.Close()
	snap, err := drv.Check(ctx)
	if snap.State == printer.StateNotResponding {
		err = noAnswer(port, baud, timeout, snap.Detail)
	}
	if action == "status" {
		fmt.Fprintf(io.Stdout, "printer   %s on %s\n", snap.State, port)
		if snap.Detail != "" {
			fmt.Fprintf(io.Stdout, "detail    %s\n", snap.Detail)
		}
		if snap.PaperLow {
			fmt.Fprintln(io.Stdout, "paper     low")
		}
		return err
	}
	if snap.State == printer.StateNotResponding {
		return err
	}
	if err != nil {
		return fmt.Errorf("printer on %s is not ready: %w", port, err)
	}
	layout, err := receipt.NewLayout(prof)
	if err != nil {
		return err
	}
	job, err := layout.TestPage(receipt.TestInfo{Port: port, Time: time.Now()})
	if err != nil {
		return err
	}
	if err := drv.Print(ctx, job.Chunks(4096)); err != nil {
		return fmt.Errorf("test page not printed: %w", err)
	}
	var lens []int
	for _, q := range job.QRs {
		lens = append(lens, len(q))
	}
	fmt.Fprintf(io.Stdout, "test page printed and confirmed: %d bytes, QR codes of %v characters; scan them to check the profile\n", len(job.Bytes), lens)
	return nil
}

// noAnswer says why a printer may not have answered, and what to try.
func noAnswer(port string, baud int, timeout time.Duration, detail string) error {
	other := 9600
	if baud == 9600 {
		other = 19200
	}
	msg := fmt.Sprintf("no answer from the printer on %s in %s: is it powered on and connected, and is the baud rate %d right? try --baud %d (printers ship at 9600, 19200, 38400 or 115200)",
		port, timeout, baud, other)
	if strings.Contains(detail, "not status replies") {
		msg += "; bytes did arrive, but none was a status reply: the baud rate is most likely wrong"
	}
	return errors.New(msg + "; a printer stopped in the middle of a receipt answers again once switched off and on")
}
