package cli

import (
	"context"
	"net/http"
)

func runConfig(ctx context.Context, io IO, args []string) error {
	fs := newFlags(io, "config", "config")
	af := addAPIFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("config takes no arguments")
	}
	c, err := af.client(io, true)
	if err != nil {
		return err
	}
	_, data, err := c.doRaw(ctx, http.MethodGet, "/v1/config", nil, nil)
	if err != nil {
		return err
	}
	_, err = io.Stdout.Write(data)
	return err
}
