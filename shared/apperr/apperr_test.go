package apperr_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/ai-rails/state-service/shared/apperr"
)

func TestKindsAndMessages(t *testing.T) {
	cause := errors.New("disk on fire")
	err := fmt.Errorf("save: %w", apperr.Wrap(apperr.StoreUnavailable, cause, "store down"))
	assert.Equal(t, apperr.StoreUnavailable, apperr.KindOf(err))
	assert.ErrorIs(t, err, cause)
	assert.Equal(t, "save: store down: disk on fire", err.Error())
	assert.Equal(t, apperr.Internal, apperr.KindOf(errors.New("plain")))

	nf := apperr.New(apperr.NotFound, "workflow %s not found", "ABC-123456")
	assert.Equal(t, "workflow ABC-123456 not found", nf.Error())

	one := apperr.Invalid(apperr.Field("ttl_hours", "must be 1 to %d", 168))
	assert.Equal(t, "ttl_hours must be 1 to 168", one.Detail)
	assert.Equal(t, "ttl_hours must be 1 to 168; ttl_hours: must be 1 to 168", one.Error())

	var c apperr.Collector
	assert.NoError(t, c.Err())
	c.Add("a", "bad")
	c.Add("b", "worse")
	err = c.Err()
	var ae *apperr.Error
	assert.ErrorAs(t, err, &ae)
	assert.Equal(t, "the request is invalid", ae.Detail)
	assert.Len(t, ae.Fields, 2)

	conflict := apperr.New(apperr.Conflict, "held").With("expires_at", "x").With("owner", "y")
	assert.Equal(t, map[string]any{"expires_at": "x", "owner": "y"}, conflict.Extra)
}
