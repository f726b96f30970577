package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ai-rails/state-service/shared/keys"
	"github.com/ai-rails/state-service/shared/upstash"
)

// Dest is where backups go: a folder, or an S3 bucket and prefix.
type Dest interface {
	// Put writes the object name by streaming fn's output, and returns its
	// location.
	Put(ctx context.Context, name string, fn func(io.Writer) error) (string, error)
}

// ObjectName is a backup's name under its destination:
// {yyyy}/{mm}/{dd}/{hhmmss}Z.jsonl.gz. Destinations add the "backups"
// folder or prefix: BACKUP_DIR defaults to DATA_DIR/backups, and
// BACKUP_PREFIX to "backups".
func ObjectName(at time.Time) string {
	return at.UTC().Format("2006/01/02/150405Z") + ".jsonl.gz"
}

// Backup dumps the store into dest and writes the manifest beside it.
func Backup(ctx context.Context, c *upstash.Client, k keys.Schema, dest Dest, now func() time.Time) (Manifest, error) {
	if now == nil {
		now = time.Now
	}
	name := ObjectName(now())
	var m Manifest
	loc, err := dest.Put(ctx, name, func(w io.Writer) error {
		var err error
		m, err = Dump(ctx, c, k, w, now)
		return err
	})
	if err != nil {
		return Manifest{}, fmt.Errorf("backup to %s: %w", name, err)
	}
	m.Location = loc
	body, _ := json.MarshalIndent(m, "", "  ")
	if _, err := dest.Put(ctx, strings.TrimSuffix(name, ".jsonl.gz")+".manifest.json", func(w io.Writer) error {
		_, err := w.Write(append(body, '\n'))
		return err
	}); err != nil {
		return m, fmt.Errorf("write the manifest of %s: %w", loc, err)
	}
	return m, nil
}

// Dir is a folder destination.
type Dir string

// Put writes to a temporary file beside the target and renames it, so a
// half-written backup never carries the final name.
func (d Dir) Put(_ context.Context, name string, fn func(io.Writer) error) (string, error) {
	path := filepath.Join(string(d), filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return "", err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".partial-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name())
	if err := fn(f); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return path, os.Rename(f.Name(), path)
}

// S3 is a bucket and key prefix destination, written as multipart uploads
// of 5 MB parts, two at a time, so memory stays near 10 MB.
type S3 struct {
	Client *s3.Client
	Bucket string
	Prefix string
}

// Put streams fn's output to S3.
func (d S3) Put(ctx context.Context, name string, fn func(io.Writer) error) (string, error) {
	key := strings.TrimPrefix(strings.TrimSuffix(d.Prefix, "/")+"/"+name, "/")
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(fn(pw)) }()
	tm := transfermanager.New(d.Client, func(o *transfermanager.Options) {
		o.PartSizeBytes = 5 << 20
		o.Concurrency = 2
	})
	_, err := tm.UploadObject(ctx, &transfermanager.UploadObjectInput{
		Bucket: aws.String(d.Bucket), Key: aws.String(key), Body: pr,
	})
	pr.CloseWithError(err) // unblocks fn if the upload stopped reading
	if err != nil {
		return "", err
	}
	return "s3://" + d.Bucket + "/" + key, nil
}

// ParseLocation reads "s3://bucket/prefix-or-key" or a path. For S3 it
// returns the bucket and the rest.
func ParseLocation(loc string) (bucket, key string, isS3 bool, err error) {
	rest, ok := strings.CutPrefix(loc, "s3://")
	if !ok {
		return "", loc, false, nil
	}
	bucket, key, _ = strings.Cut(rest, "/")
	if bucket == "" {
		return "", "", true, errors.New("an S3 location is s3://bucket/key")
	}
	return bucket, key, true, nil
}

// NewDest returns the destination of loc: a folder, or s3://bucket/prefix
// (which needs client).
func NewDest(loc string, client *s3.Client) (Dest, error) {
	bucket, prefix, isS3, err := ParseLocation(loc)
	if err != nil || !isS3 {
		return Dir(loc), err
	}
	if client == nil {
		return nil, errors.New("an S3 destination needs AWS configuration")
	}
	return S3{Client: client, Bucket: bucket, Prefix: prefix}, nil
}

// Opener returns a function that opens the backup at loc, a file or
// s3://bucket/key, from its start, each time it is called.
func Opener(ctx context.Context, loc string, client *s3.Client) (func() (io.ReadCloser, error), error) {
	bucket, key, isS3, err := ParseLocation(loc)
	if err != nil {
		return nil, err
	}
	if !isS3 {
		return func() (io.ReadCloser, error) { return os.Open(loc) }, nil
	}
	if key == "" || strings.HasSuffix(key, "/") {
		return nil, fmt.Errorf("%s names no backup: restore from s3://bucket/key, the location a backup printed", loc)
	}
	if client == nil {
		return nil, errors.New("an S3 source needs AWS configuration")
	}
	return func() (io.ReadCloser, error) {
		out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", loc, err)
		}
		return out.Body, nil
	}, nil
}
