// Package awssecrets reads secrets from AWS Secrets Manager, once, at cold
// start, so that tokens never sit in plain Lambda environment variables.
//
// It makes the one call it needs, GetSecretValue, as a request of its own,
// signed with the SDK's SigV4 signer (aws/signer/v4) and nothing else of
// the SDK: the Secrets Manager client and the config loader would add about
// 3 MB to each function and milliseconds of package init to each cold
// start. Credentials come from the environment, as Lambda gives them
// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN); the
// region from the secret's ARN, else AWS_REGION; the endpoint is
// AWS_ENDPOINT_URL_SECRETS_MANAGER or AWS_ENDPOINT_URL when set, as the SDK
// reads them.
package awssecrets

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Client calls Secrets Manager's GetSecretValue.
type Client struct {
	creds    aws.Credentials
	region   string // when the ARN names none
	endpoint string // "" for the region's own
	http     *http.Client
	signer   *v4.Signer
}

// Attempts is how many times a call that failed in a way worth retrying
// (a network error, a 5xx, a throttle) is tried.
const Attempts = 3

// FromEnv returns a Client configured from the environment, as Lambda sets
// it. lookup is os.LookupEnv, or a map's in tests.
func FromEnv(lookup func(string) (string, bool)) (*Client, error) {
	get := func(name string) string { v, _ := lookup(name); return strings.TrimSpace(v) }
	c := &Client{
		creds: aws.Credentials{AccessKeyID: get("AWS_ACCESS_KEY_ID"), SecretAccessKey: get("AWS_SECRET_ACCESS_KEY"),
			SessionToken: get("AWS_SESSION_TOKEN"), Source: "environment"},
		region:   get("AWS_REGION"),
		endpoint: get("AWS_ENDPOINT_URL_SECRETS_MANAGER"),
		http:     &http.Client{Timeout: 5 * time.Second},
		signer:   v4.NewSigner(),
	}
	if c.region == "" {
		c.region = get("AWS_DEFAULT_REGION")
	}
	if c.endpoint == "" {
		c.endpoint = get("AWS_ENDPOINT_URL")
	}
	if c.creds.AccessKeyID == "" || c.creds.SecretAccessKey == "" {
		return nil, errors.New("read secrets: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set (Lambda sets them from the function's role)")
	}
	return c, nil
}

// regionOf is the region an ARN names (arn:aws:secretsmanager:REGION:...),
// or "".
func regionOf(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) == 6 && parts[0] == "arn" && parts[2] == "secretsmanager" {
		return parts[3]
	}
	return ""
}

// apiError is Secrets Manager's error answer.
type apiError struct {
	Type    string `json:"__type"`
	Message string `json:"message"`
	Status  int    `json:"-"`
}

func (e *apiError) Error() string {
	t := e.Type
	if i := strings.LastIndexByte(t, '#'); i >= 0 {
		t = t[i+1:]
	}
	return fmt.Sprintf("%s (%d): %s", t, e.Status, e.Message)
}

// retryable reports whether a failed attempt is worth another.
func retryable(err error) bool {
	var e *apiError
	if errors.As(err, &e) {
		return e.Status >= 500 || e.Status == http.StatusTooManyRequests || strings.Contains(e.Type, "Throttling")
	}
	return true // the request did not complete
}

// GetSecretString returns the secret's SecretString. Errors name the secret
// and Secrets Manager's error type, never a value.
func (c *Client) GetSecretString(ctx context.Context, arn string) (string, error) {
	region := regionOf(arn)
	if region == "" {
		region = c.region
	}
	if region == "" {
		return "", errors.New("no region: the secret is not named by a full ARN, and AWS_REGION is not set")
	}
	body, _ := json.Marshal(map[string]string{"SecretId": arn})
	var err error
	for attempt := range Attempts {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return "", errors.Join(err, ctx.Err())
			case <-time.After(time.Duration(50<<attempt) * time.Millisecond):
			}
		}
		var s string
		if s, err = c.get(ctx, region, body); err == nil || !retryable(err) {
			return s, err
		}
	}
	return "", err
}

func (c *Client) get(ctx context.Context, region string, body []byte) (string, error) {
	endpoint := c.endpoint
	if endpoint == "" {
		endpoint = "https://secretsmanager." + region + ".amazonaws.com"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(endpoint, "/")+"/", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "secretsmanager.GetSecretValue")
	sum := sha256.Sum256(body)
	if err := c.signer.SignHTTP(ctx, c.creds, req, hex.EncodeToString(sum[:]), "secretsmanager", region, time.Now().UTC()); err != nil {
		return "", err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		e := &apiError{Status: resp.StatusCode}
		if json.Unmarshal(raw, e) != nil || e.Type == "" {
			e.Type, e.Message = "HTTP "+resp.Status, ""
		}
		return "", e
	}
	var out struct{ SecretString *string }
	if err := json.Unmarshal(raw, &out); err != nil {
		return "", errors.New("the answer does not parse")
	}
	if out.SecretString == nil {
		return "", errors.New("it has no string value")
	}
	return *out.SecretString, nil
}

// GetSecretValueAPI is the one call Fetch needs: Client's.
type GetSecretValueAPI interface {
	GetSecretString(ctx context.Context, arn string) (string, error)
}

// Fetch returns the secret's string. A secret that holds a JSON object is
// read for its field (for example "token"); a plain string is returned as it
// is. Errors name the secret but never show its value.
func Fetch(ctx context.Context, api GetSecretValueAPI, arn, field string) (string, error) {
	raw, err := api.GetSecretString(ctx, arn)
	if err != nil {
		return "", fmt.Errorf("read secret %s: %w", arn, err)
	}
	s := strings.TrimSpace(raw)
	if strings.HasPrefix(s, "{") {
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			return "", fmt.Errorf("read secret %s: it looks like JSON but does not parse", arn)
		}
		v, ok := m[field].(string)
		if !ok || v == "" {
			return "", fmt.Errorf("read secret %s: the JSON has no string field %q", arn, field)
		}
		return v, nil
	}
	if s == "" {
		return "", errors.New("read secret " + arn + ": it is empty")
	}
	return s, nil
}
