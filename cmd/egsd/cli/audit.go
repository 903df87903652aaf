package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/egsd/egsd/agent"
	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/stamping/keystore"
)

const auditUsage = `audit verify [--checkpoint FILE] | list [--since N] [--limit N] | checkpoint [--out FILE] | rekey
       [--config FILE | --data DIR] [--session]

  verify       check the audit log's hash chain and its signed checkpoints; with
               --checkpoint, also that the log still holds what an exported checkpoint signed
  list         print audit entries: who (and what kind of actor: user, owner, system,
               anonymous) did what
  checkpoint   sign a checkpoint of the log's head now and print it (or write it to --out),
               to keep somewhere off the unit
  rekey        record a new audit key when the old key file is lost (agent stopped)

Without --session the command opens the data directory itself (agent stopped, as the
directory's owner); with --session it asks the running agent as the manager logged in.`

func runAudit(ctx context.Context, io IO, args []string) error {
	fs := newFlags(io, "audit", auditUsage)
	cfgFlag := fs.String("config", "", "configuration file (default $EGSD_CONFIG or "+defaultConfigPath+")")
	dataFlag := fs.String("data", "", "data directory (overrides the configuration's data_dir)")
	useSession := fs.Bool("session", false, "ask the running agent, as the manager logged in with 'egsd login'")
	checkpointFile := fs.String("checkpoint", "", "verify: an exported checkpoint (from 'egsd audit checkpoint') the log must still match")
	since := fs.Uint64("since", 0, "list: entries after this one")
	limit := fs.Int("limit", 100, "list: at most this many entries (1–1000)")
	out := fs.String("out", "", "checkpoint: write it to this file instead of standard output")
	af := addAPIFlags(fs)
	action, err := parseAction(fs, args, "audit needs an action: verify, list, checkpoint or rekey")
	if err != nil {
		return err
	}
	if *limit < 1 || *limit > 1000 {
		return usagef("--limit must be between 1 and 1000")
	}
	var src auditSource
	switch action {
	case "verify", "list", "checkpoint":
	case "rekey":
		if *useSession {
			return usagef("audit rekey works on the data directory with the agent stopped; drop --session")
		}
		return rekeyAudit(io, *cfgFlag, *dataFlag)
	default:
		return usagef("unknown audit action %q: verify, list, checkpoint or rekey", action)
	}
	if *useSession {
		c, err := af.client(io, true)
		if err != nil {
			return err
		}
		src = apiAudit{c}
	} else {
		cfg, err := localConfig(io, *cfgFlag, *dataFlag)
		if err != nil {
			return err
		}
		// Only a checkpoint writes, and it needs the key the store signs with.
		var store *queue.Store
		if action == "checkpoint" {
			store, err = agent.OpenStore(cfg.DataDir, &queue.Options{MustExist: true})
		} else {
			store, err = queue.Open(cfg.DataDir, &queue.Options{MustExist: true})
		}
		if errors.Is(err, queue.ErrLocked) {
			return fmt.Errorf("%w; while it runs, log in as a manager and pass --session", err)
		}
		if err != nil {
			return err
		}
		defer store.Close()
		src = storeAudit{store, cfg.DataDir}
	}
	switch action {
	case "verify":
		return verifyAudit(ctx, io, src, *checkpointFile)
	case "list":
		return listAudit(ctx, io, src, *since, *limit)
	default:
		return exportCheckpoint(ctx, io, src, *out)
	}
}

// auditSource is the audit log of a data directory or of the running agent.
type auditSource interface {
	verify(ctx context.Context) (agent.AuditVerifyView, bool, error)
	entries(ctx context.Context, since uint64, limit int) ([]queue.AuditEntry, error)
	checkpoint(ctx context.Context) (queue.AuditCheckpoint, error)
	deviceID() string
}

type storeAudit struct {
	store   *queue.Store
	dataDir string
}

func (s storeAudit) verify(context.Context) (agent.AuditVerifyView, bool, error) {
	v, err := agent.VerifyAudit(s.store, s.dataDir)
	view := agent.AuditVerifyView{OK: err == nil, Entries: v.Entries, Checkpoints: v.Checkpoints,
		AnchoredThrough: v.AnchoredThrough, PublicKey: v.PublicKey}
	if v.PublicKey != nil {
		view.Key = queue.KeyFingerprint(v.PublicKey)
	}
	var brk *queue.AuditBreak
	if errors.As(err, &brk) {
		view.BrokenAt, view.Checkpoint, view.Reason = brk.Seq, brk.Checkpoint, brk.Reason
		err = nil
	}
	return view, v.KeyFromFile, err
}

func (s storeAudit) entries(_ context.Context, since uint64, limit int) ([]queue.AuditEntry, error) {
	return s.store.AuditEntries(since, limit)
}

func (s storeAudit) checkpoint(context.Context) (queue.AuditCheckpoint, error) {
	return s.store.Checkpoint("requested by the owner", time.Now())
}

func (s storeAudit) deviceID() string {
	id, err := s.store.Identity()
	if err != nil {
		return ""
	}
	return id.DeviceID
}

type apiAudit struct{ c *client }

func (a apiAudit) verify(ctx context.Context) (agent.AuditVerifyView, bool, error) {
	var v agent.AuditVerifyView
	// The agent checks against the key it signs with, from its key file.
	return v, true, a.c.get(ctx, "/v1/audit/verify", &v)
}

func (a apiAudit) entries(ctx context.Context, since uint64, limit int) ([]queue.AuditEntry, error) {
	var out struct{ Entries []queue.AuditEntry }
	err := a.c.get(ctx, fmt.Sprintf("/v1/audit?since=%d&limit=%d", since, limit), &out)
	return out.Entries, err
}

func (a apiAudit) checkpoint(ctx context.Context) (queue.AuditCheckpoint, error) {
	var cp queue.AuditCheckpoint
	return cp, a.c.postJSON(ctx, "/v1/audit/checkpoints", struct{}{}, &cp)
}

// deviceID is not needed through the API: the checkpoint's signature
// covers it, and its key must be the unit's.
func (apiAudit) deviceID() string { return "" }

func verifyAudit(ctx context.Context, io IO, src auditSource, checkpointFile string) error {
	v, keyFromFile, err := src.verify(ctx)
	if err != nil {
		return err
	}
	if !v.OK {
		fmt.Fprintf(io.Stdout, "FAIL audit log: entry %d: %s (%d entries before it verify)\n", v.BrokenAt, v.Reason, v.Entries)
		fmt.Fprintln(io.Stdout, "Keep the unit as it is and tell the manager; the authority may need to be informed.")
		return fmt.Errorf("audit log broken at entry %d", v.BrokenAt)
	}
	switch {
	case v.PublicKey == nil:
		fmt.Fprintf(io.Stdout, "OK audit log: %d entries, chain intact; no audit key yet, so no signed checkpoints (start the agent once to create it)\n", v.Entries)
	default:
		fmt.Fprintf(io.Stdout, "OK audit log: %d entries, chain intact; %d signed checkpoints by audit key %s, the newest covering entry %d\n",
			v.Entries, v.Checkpoints, v.Key, v.AnchoredThrough)
		if !keyFromFile {
			fmt.Fprintln(io.Stdout, "Note: the key file could not be read, so the checkpoints were checked against the key recorded in the data file itself; check an exported checkpoint with --checkpoint to rule out a rewrite of the whole file.")
		}
	}
	if checkpointFile == "" {
		return nil
	}
	return verifyExported(ctx, io, src, v, checkpointFile)
}

// verifyExported checks that the log still holds what an exported
// checkpoint signed: the checkpoint is the unit's (its key) and genuine (its
// signature), and the log's entry at its seq has its hash.
func verifyExported(ctx context.Context, io IO, src auditSource, v agent.AuditVerifyView, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var cp queue.AuditCheckpoint
	if err := json.Unmarshal(data, &cp); err != nil {
		return fmt.Errorf("%s is not an exported checkpoint: %v", path, err)
	}
	fail := func(why string) error {
		fmt.Fprintf(io.Stdout, "FAIL checkpoint %s (entry %d, signed %s): %s\n", path, cp.Seq, cp.Time.Format(time.RFC3339), why)
		return fmt.Errorf("the audit log does not match checkpoint %s", path)
	}
	if v.PublicKey == nil {
		return fail("the unit has no audit key to check it against")
	}
	if err := queue.CheckCheckpoint(cp, v.PublicKey, src.deviceID(), keystore.VerifySHA256); err != nil {
		return fail(err.Error())
	}
	if cp.Seq == 0 {
		return fail("it names no entry")
	}
	es, err := src.entries(ctx, cp.Seq-1, 1)
	if err != nil {
		return err
	}
	switch {
	case len(es) == 0 || es[0].Seq != cp.Seq:
		return fail(fmt.Sprintf("the log has no entry %d any more (entries were removed)", cp.Seq))
	case es[0].Hash != cp.Hash:
		return fail(fmt.Sprintf("the log's entry %d has hash %.12s…, the checkpoint signed %.12s…: the log was rewritten after the checkpoint was exported", cp.Seq, es[0].Hash, cp.Hash))
	}
	fmt.Fprintf(io.Stdout, "OK checkpoint %s: the log still holds entry %d as signed %s\n", path, cp.Seq, cp.Time.Format(time.RFC3339))
	return nil
}

func listAudit(ctx context.Context, io IO, src auditSource, since uint64, limit int) error {
	es, err := src.entries(ctx, since, limit)
	if err != nil {
		return err
	}
	writeAuditEntries(io.Stdout, es)
	if len(es) == limit {
		fmt.Fprintf(io.Stdout, "more: egsd audit list --since %d\n", es[len(es)-1].Seq)
	}
	return nil
}

// writeAuditEntries prints entries as a table. KIND is "-" for entries
// written before kinds were recorded.
func writeAuditEntries(w io.Writer, es []queue.AuditEntry) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tKIND\tACTOR\tACTION\tSUBJECT\tDETAILS")
	for _, e := range es {
		kind := e.ActorKind
		if kind == "" {
			kind = "-"
		}
		var details []string
		for _, k := range slices.Sorted(maps.Keys(e.Details)) {
			details = append(details, k+"="+quoteIfNeeded(e.Details[k]))
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Seq, e.Time.Format(time.RFC3339), kind,
			quoteIfNeeded(e.Actor), e.Action, quoteIfNeeded(e.Subject), strings.Join(details, " "))
	}
	tw.Flush()
}

// quoteIfNeeded quotes a value that has spaces, quotes or characters that
// would not print as themselves.
func quoteIfNeeded(s string) string {
	if q := strconv.Quote(s); q[1:len(q)-1] != s || strings.ContainsAny(s, " \t") {
		return q
	}
	return s
}

func exportCheckpoint(ctx context.Context, io IO, src auditSource, out string) error {
	cp, err := src.checkpoint(ctx)
	if err != nil {
		return err
	}
	data, err := json.MarshalIndent(cp, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	if out == "" {
		_, err = io.Stdout.Write(data)
		return err
	}
	// A checkpoint is public: it holds a hash, a public key and a signature.
	if err := os.WriteFile(out, data, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(io.Stdout, "wrote the checkpoint of entry %d (audit key %s) to %s; keep a copy off the unit, then check it any time with: egsd audit verify --checkpoint %s\n",
		cp.Seq, queue.KeyFingerprint(cp.PublicKey), out, out)
	return nil
}

func rekeyAudit(io IO, cfgFlag, dataFlag string) error {
	cfg, err := localConfig(io, cfgFlag, dataFlag)
	if err != nil {
		return err
	}
	fp, err := agent.RekeyAudit(cfg.DataDir, queue.OwnerActor)
	if errors.Is(err, queue.ErrLocked) {
		return fmt.Errorf("%w; stop it first (egsd service stop)", err)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(io.Stdout, "new audit key %s recorded in the audit log and a checkpoint signed with it; entries before it stay covered by the previous key's checkpoints\n", fp)
	return nil
}
