package main

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/egsd/egsd"

type goPackage struct {
	ImportPath string
	Doc        string
	Imports    []string
	Name       string
}

func listPackages(t *testing.T) []goPackage {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", module+"/...")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pkgs []goPackage
	dec := json.NewDecoder(out)
	for {
		var p goPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	return pkgs
}

// TestImportDirection enforces design.md §2: cmd → {agent, sim},
// agent → {device, queue, stamping}, sim → stamping; queue stores bytes
// and knows no document format; stamping touches neither storage nor the
// printer; nothing imports agent but cmd, and agent never imports sim.
func TestImportDirection(t *testing.T) {
	rules := []struct {
		from      string // package path prefix inside the module
		forbidden []string
	}{
		{"queue", []string{"agent", "device", "stamping", "sim", "cmd"}},
		{"stamping", []string{"agent", "device", "queue", "sim", "cmd"}},
		{"device", []string{"agent", "queue", "stamping", "sim", "cmd"}},
		{"sim", []string{"agent", "device", "queue", "cmd"}},
		{"agent", []string{"sim", "cmd"}},
		{"packaging", []string{"agent", "device", "queue", "stamping", "sim", "cmd"}},
	}
	pkgs := listPackages(t)
	if len(pkgs) < 5 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	for _, p := range pkgs {
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		for _, r := range rules {
			if rel != r.from && !strings.HasPrefix(rel, r.from+"/") {
				continue
			}
			for _, imp := range p.Imports {
				irel, ok := strings.CutPrefix(imp, module+"/")
				if !ok {
					continue
				}
				for _, f := range r.forbidden {
					if irel == f || strings.HasPrefix(irel, f+"/") {
						t.Errorf("%s imports %s: %s must not depend on %s (design.md §2)", rel, irel, r.from, f)
					}
				}
			}
		}
	}
}

// TestPackageDocs requires a package comment on every package, so that
// each one says what it is for.
func TestPackageDocs(t *testing.T) {
	for _, p := range listPackages(t) {
		if p.Doc == "" {
			t.Errorf("package %s has no package comment", p.ImportPath)
		}
	}
}
