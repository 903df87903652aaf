package packaging

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// nfpmVersion is the nfpm the Makefile pins; make nfpm installs it here.
const nfpmVersion = "v2.45.2"

// TestPackage builds the .deb and .rpm with `make package`, unpacks the
// .deb into a scratch root the way dpkg installs it, and checks what a
// till relies on: the files and their modes, the configuration kept as a
// conffile, the unit's contract (and systemd-analyze verify where systemd
// is present), and the maintainer scripts run against the scratch root
// with stubs for the commands that need root: the user and its 0700 data
// directory are created, removal keeps the data, purge deletes it.
func TestPackage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and both packages")
	}
	for _, tool := range []string{"make", "dpkg", "dpkg-deb"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found: the package checks need it (Debian: apt-get install dpkg make)", tool)
		}
	}
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	nfpm := filepath.Join(repo, "bin", "tools", "nfpm-"+nfpmVersion)
	if _, err := os.Stat(nfpm); err != nil {
		if nfpm, err = exec.LookPath("nfpm"); err != nil {
			t.Skipf("nfpm %s not found: install it with `make nfpm` (go install github.com/goreleaser/nfpm/v2/cmd/nfpm@%s)", nfpmVersion, nfpmVersion)
		}
	}
	scratch := t.TempDir()
	pkgDir := filepath.Join(scratch, "pkg")
	run(t, repo, "make", "package", "PKGDIR="+pkgDir, "NFPM="+nfpm)

	deb := onePackage(t, pkgDir, "*.deb")
	root := filepath.Join(scratch, "root")
	control := filepath.Join(scratch, "control")
	run(t, scratch, "dpkg", "-x", deb, root)
	run(t, scratch, "dpkg-deb", "-e", deb, control)

	for path, mode := range map[string]os.FileMode{
		"usr/bin/egsd":                        0o755,
		"usr/lib/systemd/system/egsd.service": 0o644,
		"etc/egsd/config.toml":                0o640,
		"usr/share/doc/egsd/README.md":        0o644,
	} {
		fi, err := os.Stat(filepath.Join(root, path))
		if err != nil {
			t.Errorf("package lacks /%s: %v", path, err)
			continue
		}
		if !fi.Mode().IsRegular() || fi.Mode().Perm() != mode {
			t.Errorf("/%s: mode %v, want regular file %v", path, fi.Mode(), mode)
		}
	}
	example, err := os.ReadFile(filepath.Join(repo, "config.example.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(root, "etc/egsd/config.toml")); !bytes.Equal(got, example) {
		t.Errorf("/etc/egsd/config.toml is not config.example.toml")
	}
	conffiles, err := os.ReadFile(filepath.Join(control, "conffiles"))
	if err != nil {
		t.Fatalf("no conffiles: an upgrade would overwrite the administrator's configuration: %v", err)
	}
	if !hasLine(string(conffiles), "/etc/egsd/config.toml") {
		t.Errorf("conffiles does not list /etc/egsd/config.toml:\n%s", conffiles)
	}

	unitPath := filepath.Join(root, "usr/lib/systemd/system/egsd.service")
	unit, err := os.ReadFile(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	checkUnitSections(t, string(unit), map[string][]string{
		"Unit": {"StartLimitIntervalSec=60", "StartLimitBurst=20"},
		"Service": {
			`ExecStart=/usr/bin/egsd "run" "--config" "/etc/egsd/config.toml"`,
			"User=egsd", "Group=egsd", "Restart=on-failure", "RestartSec=2",
			"Type=notify", "NotifyAccess=main", "WatchdogSec=30",
			"StateDirectory=egsd", "StateDirectoryMode=0700", "UMask=0077",
			"NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes",
			"PrivateTmp=yes", "ReadWritePaths=/var/lib/egsd",
		},
		"Install": {"WantedBy=multi-user.target"},
	})
	verifyUnit(t, root, unitPath)

	checkMaintainerScripts(t, scratch, root, control)

	rpm := onePackage(t, pkgDir, "*.rpm")
	if _, err := exec.LookPath("rpm"); err == nil {
		files := run(t, scratch, "rpm", "-qlp", rpm)
		for _, want := range []string{"/usr/bin/egsd", "/usr/lib/systemd/system/egsd.service", "/etc/egsd/config.toml"} {
			if !hasLine(files, want) {
				t.Errorf("rpm lacks %s:\n%s", want, files)
			}
		}
		if configs := run(t, scratch, "rpm", "-qcp", rpm); !hasLine(configs, "/etc/egsd/config.toml") {
			t.Errorf("rpm does not mark /etc/egsd/config.toml as configuration:\n%s", configs)
		}
	} else {
		fi, err := os.Stat(rpm)
		if err != nil {
			t.Fatal(err)
		}
		// The compressed binary alone is several megabytes.
		if fi.Size() < 1<<20 {
			t.Errorf("%s is %d bytes: too small to hold the binary", rpm, fi.Size())
		}
		t.Logf("rpm not found: checked only that %s exists (%d bytes)", filepath.Base(rpm), fi.Size())
	}
}

// checkMaintainerScripts runs postinst, prerm and postrm against root with
// DPKG_ROOT set (as dpkg --root does) and with getent, useradd, chown,
// chgrp and systemctl replaced by stubs that record their arguments.
func checkMaintainerScripts(t *testing.T, scratch, root, control string) {
	stubs := filepath.Join(scratch, "stubs")
	if err := os.Mkdir(stubs, 0o755); err != nil {
		t.Fatal(err)
	}
	calls := filepath.Join(scratch, "calls")
	for _, name := range []string{"getent", "useradd", "chown", "chgrp", "systemctl"} {
		body := "#!/bin/sh\necho \"$(basename \"$0\") $*\" >> \"$STUB_CALLS\"\n"
		if name == "getent" {
			body += "[ -n \"$USER_EXISTS\" ] || exit 2\n" // getent's "not found"
		}
		if err := os.WriteFile(filepath.Join(stubs, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	script := func(name string, userExists bool, args ...string) string {
		t.Helper()
		if err := os.WriteFile(calls, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("sh", append([]string{filepath.Join(control, name)}, args...)...)
		cmd.Env = []string{"PATH=" + stubs + ":/usr/sbin:/usr/bin:/sbin:/bin", "DPKG_ROOT=" + root, "STUB_CALLS=" + calls}
		if userExists {
			cmd.Env = append(cmd.Env, "USER_EXISTS=1")
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		got, err := os.ReadFile(calls)
		if err != nil {
			t.Fatal(err)
		}
		return string(got)
	}
	data := filepath.Join(root, "var/lib/egsd")
	config := filepath.Join(root, "etc/egsd/config.toml")

	got := script("postinst", false, "configure", "")
	for _, want := range []string{
		"useradd --system --user-group --home-dir /var/lib/egsd --no-create-home --shell /usr/sbin/nologin --comment egsd fiscal device agent egsd",
		"chown egsd:egsd " + data,
		"chgrp egsd " + config,
	} {
		if !hasLine(got, want) {
			t.Errorf("postinst on first install did not run %q; it ran:\n%s", want, got)
		}
	}
	if strings.Contains(got, "systemctl") {
		t.Errorf("postinst managed services while installing into another root:\n%s", got)
	}
	fi, err := os.Stat(data)
	if err != nil {
		t.Fatalf("postinst did not create the data directory: %v", err)
	}
	if !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Errorf("data directory: mode %v, want a 0700 directory", fi.Mode())
	}

	// An upgrade finds the user and creates no second one.
	if got := script("postinst", true, "configure", "0.9"); strings.Contains(got, "useradd") {
		t.Errorf("postinst on upgrade created the user again:\n%s", got)
	}

	journal := filepath.Join(data, "egsd.db")
	if err := os.WriteFile(journal, []byte("journal"), 0o600); err != nil {
		t.Fatal(err)
	}
	script("prerm", true, "remove")
	script("postrm", true, "remove")
	if _, err := os.Stat(journal); err != nil {
		t.Fatalf("removal (not purge) deleted the data: %v", err)
	}
	script("postrm", true, "0") // rpm's erase has no purge
	if _, err := os.Stat(journal); err != nil {
		t.Fatalf("rpm erase deleted the data: %v", err)
	}
	script("postrm", true, "purge")
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Errorf("purge left the data directory: %v", err)
	}
}

// verifyUnit runs systemd-analyze verify on the unit inside root, with the
// host's targets copied in so the unit's dependencies resolve. Any message
// fails: systemd reports unknown keys as warnings with exit status 0.
func verifyUnit(t *testing.T, root, unitPath string) {
	t.Helper()
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Log("systemd-analyze not found: the unit was not verified by systemd (Debian: apt-get install systemd)")
		return
	}
	targets, _ := filepath.Glob("/usr/lib/systemd/system/*.target")
	if len(targets) == 0 {
		t.Log("no systemd targets in /usr/lib/systemd/system: the unit was not verified by systemd")
		return
	}
	unitDir := filepath.Dir(unitPath)
	for _, target := range targets {
		b, err := os.ReadFile(target)
		if err != nil {
			continue // a dangling alias
		}
		if err := os.WriteFile(filepath.Join(unitDir, filepath.Base(target)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command("systemd-analyze", "verify", "--man=no", "--root="+root, unitPath).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// checkUnitSections checks that each section of unit holds each line.
func checkUnitSections(t *testing.T, unit string, want map[string][]string) {
	t.Helper()
	sections := map[string][]string{}
	section := ""
	for _, line := range strings.Split(unit, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			section = strings.Trim(line, "[]")
			continue
		}
		if line != "" && !strings.HasPrefix(line, "#") {
			sections[section] = append(sections[section], line)
		}
	}
	for name, lines := range want {
		for _, line := range lines {
			if !hasLine(strings.Join(sections[name], "\n"), line) {
				t.Errorf("unit section [%s] lacks %q:\n%s", name, line, unit)
			}
		}
	}
}

func onePackage(t *testing.T, dir, pattern string) string {
	t.Helper()
	found, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil || len(found) != 1 {
		t.Fatalf("want one %s in %s, found %v (%v)", pattern, dir, found, err)
	}
	return found[0]
}

func hasLine(text, line string) bool {
	for _, l := range strings.Split(text, "\n") {
		if strings.TrimSpace(l) == line {
			return true
		}
	}
	return false
}

func run(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}
