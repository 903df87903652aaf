package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/egsd/egsd/agent"
	"github.com/egsd/egsd/queue"
)

// userAdmin performs user management either through the running agent
// (with the owner token from the data directory, or a manager's session)
// or, when the agent is not running, on the store directly.
type userAdmin interface {
	add(ctx context.Context, name, role, password string) (agent.UserView, error)
	list(ctx context.Context) ([]agent.UserView, error)
	change(ctx context.Context, name string, ch agent.UserChange) (agent.UserView, error)
	remove(ctx context.Context, name string) error
	close()
}

type apiUserAdmin struct{ c *client }

func (a apiUserAdmin) add(ctx context.Context, name, role, password string) (agent.UserView, error) {
	var u agent.UserView
	err := a.c.postJSON(ctx, "/v1/users", map[string]string{"name": name, "role": role, "password": password}, &u)
	return u, err
}

func (a apiUserAdmin) list(ctx context.Context) ([]agent.UserView, error) {
	var out struct{ Users []agent.UserView }
	err := a.c.get(ctx, "/v1/users", &out)
	return out.Users, err
}

func (a apiUserAdmin) change(ctx context.Context, name string, ch agent.UserChange) (agent.UserView, error) {
	var u agent.UserView
	body, _ := json.Marshal(ch)
	_, err := a.c.do(ctx, "PATCH", "/v1/users/"+url.PathEscape(name), nil, body, &u)
	return u, err
}

func (a apiUserAdmin) remove(ctx context.Context, name string) error {
	_, err := a.c.do(ctx, "DELETE", "/v1/users/"+url.PathEscape(name), nil, nil, nil)
	return err
}

func (apiUserAdmin) close() {}

type storeUserAdmin struct {
	store *queue.Store
	auth  *agent.Auth
	actor queue.Actor
}

func (s storeUserAdmin) add(_ context.Context, name, role, password string) (agent.UserView, error) {
	return s.auth.AddUser(s.actor, name, role, password)
}
func (s storeUserAdmin) list(context.Context) ([]agent.UserView, error) { return s.auth.Users() }
func (s storeUserAdmin) change(_ context.Context, name string, ch agent.UserChange) (agent.UserView, error) {
	return s.auth.ChangeUser(s.actor, name, ch)
}
func (s storeUserAdmin) remove(_ context.Context, name string) error {
	return s.auth.RemoveUser(s.actor, name)
}
func (s storeUserAdmin) close() { s.store.Close() }

// localConfig loads the configuration for commands that work on the data
// directory: --data overrides data_dir; a missing config file is fine
// when --data is given.
func localConfig(io IO, cfgFlag, dataFlag string) (agent.Config, error) {
	path := configPath(io, cfgFlag)
	cfg, err := agent.LoadConfig(path)
	if err != nil {
		if dataFlag == "" || cfgFlag != "" || !errors.Is(err, fs.ErrNotExist) {
			return agent.Config{}, err
		}
		cfg = agent.DefaultConfig()
	}
	if dataFlag != "" {
		cfg.DataDir = dataFlag
	}
	return cfg, nil
}

func openUserAdmin(ctx context.Context, io IO, cfgFlag, dataFlag string, useSession bool, af apiFlags) (userAdmin, error) {
	if useSession {
		c, err := af.client(io, true)
		if err != nil {
			return nil, err
		}
		return apiUserAdmin{c}, nil
	}
	cfg, err := localConfig(io, cfgFlag, dataFlag)
	if err != nil {
		return nil, err
	}
	c, err := ownerClient(ctx, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	if c != nil {
		return apiUserAdmin{c}, nil
	}
	// No agent answers: work on the store, which tells us if one is still
	// running. It is opened with the audit key, like the agent does, so
	// that the entries written here are under checkpoints too.
	store, err := agent.OpenStore(cfg.DataDir, nil)
	if err != nil {
		return nil, err
	}
	return storeUserAdmin{store: store, auth: agent.NewAuth(store, cfg.Auth, nil), actor: queue.OwnerActor}, nil
}

// ownerClient is a client of the running agent authenticated with the
// owner token it keeps in dataDir. It is nil when no agent answers to that
// token: none is running, or the token was left behind by one that was
// killed.
func ownerClient(ctx context.Context, dataDir string) (*client, error) {
	tokenPath := filepath.Join(dataDir, agent.OwnerTokenFile)
	data, err := os.ReadFile(tokenPath)
	switch {
	case errors.Is(err, fs.ErrPermission):
		return nil, fmt.Errorf("cannot read %s: run this as the user that owns %s (for the service: sudo -u egsd egsd ...), or log in as a manager and pass --session", tokenPath, dataDir)
	case err != nil:
		return nil, nil
	}
	var ot agent.OwnerToken
	if json.Unmarshal(data, &ot) != nil {
		return nil, nil
	}
	api := ot.URL
	if api == "" && ot.Socket != "" {
		api = "unix://" + ot.Socket
	}
	c := newClient(api, ot.Token)
	var who agent.SessionView
	if c.get(ctx, "/v1/sessions/current", &who) != nil {
		return nil, nil
	}
	return c, nil
}

func runUsers(ctx context.Context, io IO, args []string) error {
	const usage = "users add|list|passwd|role|remove|unlock|disable|enable [--name NAME] [--role ROLE] [--password PW] [--config FILE | --data DIR] [--session]"
	fset := newFlags(io, "users", usage)
	name := fset.String("name", "", "user name")
	role := fset.String("role", "", "role: cashier, manager or technician (add, and to change a role)")
	password := fset.String("password", "", "password for add and passwd (default: prompt, or one line of standard input)")
	cfgFlag := fset.String("config", "", "configuration file (default $EGSD_CONFIG or "+defaultConfigPath+")")
	dataFlag := fset.String("data", "", "data directory (overrides the configuration's data_dir)")
	useSession := fset.Bool("session", false, "act through the API as the manager logged in with 'egsd login'")
	af := addAPIFlags(fset)
	action, err := parseAction(fset, args, "users needs an action: add, list, passwd, role, remove, unlock, disable or enable")
	if err != nil {
		return err
	}
	if action != "list" && *name == "" {
		return usagef("--name is required for users %s", action)
	}
	admin, err := openUserAdmin(ctx, io, *cfgFlag, *dataFlag, *useSession, af)
	if err != nil {
		return err
	}
	defer admin.close()
	var u agent.UserView
	switch action {
	case "add":
		if *role == "" {
			return usagef("--role is required: cashier, manager or technician")
		}
		pw, err := readPassword(io, *password, "Password for "+*name+": ")
		if err != nil {
			return err
		}
		if u, err = admin.add(ctx, *name, *role, pw); err != nil {
			return err
		}
		fmt.Fprintf(io.Stdout, "added %s (%s)\n", u.Name, u.Role)
	case "list":
		users, err := admin.list(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(io.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tROLE\tSTATE")
		for _, u := range users {
			state := "active"
			if u.Disabled {
				state = "disabled"
			} else if !u.LockedUntil.IsZero() {
				state = "locked until " + u.LockedUntil.Local().Format("15:04:05")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", u.Name, u.Role, state)
		}
		return tw.Flush()
	case "passwd":
		pw, err := readPassword(io, *password, "New password for "+*name+": ")
		if err != nil {
			return err
		}
		if _, err = admin.change(ctx, *name, agent.UserChange{Password: &pw}); err != nil {
			return err
		}
		fmt.Fprintf(io.Stdout, "password of %s changed; its sessions were ended\n", *name)
	case "remove":
		if err := admin.remove(ctx, *name); err != nil {
			return err
		}
		fmt.Fprintf(io.Stdout, "removed %s\n", *name)
	case "role":
		if *role == "" {
			return usagef("--role is required for users role")
		}
		if u, err = admin.change(ctx, *name, agent.UserChange{Role: role}); err != nil {
			return err
		}
		fmt.Fprintf(io.Stdout, "%s is now %s; its sessions were ended\n", u.Name, u.Role)
	case "unlock", "disable", "enable":
		ch := agent.UserChange{Unlock: action == "unlock"}
		if action != "unlock" {
			disabled := action == "disable"
			ch.Disabled = &disabled
		}
		if u, err = admin.change(ctx, *name, ch); err != nil {
			return err
		}
		fmt.Fprintf(io.Stdout, "%s: %s\n", u.Name, map[string]string{"unlock": "unlocked", "disable": "disabled", "enable": "enabled"}[action])
	default:
		return usagef("unknown users action %q", action)
	}
	return nil
}
