package offsite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
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
	Endpoint  string
	Bucket    string
	Region    string
	AccessKey string
	SecretKey string
	TLS       bool
	// Transport, if set, carries the requests (tests count them).
	Transport http.RoundTripper
}

// s3Store is an ObjectStore on an S3-compatible server.
type s3Store struct {
	client *minio.Client
	bucket string
}

// metaSHA256 is the user metadata that records an object's SHA-256.
const metaSHA256 = "Sha256"

// NewS3 returns an ObjectStore for cfg. It does not contact the server.
func NewS3(cfg S3Config) (ObjectStore, error) {
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:     credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:    cfg.TLS,
		Region:    cfg.Region,
		Transport: cfg.Transport,
		// Path-style requests work with every S3-compatible server and
		// need no DNS name per bucket.
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		return nil, fmt.Errorf("archive endpoint %q: %w", cfg.Endpoint, err)
	}
	return &s3Store{client: client, bucket: cfg.Bucket}, nil
}

func (s *s3Store) Stat(ctx context.Context, key string) (string, bool, error) {
	info, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if isNotFound(err) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return info.Metadata.Get("X-Amz-Meta-" + metaSHA256), true, nil
}

func (s *s3Store) Put(ctx context.Context, key string, data []byte, sum string) error {
	_, err := s.client.PutObject(ctx, s.bucket, key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{
		ContentType:      "application/octet-stream",
		UserMetadata:     map[string]string{metaSHA256: sum},
		SendContentMd5:   true, // the server refuses a body damaged on the way
		DisableMultipart: true,
	})
	return err
}

func (s *s3Store) Get(ctx context.Context, key string) ([]byte, bool, error) {
	obj, err := s.client.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, false, err
	}
	defer obj.Close()
	data, err := io.ReadAll(obj)
	if isNotFound(err) {
		return nil, false, nil
	}
	return data, err == nil, err
}

func isNotFound(err error) bool {
	if err == nil {
		return false
	}
	var resp minio.ErrorResponse
	if errors.As(err, &resp) {
		return resp.Code == minio.NoSuchKey || resp.StatusCode == http.StatusNotFound
	}
	return false
}
