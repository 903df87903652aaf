package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/egsd/egsd/queue"
)

func runAudit(ctx context.Context, io IO, args []string) error {
	fs := newFlags(io, "audit", "audit verify [--config FILE | --data DIR] [--session]")
	cfgFlag := fs.String("config", "", "configuration file (default $EGSD_CONFIG or "+defaultConfigPath+")")
	dataFlag := fs.String("data", "", "data directory (overrides the configuration's data_dir)")
	useSession := fs.Bool("session", false, "verify through the running agent as the manager logged in with 'egsd login'")
	af := addAPIFlags(fs)
	action, err := parseAction(fs, args, "audit needs the action verify")
	if err != nil {
		return err
	}
	if action != "verify" {
		return usagef("unknown audit action %q: the action is verify", action)
	}
	if *useSession {
		c, err := af.client(io, true)
		if err != nil {
			return err
		}
		var res struct {
			OK       bool   `json:"ok"`
			Entries  int    `json:"entries"`
			BrokenAt uint64 `json:"broken_at"`
			Reason   string `json:"reason"`
		}
		if err := c.get(ctx, "/v1/audit/verify", &res); err != nil {
			return err
		}
		return reportAudit(io, res.Entries, res.OK, res.BrokenAt, res.Reason)
	}
	cfg, err := localConfig(io, *cfgFlag, *dataFlag)
	if err != nil {
		return err
	}
	store, err := queue.Open(cfg.DataDir, &queue.Options{MustExist: true})
	if errors.Is(err, queue.ErrLocked) {
		return fmt.Errorf("%w; to verify while it runs, log in as a manager and pass --session", err)
	}
	if err != nil {
		return err
	}
	defer store.Close()
	n, err := store.VerifyAudit()
	var brk *queue.AuditBreak
	if errors.As(err, &brk) {
		return reportAudit(io, n, false, brk.Seq, brk.Reason)
	}
	if err != nil {
		return err
	}
	return reportAudit(io, n, true, 0, "")
}

func reportAudit(io IO, entries int, ok bool, brokenAt uint64, reason string) error {
	if ok {
		fmt.Fprintf(io.Stdout, "OK audit log: %d entries, chain intact\n", entries)
		return nil
	}
	fmt.Fprintf(io.Stdout, "FAIL audit log: entry %d: %s (%d entries before it verify)\n", brokenAt, reason, entries)
	return fmt.Errorf("audit log broken at entry %d", brokenAt)
}
