package offsite

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/minio/minio-go/v7/pkg/signer"
)

// ObjectStore is what the uploader needs of an object store.
type ObjectStore interface {
	// Stat returns the SHA-256 an object was stored with, and whether it
	// exists at all.
	Stat(ctx context.Context, key string) (sha256 string, exists bool, err error)
	// Put stores data under key, recording its SHA-256, and returns once
	// the store has confirmed it.
	Put(ctx context.Context, key string, data []byte, sha256 string) error
	// Get returns an object's bytes, or exists false.
	Get(ctx context.Context, key string) (data []byte, exists bool, err error)
}

// S3Config is where an S3-compatible store is and how to sign in.
type S3Config struct {
	// Endpoint is host:port, without a scheme.
	Endpoint string
	Bucket   string
	// Region is the bucket's region, which requests are signed for;
	// empty means us-east-1, which most S3-compatible servers accept
	// whatever their own.
	Region    string
	AccessKey string
	SecretKey string
	TLS       bool
	// Transport, if set, carries the requests (tests count them).
	Transport http.RoundTripper
}

// s3Store is an ObjectStore on an S3-compatible server: three requests
// (PUT, HEAD, GET of one object, path-style), signed with AWS Signature
// Version 4 by minio-go's signer. The whole minio-go client would add
// some 2 MB to the binary for operations the unit never makes.
type s3Store struct {
	cfg    S3Config
	base   url.URL
	client *http.Client
}

// metaSHA256 is the user metadata header that records an object's
// SHA-256.
const metaSHA256 = "X-Amz-Meta-Sha256"

// maxObject bounds what Get reads: a day's manifest is the largest object.
const maxObject = 256 << 20

// NewS3 returns an ObjectStore for cfg. It does not contact the server.
func NewS3(cfg S3Config) (ObjectStore, error) {
	if cfg.Endpoint == "" || strings.Contains(cfg.Endpoint, "/") {
		return nil, fmt.Errorf("archive endpoint %q must be host:port", cfg.Endpoint)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	scheme := "http"
	if cfg.TLS {
		scheme = "https"
	}
	return &s3Store{cfg: cfg, base: url.URL{Scheme: scheme, Host: cfg.Endpoint},
		client: &http.Client{Transport: cfg.Transport, Timeout: 2 * time.Minute}}, nil
}

// emptySHA256 is the SHA-256 of an empty body.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

func (s *s3Store) do(ctx context.Context, method, key string, body []byte, header http.Header) (*http.Response, error) {
	u := s.base
	u.Path = "/" + s.cfg.Bucket + "/" + key
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.ContentLength = int64(len(body))
	for k, v := range header {
		req.Header[k] = v
	}
	payload := emptySHA256
	if len(body) > 0 {
		sum := sha256.Sum256(body)
		payload = hex.EncodeToString(sum[:])
	}
	req.Header.Set("X-Amz-Content-Sha256", payload)
	return s.client.Do(signer.SignV4(*req, s.cfg.AccessKey, s.cfg.SecretKey, "", s.cfg.Region))
}

func (s *s3Store) Stat(ctx context.Context, key string) (string, bool, error) {
	resp, err := s.do(ctx, http.MethodHead, key, nil, nil)
	if err != nil {
		return "", false, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return "", false, nil
	case resp.StatusCode != http.StatusOK:
		return "", false, s3Error(http.MethodHead, key, resp)
	}
	return resp.Header.Get(metaSHA256), true, nil
}

func (s *s3Store) Put(ctx context.Context, key string, data []byte, sum string) error {
	md := md5.Sum(data)
	header := http.Header{
		"Content-Type": {"application/octet-stream"},
		metaSHA256:     {sum},
		// The server refuses a body damaged on the way.
		"Content-Md5": {base64.StdEncoding.EncodeToString(md[:])},
	}
	resp, err := s.do(ctx, http.MethodPut, key, data, header)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s3Error(http.MethodPut, key, resp)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	return nil
}

func (s *s3Store) Get(ctx context.Context, key string) ([]byte, bool, error) {
	resp, err := s.do(ctx, http.MethodGet, key, nil, nil)
	if err != nil {
		return nil, false, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, false, nil
	case resp.StatusCode != http.StatusOK:
		return nil, false, s3Error(http.MethodGet, key, resp)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxObject+1))
	if err != nil {
		return nil, false, err
	}
	if len(data) > maxObject {
		return nil, false, fmt.Errorf("GET %s: the object is larger than %d bytes", key, maxObject)
	}
	return data, true, nil
}

// s3Error is an error answer as the store gives it: its code and message
// (e.g. "InvalidAccessKeyId: The access key ID you provided does not
// exist"), or the HTTP status.
func s3Error(method, key string, resp *http.Response) error {
	var e struct {
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16)) // the status says enough if the body is cut
	if xml.Unmarshal(body, &e) == nil && e.Code != "" {
		return fmt.Errorf("%s %s: %s: %s (HTTP %d)", method, key, e.Code, e.Message, resp.StatusCode)
	}
	return fmt.Errorf("%s %s: HTTP %s", method, key, resp.Status)
}
