package money_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const (
	modulePath = "github.com/egsd/egsd"
	moneyPath  = modulePath + "/stamping/money"
)

// listedPackage is what `go list -export` says about one package.
type listedPackage struct {
	ImportPath     string
	Dir            string
	Export         string
	GoFiles        []string
	CgoFiles       []string
	IgnoredGoFiles []string
	Module         *struct{ Path string }
}

// listModule lists every package of the module and its dependencies, with
// the compiler's export data of each, which the type checker imports.
func listModule(t *testing.T) []listedPackage {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-export",
		"-json=ImportPath,Dir,Export,GoFiles,CgoFiles,IgnoredGoFiles,Module", modulePath+"/...")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// exportImporter imports packages from the export data go list built.
func exportImporter(fset *token.FileSet, pkgs []listedPackage) types.Importer {
	exports := map[string]string{}
	for _, p := range pkgs {
		exports[p.ImportPath] = p.Export
	}
	return importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		file, ok := exports[path]
		if !ok || file == "" {
			return nil, errors.New("no export data for " + path)
		}
		return os.Open(file)
	})
}

// typeCheck parses and type-checks the files of one package.
func typeCheck(t *testing.T, fset *token.FileSet, imp types.Importer, path string, filenames []string) ([]*ast.File, *types.Info) {
	t.Helper()
	var files []*ast.File
	for _, name := range filenames {
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	info := &types.Info{Uses: map[*ast.Ident]types.Object{}, Selections: map[*ast.SelectorExpr]*types.Selection{}}
	conf := types.Config{Importer: imp}
	if _, err := conf.Check(path, fset, files, info); err != nil {
		t.Fatalf("type-check %s: %v", path, err)
	}
	return files, info
}

// TestNoDiscardedErrors type-checks every non-test Go file of the module
// and fails on each call into package money — a function, or a method of
// Decimal — whose error result is assigned to _ or dropped with the whole
// result: such a call computes an amount that may be wrong (a discarded
// overflow once printed every total of a signed invoice as 0.00).
func TestNoDiscardedErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the module's export data; skipped with -short")
	}
	pkgs := listModule(t)
	fset := token.NewFileSet()
	imp := exportImporter(fset, pkgs)
	root := ""
	checked := 0
	var problems []string
	for _, p := range pkgs {
		if p.Module == nil || p.Module.Path != modulePath {
			continue
		}
		if p.ImportPath == modulePath+"/stamping/money" {
			root = filepath.Dir(filepath.Dir(p.Dir))
		}
		if len(p.CgoFiles) > 0 {
			t.Fatalf("%s has cgo files, which this check does not type-check", p.ImportPath)
		}
		var names []string
		for _, f := range p.GoFiles {
			names = append(names, filepath.Join(p.Dir, f))
		}
		files, info := typeCheck(t, fset, imp, p.ImportPath, names)
		problems = append(problems, discardedMoneyErrors(fset, files, info)...)
		checked += len(files)
		// Files built only for other platforms cannot be type-checked
		// here: they must not use package money.
		for _, f := range p.IgnoredGoFiles {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			if importsMoney(t, filepath.Join(p.Dir, f)) {
				problems = append(problems, filepath.Join(p.Dir, f)+": uses package money but is not built on this platform, so its errors cannot be checked")
			}
		}
	}
	if checked < 100 {
		t.Fatalf("checked only %d files; go list did not list the module", checked)
	}
	for _, p := range problems {
		if rel, err := filepath.Rel(root, p); err == nil && root != "" {
			p = rel
		}
		t.Error(p)
	}
}

func importsMoney(t *testing.T, name string) bool {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
	if err != nil {
		t.Fatal(err)
	}
	return slices.ContainsFunc(f.Imports, func(s *ast.ImportSpec) bool { return s.Path.Value == strconv.Quote(moneyPath) })
}

// TestDiscardCheckFindsEachForm runs the check over testdata/discard,
// whose every line that discards an error ends in "// want", so that the
// check is known to see each form (blank assignment, var declaration,
// expression statement, defer, go, method and function) and to pass the
// forms that handle or pass the error on.
func TestDiscardCheckFindsEachForm(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the module's export data; skipped with -short")
	}
	pkgs := listModule(t)
	fset := token.NewFileSet()
	name, err := filepath.Abs(filepath.Join("testdata", "discard", "fixture.go"))
	if err != nil {
		t.Fatal(err)
	}
	files, info := typeCheck(t, fset, exportImporter(fset, pkgs), "fixture", []string{name})
	var got []int
	for _, p := range discardedMoneyErrors(fset, files, info) {
		_, rest, _ := strings.Cut(p, name+":")
		n, err := strconv.Atoi(strings.SplitN(rest, ":", 2)[0])
		if err != nil {
			t.Fatalf("report %q does not start with %s:LINE", p, name)
		}
		got = append(got, n)
	}
	want := wantLines(t, name)
	if len(want) < 8 {
		t.Fatalf("the fixture marks only %d lines", len(want))
	}
	if !slices.Equal(got, want) {
		t.Errorf("reported lines %v, want %v", got, want)
	}
}

func wantLines(t *testing.T, name string) []int {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []int
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		if strings.HasSuffix(sc.Text(), "// want") {
			lines = append(lines, n)
		}
	}
	return lines
}

// discardedMoneyErrors returns "file:line: …" for every call into package
// money whose error result is not kept.
func discardedMoneyErrors(fset *token.FileSet, files []*ast.File, info *types.Info) []string {
	var out []string
	report := func(at ast.Node, fn *types.Func, how string) {
		pos := fset.Position(at.Pos())
		out = append(out, pos.Filename+":"+strconv.Itoa(pos.Line)+": the error of "+describe(fn)+" is "+how+"; handle it (a discarded money error is a wrong amount)")
	}
	// blanks reports the calls whose error results land on a blank name.
	blanks := func(lhs []ast.Expr, rhs []ast.Expr) {
		if len(rhs) == 1 && len(lhs) > 1 {
			fn, sig := moneyCall(info, rhs[0])
			if fn == nil {
				return
			}
			for i := 0; i < sig.Results().Len() && i < len(lhs); i++ {
				if isError(sig.Results().At(i).Type()) && isBlank(lhs[i]) {
					report(rhs[0], fn, "assigned to _")
				}
			}
			return
		}
		for i := range min(len(lhs), len(rhs)) {
			if fn, sig := moneyCall(info, rhs[i]); fn != nil && sig.Results().Len() == 1 && isError(sig.Results().At(0).Type()) && isBlank(lhs[i]) {
				report(rhs[i], fn, "assigned to _")
			}
		}
	}
	dropped := func(call ast.Expr, how string) {
		if fn, sig := moneyCall(info, call); fn != nil && returnsError(sig) {
			report(call, fn, how)
		}
	}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.AssignStmt:
				blanks(n.Lhs, n.Rhs)
			case *ast.ValueSpec:
				lhs := make([]ast.Expr, len(n.Names))
				for i, name := range n.Names {
					lhs[i] = name
				}
				blanks(lhs, n.Values)
			case *ast.ExprStmt:
				dropped(n.X, "dropped with the result")
			case *ast.DeferStmt:
				dropped(n.Call, "dropped by defer")
			case *ast.GoStmt:
				dropped(n.Call, "dropped by go")
			}
			return true
		})
	}
	return out
}

// moneyCall returns the function or method of package money that e calls,
// and its signature; nil when e is not such a call.
func moneyCall(info *types.Info, e ast.Expr) (*types.Func, *types.Signature) {
	call, ok := ast.Unparen(e).(*ast.CallExpr)
	if !ok {
		return nil, nil
	}
	var obj types.Object
	switch fun := ast.Unparen(call.Fun).(type) {
	case *ast.Ident:
		obj = info.Uses[fun]
	case *ast.SelectorExpr:
		if sel, ok := info.Selections[fun]; ok {
			obj = sel.Obj()
		} else {
			obj = info.Uses[fun.Sel]
		}
	}
	fn, ok := obj.(*types.Func)
	if !ok || fn.Pkg() == nil || fn.Pkg().Path() != moneyPath {
		return nil, nil
	}
	return fn, fn.Type().(*types.Signature)
}

func returnsError(sig *types.Signature) bool {
	for i := range sig.Results().Len() {
		if isError(sig.Results().At(i).Type()) {
			return true
		}
	}
	return false
}

func isError(t types.Type) bool { return types.Identical(t, types.Universe.Lookup("error").Type()) }

func isBlank(e ast.Expr) bool {
	id, ok := ast.Unparen(e).(*ast.Ident)
	return ok && id.Name == "_"
}

func describe(fn *types.Func) string {
	if recv := fn.Type().(*types.Signature).Recv(); recv != nil {
		return "money." + types.TypeString(recv.Type(), func(*types.Package) string { return "" }) + "." + fn.Name()
	}
	return "money." + fn.Name()
}
