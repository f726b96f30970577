// Package awssecrets reads secrets from AWS Secrets Manager, once, at cold
// start, so that tokens never sit in plain Lambda environment variables.
package awssecrets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// GetSecretValueAPI is the one call this package needs of the Secrets
// Manager client.
type GetSecretValueAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// Fetch returns the secret's string. A secret that holds a JSON object is
// read for its field (for example "token"); a plain string is returned as it
// is. Errors name the secret but never show its value.
func Fetch(ctx context.Context, api GetSecretValueAPI, arn, field string) (string, error) {
	out, err := api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil {
		return "", fmt.Errorf("read secret %s: %w", arn, err)
	}
	if out.SecretString == nil {
		return "", fmt.Errorf("read secret %s: it has no string value", arn)
	}
	s := strings.TrimSpace(*out.SecretString)
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
