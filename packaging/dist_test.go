package packaging

import (
	"bufio"
	"crypto/sha256"
	"debug/buildinfo"
	"debug/elf"
	"debug/pe"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"testing"
)

// maxDistBinary is the size a till's binary must stay under: the smallest
// boards ship with little flash and updates travel over shop uplinks. It
// was 20 MiB until the Prometheus client (GET /metrics) came in: it links
// the protobuf runtime, about 2.5 MiB on Linux and 4 MiB on Windows; zstd
// (the journal's compression), the S3 signer and the Kazakh regime add
// about 1.5 MiB more.
const maxDistBinary = 24 << 20

// distTarget is what one platform's binary must be.
type distTarget struct {
	check func(t *testing.T, path string)
	// build holds settings the Go toolchain records in the binary.
	build map[string]string
}

var distTargets = map[string]distTarget{
	"linux-amd64":       {check: elfCheck(elf.EM_X86_64, elf.ELFCLASS64), build: map[string]string{"GOOS": "linux", "GOARCH": "amd64"}},
	"linux-arm64":       {check: elfCheck(elf.EM_AARCH64, elf.ELFCLASS64), build: map[string]string{"GOOS": "linux", "GOARCH": "arm64"}},
	"linux-arm":         {check: elfCheck(elf.EM_ARM, elf.ELFCLASS32), build: map[string]string{"GOOS": "linux", "GOARCH": "arm", "GOARM": "7"}},
	"windows-amd64.exe": {check: peCheck(pe.IMAGE_FILE_MACHINE_AMD64), build: map[string]string{"GOOS": "windows", "GOARCH": "amd64"}},
}

var distName = regexp.MustCompile(`^egsd-(.+)-(linux-amd64|linux-arm64|linux-arm|windows-amd64\.exe)$`)

// TestDist runs `make dist` into a scratch directory and checks what a
// fleet's deployment relies on: one binary per platform, each listed in
// SHA256SUMS with its digest, built for the right machine, static,
// stripped, no larger than maxDistBinary, and (for the platform the test
// runs on) reporting the version in its name.
func TestDist(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-builds four binaries")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make not installed")
	}
	dir := t.TempDir()
	cmd := exec.Command("make", "-s", "dist", "DIST="+dir)
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make dist: %v\n%s", err, out)
	}

	sums := readSHA256SUMS(t, filepath.Join(dir, "SHA256SUMS"))
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, e := range entries {
		if e.Name() != "SHA256SUMS" {
			files = append(files, e.Name())
		}
	}
	var listed []string
	for name := range sums {
		listed = append(listed, name)
	}
	sort.Strings(listed)
	if strings.Join(files, " ") != strings.Join(listed, " ") {
		t.Fatalf("dist holds %v but SHA256SUMS lists %v", files, listed)
	}

	seen := map[string]bool{}
	version := ""
	for _, name := range files {
		m := distName.FindStringSubmatch(name)
		if m == nil {
			t.Errorf("%s: not named egsd-VERSION-OS-ARCH", name)
			continue
		}
		if version == "" {
			version = m[1]
		} else if m[1] != version {
			t.Errorf("%s: version %q, others have %q", name, m[1], version)
		}
		seen[m[2]] = true
		path := filepath.Join(dir, name)
		if got := fileSHA256(t, path); got != sums[name] {
			t.Errorf("%s: SHA256SUMS says %s, the file's digest is %s", name, sums[name], got)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d bytes (%.1f MB)", name, fi.Size(), float64(fi.Size())/(1<<20))
		if fi.Size() > maxDistBinary {
			t.Errorf("%s: %d bytes, above the %d-byte limit", name, fi.Size(), maxDistBinary)
		}
		distTargets[m[2]].check(t, path)
		checkBuildSettings(t, path, distTargets[m[2]].build)
		if m[2] == runtime.GOOS+"-"+runtime.GOARCH {
			out, err := exec.Command(path, "version").Output()
			if err != nil {
				t.Errorf("%s version: %v", name, err)
			} else if got, want := strings.TrimSpace(string(out)), "egsd "+version; got != want {
				t.Errorf("%s version prints %q, want %q", name, got, want)
			}
		}
	}
	for platform := range distTargets {
		if !seen[platform] {
			t.Errorf("no binary for %s", platform)
		}
	}
}

// elfCheck checks the machine and word size of a Linux binary, that it has
// no interpreter (static: CGO_ENABLED=0) and no symbol table (stripped).
func elfCheck(machine elf.Machine, class elf.Class) func(*testing.T, string) {
	return func(t *testing.T, path string) {
		f, err := elf.Open(path)
		if err != nil {
			t.Errorf("%s: not an ELF file: %v", path, err)
			return
		}
		defer f.Close()
		if f.Machine != machine || f.Class != class {
			t.Errorf("%s: ELF %v %v, want %v %v", filepath.Base(path), f.Machine, f.Class, machine, class)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Errorf("%s: dynamically linked (has an interpreter); built with cgo?", filepath.Base(path))
			}
		}
		if f.Section(".symtab") != nil {
			t.Errorf("%s: has a symbol table; not stripped", filepath.Base(path))
		}
	}
}

// peCheck checks the machine of a Windows binary and that it carries no
// COFF symbol table (stripped).
func peCheck(machine uint16) func(*testing.T, string) {
	return func(t *testing.T, path string) {
		f, err := pe.Open(path)
		if err != nil {
			t.Errorf("%s: not a PE file: %v", path, err)
			return
		}
		defer f.Close()
		if f.Machine != machine {
			t.Errorf("%s: PE machine %#x, want %#x", filepath.Base(path), f.Machine, machine)
		}
		if f.NumberOfSymbols != 0 {
			t.Errorf("%s: %d COFF symbols; not stripped", filepath.Base(path), f.NumberOfSymbols)
		}
	}
}

// checkBuildSettings checks the settings recorded in the binary's build
// information: the target's own, plus no cgo and no local paths.
func checkBuildSettings(t *testing.T, path string, want map[string]string) {
	t.Helper()
	info, err := buildinfo.ReadFile(path)
	if err != nil {
		t.Errorf("%s: no Go build information: %v", filepath.Base(path), err)
		return
	}
	got := map[string]string{}
	for _, s := range info.Settings {
		got[s.Key] = s.Value
	}
	all := map[string]string{"CGO_ENABLED": "0", "-trimpath": "true"}
	for k, v := range want {
		all[k] = v
	}
	for k, v := range all {
		if got[k] != v {
			t.Errorf("%s: built with %s=%q, want %q", filepath.Base(path), k, got[k], v)
		}
	}
}

// readSHA256SUMS parses sha256sum's output: "<64 hex>  <name>" per line.
func readSHA256SUMS(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	line := regexp.MustCompile(`^([0-9a-f]{64})  (\S+)$`)
	sums := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			t.Fatalf("SHA256SUMS: line %q is not in sha256sum format", sc.Text())
		}
		sums[m[2]] = m[1]
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return sums
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}
