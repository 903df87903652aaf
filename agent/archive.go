package agent

import (
	"fmt"
	"net"
	"os"
	"regexp"
	"runtime"
	"strings"
	"time"

	"github.com/egsd/egsd/offsite"
	"github.com/egsd/egsd/queue"
)

// ArchiveConfig is the off-site archive: a copy of the journal on an
// S3-compatible object store. The keys are read from files, never from the
// configuration itself.
type ArchiveConfig struct {
	Enabled bool `toml:"enabled"`
	// Endpoint is the store's host:port, without a scheme.
	Endpoint string `toml:"endpoint"`
	Bucket   string `toml:"bucket"`
	Region   string `toml:"region"`
	// Prefix is the folder in the bucket the sellers' folders go in.
	Prefix string `toml:"prefix"`
	// AccessKeyFile and SecretKeyFile hold the credentials, one line each.
	AccessKeyFile string `toml:"access_key_file"`
	SecretKeyFile string `toml:"secret_key_file"`
	TLS           bool   `toml:"tls"`
	// Interval is how often new documents are sent; MaxBackoff caps the
	// wait between attempts while the store is unreachable.
	Interval   Duration `toml:"interval"`
	MaxBackoff Duration `toml:"max_backoff"`
	// ManifestInterval is how often, while documents keep coming, the
	// day's manifest (sent whole each time) and the cursor are stored.
	ManifestInterval Duration `toml:"manifest_interval"`
}

func defaultArchiveConfig() ArchiveConfig {
	return ArchiveConfig{TLS: true, Interval: Duration{time.Minute}, MaxBackoff: Duration{15 * time.Minute},
		ManifestInterval: Duration{15 * time.Minute}}
}

// bucketName is an S3 bucket name: 3 to 63 lower-case letters, digits,
// dots and hyphens, starting and ending with a letter or digit.
var bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// validate checks the archive's keys, and the seller and device that name
// its folders, when it is enabled.
func (c *ArchiveConfig) validate(cfg *Config, bad func(string, ...any)) {
	if !c.Enabled {
		return
	}
	if _, _, err := net.SplitHostPort(c.Endpoint); err != nil || strings.Contains(c.Endpoint, "/") {
		bad("archive.endpoint %q must be host:port without a scheme (archive.tls says whether to use TLS)", c.Endpoint)
	}
	if !bucketName.MatchString(c.Bucket) {
		bad("archive.bucket %q must be an S3 bucket name: 3 to 63 lower-case letters, digits, '.' or '-'", c.Bucket)
	}
	if err := offsite.CheckPrefix(c.Prefix); err != nil {
		bad("%v", err)
	}
	if c.AccessKeyFile == "" || c.SecretKeyFile == "" {
		bad("archive.access_key_file and archive.secret_key_file are required: the files that hold the store's credentials")
	}
	if c.Interval.Duration < time.Second {
		bad("archive.interval must be at least 1s")
	}
	if c.MaxBackoff.Duration < c.Interval.Duration {
		bad("archive.max_backoff must be at least archive.interval")
	}
	if c.ManifestInterval.Duration < c.Interval.Duration {
		bad("archive.manifest_interval must be at least archive.interval")
	}
	if err := offsite.CheckSegment("seller.vat_number", cfg.Seller.VATNumber); err != nil {
		bad("%v (it names the unit's folder in the archive)", err)
	}
	if err := offsite.CheckSegment("device.serial", cfg.Device.Serial); err != nil {
		bad("%v (it names the unit's folder in the archive)", err)
	}
}

// target names the destination in the stored cursor.
func (c *ArchiveConfig) target() string {
	scheme := "http"
	if c.TLS {
		scheme = "https"
	}
	return fmt.Sprintf("%s://%s/%s/%s", scheme, c.Endpoint, c.Bucket, c.Prefix)
}

// readKeyFile reads one credential from its file, which only its owner
// may read: another local user with the keys could rewrite the archive.
func readKeyFile(key, path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", key, err)
	}
	if perm := st.Mode().Perm(); runtime.GOOS != "windows" && perm&0o077 != 0 {
		return "", fmt.Errorf("%s: %s can be read by other users (mode %04o): make it readable by egsd only (chmod 600, owner egsd)", key, path, perm)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", key, err)
	}
	v := strings.TrimSpace(string(data))
	if v == "" || strings.ContainsAny(v, "\r\n") {
		return "", fmt.Errorf("%s: %s must hold the credential on one line", key, path)
	}
	return v, nil
}

// newArchive builds the uploader of the unit's journal, or nil when the
// archive is off.
func (a *Agent) newArchive() (*offsite.Uploader, error) {
	c := a.cfg.Archive
	if !c.Enabled {
		return nil, nil
	}
	access, err := readKeyFile("archive.access_key_file", c.AccessKeyFile)
	if err != nil {
		return nil, err
	}
	secret, err := readKeyFile("archive.secret_key_file", c.SecretKeyFile)
	if err != nil {
		return nil, err
	}
	objects, err := offsite.NewS3(offsite.S3Config{Endpoint: c.Endpoint, Bucket: c.Bucket, Region: c.Region,
		AccessKey: access, SecretKey: secret, TLS: c.TLS})
	if err != nil {
		return nil, err
	}
	return offsite.New(a.store, objects, offsite.Config{Prefix: c.Prefix, Seller: a.cfg.Seller.VATNumber, Device: a.cfg.Device.Serial,
		Target: c.target(), Interval: c.Interval.Duration, MaxBackoff: c.MaxBackoff.Duration, ManifestEvery: c.ManifestInterval.Duration, Log: a.log})
}

// Archive returns the uploader to the off-site archive; nil when the
// archive is off.
func (a *Agent) Archive() *offsite.Uploader { return a.archive }

// ArchiveState is where the copy to the off-site archive stands, in
// GET /v1/status.
type ArchiveState struct {
	// Documents, Answers and Checkpoints are the marks: every document
	// (answer) up to that counter, every checkpoint up to that audit
	// sequence number, is archived.
	Documents   uint64 `json:"documents"`
	Answers     uint64 `json:"answers"`
	Checkpoints uint64 `json:"checkpoints"`
	// Pending counts the documents issued but not archived yet.
	Pending uint64 `json:"pending"`
	// LastPass is when the last pass completed; LastError and
	// FailingSince say why and since when passes fail.
	LastPass     time.Time `json:"last_pass,omitzero"`
	LastError    string    `json:"last_error,omitempty"`
	FailingSince time.Time `json:"failing_since,omitzero"`
}

// archiveState is the archive's part of the status; nil when it is off.
func (a *Agent) archiveState(head uint64) (*ArchiveState, error) {
	if a.archive == nil {
		return nil, nil
	}
	c, err := a.archive.Cursor()
	if err != nil {
		return nil, err
	}
	st := a.archive.Status()
	return &ArchiveState{Documents: c.Documents, Answers: c.Answers, Checkpoints: c.Checkpoints, Pending: head - min(head, c.Documents),
		LastPass: st.LastPass, LastError: st.LastError, FailingSince: st.FailingSince}, nil
}

// HoldFrom is the first document that pruning must keep for the off-site
// archive, given the store's upload cursor: 0 when [archive] is off, 1
// when the cursor counts for another destination (nothing is known to be
// there), else the first document not yet archived with its answer.
func (c *ArchiveConfig) HoldFrom(cur queue.OffsiteCursor) uint64 {
	switch {
	case !c.Enabled:
		return 0
	case cur.Target != c.target():
		return 1
	}
	return cur.HoldFrom()
}
