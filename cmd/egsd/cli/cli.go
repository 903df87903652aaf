// Package cli implements the egsd command line: one file per subcommand,
// each runnable in-process with its own input and output for tests.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// Version is set at build time with -ldflags "-X ...cli.Version=v1.2.3".
var Version = "dev"

// IO is where a command reads and writes.
type IO struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
}

// Stdio is the process's own standard streams and environment.
func Stdio() IO { return IO{os.Stdin, os.Stdout, os.Stderr, os.Getenv} }

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, io IO, args []string) error
}

func commands() []command {
	return []command{
		{"run", "run the agent in the foreground (the service runs this)", runRun},
		{"service", "install, uninstall, start, stop or show the system service", runService},
		{"login", "open a session and keep its token for later commands", runLogin},
		{"logout", "end the kept session", runLogout},
		{"users", "add, list, change and remove users", runUsers},
		{"sale", "issue a sale from a JSON file or standard input; --batch enters a paper log after a unit failure", runSale},
		{"status", "show the unit's state", runStatus},
		{"onboard", "register the unit with the authority, or renew its certificate (technician)", runOnboard},
		{"replay", "submit every pending document now and follow the progress (manager)", runReplay},
		{"shift", "show the open shift's X report, or close it with its Z report (manager; kz)", runShift},
		{"incidents", "list incidents, record the notices filed with the authority, open and close unit failures", runIncidents},
		{"documents", "list, show, fetch and reprint documents; corrective credit notes (manager)", runDocuments},
		{"config", "show the configuration the running agent uses (technician, manager)", runConfig},
		{"printer", "list serial ports and printer profiles, show the printer, print a test page", runPrinter},
		{"audit", "list and verify the audit log; sign and export checkpoints of it", runAudit},
		{"verify", "verify signed documents (hash, signature, QR) and their chain, archive copies, or signed archive records", runVerify},
		{"journal", "export the stored documents and archive records byte for byte; compact the store", runJournal},
		{"bench", "measure the running agent: sales/s and latency", runBench},
		{"sim", "run an authority simulator for tests, demos and training (zatca, etims, ofd)", runSim},
		{"version", "print the version", runVersion},
	}
}

// usageError is a mistake in the command line: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// ExitCode is the process exit status for err: 2 for usage mistakes, 1 otherwise.
func ExitCode(err error) int {
	var u *usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

// Run runs the egsd command line args.
func Run(ctx context.Context, args []string, io IO) error {
	if io.Getenv == nil {
		io.Getenv = func(string) string { return "" }
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printHelp(io.Stdout)
		if len(args) == 0 {
			return usagef("no command given")
		}
		return nil
	}
	for _, c := range commands() {
		if c.name == args[0] {
			err := c.run(ctx, io, args[1:])
			if errors.Is(err, flag.ErrHelp) {
				return nil
			}
			return err
		}
	}
	return usagef("unknown command %q; run 'egsd --help' for the list", args[0])
}

func printHelp(w io.Writer) {
	fmt.Fprintln(w, "egsd — fiscal device agent\n\nUsage: egsd <command> [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'egsd <command> --help' for a command's flags.")
}

// newFlags returns a FlagSet for a command. Its usage, with every flag
// written --name as the usage line writes them, goes to standard output
// when asked for with --help and to standard error after a mistake.
func newFlags(io IO, name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet("egsd "+name, flag.ContinueOnError)
	fs.SetOutput(flagOutput{stdout: io.Stdout, stderr: io.Stderr})
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: egsd %s\n\nFlags:\n", usage)
		printFlags(fs.Output(), fs)
	}
	return fs
}

// flagOutput is a FlagSet's output: standard error, with standard output
// kept for the usage that --help asks for.
type flagOutput struct{ stdout, stderr io.Writer }

func (o flagOutput) Write(p []byte) (int, error) { return o.stderr.Write(p) }

// printFlags lists the flags of fs as flag.PrintDefaults does, but with
// the double dash that the usage lines and the messages use.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		var b strings.Builder
		fmt.Fprintf(&b, "  --%s", f.Name)
		name, usage := flag.UnquoteUsage(f)
		if name != "" {
			b.WriteString(" " + name)
		}
		b.WriteString("\n    \t" + strings.ReplaceAll(usage, "\n", "\n    \t"))
		switch f.DefValue {
		case "", "0", "false", "0s", "[]":
		default:
			if g, ok := f.Value.(flag.Getter); ok && isString(g.Get()) {
				fmt.Fprintf(&b, " (default %q)", f.DefValue)
			} else {
				fmt.Fprintf(&b, " (default %v)", f.DefValue)
			}
		}
		fmt.Fprintln(w, b.String())
	})
}

func isString(v any) bool { _, ok := v.(string); return ok }

// parse parses args, turning flag mistakes into usage errors. --help
// prints the usage on standard output and returns flag.ErrHelp, which Run
// turns into success.
func parse(fs *flag.FlagSet, args []string) error {
	out, usage := fs.Output(), fs.Usage
	// The flag package prints its message and the usage itself, both to
	// one writer; they are printed below instead, each where it belongs.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	fs.SetOutput(out)
	fs.Usage = usage
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		if o, ok := out.(flagOutput); ok {
			fs.SetOutput(o.stdout)
			defer fs.SetOutput(out)
		}
		fs.Usage()
		return err
	}
	fs.Usage()
	return usagef("%s", doubleDash(err.Error()))
}

// doubleDash rewrites the flag package's "-name" in its messages as the
// "--name" that the usage shows.
func doubleDash(msg string) string {
	msg = strings.Replace(msg, "flag provided but not defined: -", "unknown flag --", 1)
	msg = strings.Replace(msg, " for flag -", " for flag --", 1)
	return strings.Replace(msg, "flag needs an argument: -", "flag needs an argument: --", 1)
}

func runVersion(_ context.Context, io IO, args []string) error {
	fs := newFlags(io, "version", "version")
	if err := parse(fs, args); err != nil {
		return err
	}
	fmt.Fprintln(io.Stdout, "egsd", Version)
	return nil
}

// defaultConfigPath is where the service reads its configuration.
const defaultConfigPath = "/etc/egsd/config.toml"

// configPath resolves --config, then $EGSD_CONFIG, then the default.
func configPath(io IO, flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	if v := io.Getenv("EGSD_CONFIG"); v != "" {
		return v
	}
	return defaultConfigPath
}

// parseActionArgs is parseAction for actions that take arguments (an
// ID): "ACTION [flags] ARG [flags]", flags before or after the arguments.
func parseActionArgs(fs *flag.FlagSet, args []string, what string) (action string, rest []string, err error) {
	action, err = parseAction(fs, args, what)
	if err != nil {
		return "", nil, err
	}
	for more := fs.Args(); len(more) > 0; more = fs.Args() {
		rest = append(rest, more[0])
		if err := parse(fs, more[1:]); err != nil {
			return "", nil, err
		}
	}
	return action, rest, nil
}

// parseAction splits "ACTION [flags]" for commands with actions; a flag in
// the action's place (--help) is parsed so that help works.
func parseAction(fs *flag.FlagSet, args []string, what string) (string, error) {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if err := parse(fs, args); err != nil {
			return "", err
		}
		fs.Usage()
		return "", usagef("%s", what)
	}
	return args[0], parse(fs, args[1:])
}

// plural writes n with the singular or the plural noun: "1 problem",
// "2 problems".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
