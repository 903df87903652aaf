package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/term"

	"github.com/egsd/egsd/agent"
)

// readPassword takes the password from the flag, else prompts on a
// terminal without echo, else reads one line of standard input.
func readPassword(io IO, flagValue, prompt string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	if f, ok := io.Stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(io.Stderr, prompt)
		pw, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(io.Stderr)
		return string(pw), err
	}
	line, err := bufio.NewReader(io.Stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", errors.New("no password given: pass --password or type it on standard input")
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func runLogin(ctx context.Context, io IO, args []string) error {
	fs := newFlags(io, "login", "login --user NAME [--password PW] [--api URL] | login --owner --user NAME [--config FILE | --data DIR]")
	user := fs.String("user", "", "user name")
	password := fs.String("password", "", "password (default: prompt, or one line of standard input)")
	owner := fs.Bool("owner", false, "open the session through the owner token in the data directory, without the password and whatever the account's lockout: for a manager kept locked out (run as the directory's owner: sudo -u egsd egsd login --owner --user NAME)")
	cfgFlag := fs.String("config", "", "with --owner: configuration file (default $EGSD_CONFIG or "+defaultConfigPath+")")
	dataFlag := fs.String("data", "", "with --owner: data directory (overrides the configuration's data_dir)")
	af := addAPIAddressFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *user == "" {
		return usagef("--user is required")
	}
	var c *client
	var sess agent.SessionView
	if *owner {
		cfg, err := localConfig(io, *cfgFlag, *dataFlag)
		if err != nil {
			return err
		}
		if c, err = ownerClient(ctx, cfg.DataDir); err != nil {
			return err
		}
		if c == nil {
			return fmt.Errorf("no running agent answers to the owner token in %s: start it (egsd service start), then try again", cfg.DataDir)
		}
		if err := c.postJSON(ctx, "/v1/users/"+url.PathEscape(*user)+"/sessions", struct{}{}, &sess); err != nil {
			return err
		}
	} else {
		pw, err := readPassword(io, *password, "Password for "+*user+": ")
		if err != nil {
			return err
		}
		if c, err = af.client(io, false); err != nil {
			return err
		}
		if err := c.postJSON(ctx, "/v1/sessions", map[string]string{"user": *user, "password": pw}, &sess); err != nil {
			return err
		}
	}
	path, err := sessionPath(io)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	data, _ := json.Marshal(savedSession{API: c.api, User: sess.User, Token: sess.Token, Expires: sess.Expires})
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return err
	}
	fmt.Fprintf(io.Stdout, "logged in as %s (%s) until %s\n", sess.User, sess.Role, sess.Expires.Local().Format("2006-01-02 15:04"))
	return nil
}

func runLogout(ctx context.Context, io IO, args []string) error {
	fs := newFlags(io, "logout", "logout")
	af := addAPIFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	c, err := af.client(io, true)
	if err != nil {
		return err
	}
	_, err = c.do(ctx, "DELETE", "/v1/sessions", nil, nil, nil)
	if path, perr := sessionPath(io); perr == nil {
		os.Remove(path)
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(io.Stdout, "logged out")
	return nil
}
