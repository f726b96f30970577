package workflow

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ai-rails/state-service/shared/apperr"
	"github.com/ai-rails/state-service/shared/jsondoc"
	"github.com/ai-rails/state-service/shared/keys"
)

// SaveBody is the body of POST /api/workflow/state. Raw fields tell a field
// left out (nil) from one set to null.
type SaveBody struct {
	WorkflowID         json.RawMessage `json:"workflow_id"`
	Status             json.RawMessage `json:"status"`
	FeatureDescription json.RawMessage `json:"feature_description"`
	CurrentStage       json.RawMessage `json:"current_stage"`
	Metadata           json.RawMessage `json:"metadata"`
	TTLHours           json.RawMessage `json:"ttl_hours"`
	// Owned by the server: accepted and ignored.
	CreatedAt   json.RawMessage `json:"created_at"`
	LastUpdated json.RawMessage `json:"last_updated"`
	Version     json.RawMessage `json:"version"`
	ExpiresAt   json.RawMessage `json:"expires_at"`
	CreatedBy   json.RawMessage `json:"created_by"`
}

// PatchBody is the merge patch of PATCH /api/workflow/state/{workflow_id}.
type PatchBody SaveBody

func isNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

// fields validates the fields common to both bodies into ch. In a patch, null
// removes: current_stage becomes "", metadata {} and ttl_hours its default;
// status and feature_description cannot be removed.
func (b SaveBody) fields(ch *Change, errs *apperr.Collector, patch bool) {
	if b.Status != nil {
		var s string
		if json.Unmarshal(b.Status, &s) != nil || !Status(s).Valid() {
			errs.Add("status", "must be one of pending, in_progress, completed, failed")
		} else {
			ch.Status = Status(s)
		}
	}
	if b.FeatureDescription != nil {
		ch.FeatureDescription = text(b.FeatureDescription, "feature_description", 1, MaxFeatureDescription, errs)
	}
	if b.CurrentStage != nil {
		if patch && isNull(b.CurrentStage) {
			ch.CurrentStage = json.RawMessage(`""`)
		} else {
			ch.CurrentStage = text(b.CurrentStage, "current_stage", 0, MaxCurrentStage, errs)
		}
	}
	if b.Metadata != nil {
		if patch && isNull(b.Metadata) {
			ch.Metadata = json.RawMessage("null")
		} else {
			ch.Metadata = metadata(b.Metadata, patch, errs)
		}
	}
	if b.TTLHours != nil {
		n := DefaultTTLHours
		if !(patch && isNull(b.TTLHours)) {
			var err error
			n, err = strconv.Atoi(string(bytes.TrimSpace(b.TTLHours)))
			if err != nil || n < MinTTLHours || n > MaxTTLHours {
				errs.Add("ttl_hours", "must be an integer from %d to %d", MinTTLHours, MaxTTLHours)
			}
		}
		ch.TTLHours = &n
	}
}

// text validates a JSON string of min to max characters and returns it in
// canonical form.
func text(raw json.RawMessage, field string, min, max int, errs *apperr.Collector) json.RawMessage {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		errs.Add(field, "must be a string")
		return nil
	}
	if n := utf8.RuneCountInString(s); n < min || n > max {
		errs.Add(field, "must be %d to %d characters", min, max)
		return nil
	}
	return canonical(s)
}

// metadata validates a JSON object of at most MaxMetadataBytes and
// MaxMetadataDepth levels, and returns it in canonical form. A merge patch
// may hold nulls, which remove keys.
func metadata(raw json.RawMessage, patch bool, errs *apperr.Collector) json.RawMessage {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if dec.Decode(&m) != nil || m == nil {
		errs.Add("metadata", "must be a JSON object")
		return nil
	}
	if depth(m) > MaxMetadataDepth {
		errs.Add("metadata", "must nest at most %d levels", MaxMetadataDepth)
		return nil
	}
	out := canonical(m)
	if !patch && len(out) > MaxMetadataBytes {
		errs.Add("metadata", "must be at most %d bytes", MaxMetadataBytes)
		return nil
	}
	return out
}

func depth(v any) int {
	switch x := v.(type) {
	case map[string]any:
		d := 0
		for _, e := range x {
			d = max(d, depth(e))
		}
		return d + 1
	case []any:
		d := 0
		for _, e := range x {
			d = max(d, depth(e))
		}
		return d + 1
	}
	return 0
}

// canonical is jsondoc.Canonical, as a RawMessage.
func canonical(v any) json.RawMessage { return jsondoc.Canonical(v) }

// ParseSave validates the body of POST /api/workflow/state.
func ParseSave(body SaveBody) (Change, error) {
	var errs apperr.Collector
	var ch Change
	var rawID string
	if body.WorkflowID == nil || json.Unmarshal(body.WorkflowID, &rawID) != nil {
		errs.Add("workflow_id", "is required, a string matching %s", keys.WorkflowIDPattern)
	} else if id, err := keys.ParseWorkflowID(rawID); err != nil {
		errs.Add("workflow_id", "must match %s", keys.WorkflowIDPattern)
	} else {
		ch.ID = id
	}
	for field, raw := range map[string]json.RawMessage{"status": body.Status, "feature_description": body.FeatureDescription,
		"current_stage": body.CurrentStage, "metadata": body.Metadata, "ttl_hours": body.TTLHours} {
		if raw != nil && isNull(raw) {
			errs.Add(field, "must not be null")
		}
	}
	if err := errs.Err(); err != nil {
		return Change{}, err
	}
	body.fields(&ch, &errs, false)
	return ch, errs.Err()
}

// ParsePatch validates a merge patch for the workflow id.
func ParsePatch(id keys.WorkflowID, body PatchBody) (Change, error) {
	var errs apperr.Collector
	ch := Change{ID: id}
	if body.WorkflowID != nil {
		var s string
		if json.Unmarshal(body.WorkflowID, &s) != nil || s != id.String() {
			errs.Add("workflow_id", "cannot be changed; leave it out or give %s", id)
		}
	}
	for _, f := range []struct {
		name string
		raw  json.RawMessage
	}{{"status", body.Status}, {"feature_description", body.FeatureDescription}} {
		if f.raw != nil && isNull(f.raw) {
			errs.Add(f.name, "cannot be removed")
		}
	}
	if err := errs.Err(); err != nil {
		return Change{}, err
	}
	SaveBody(body).fields(&ch, &errs, true)
	return ch, errs.Err()
}

// ParseCondition reads the If-Match (im) or If-None-Match (inm) header.
// allowNone is false where
// If-None-Match is not offered (PATCH).
func ParseCondition(im, inm string, allowNone bool) (Condition, error) {
	switch {
	case im != "" && inm != "":
		return Condition{}, apperr.New(apperr.Validation, "send If-Match or If-None-Match, not both")
	case im != "":
		c, err := parseETags(im, "If-Match")
		c.Kind = "match"
		return c, err
	case inm != "" && allowNone:
		c, err := parseETags(inm, "If-None-Match")
		c.Kind = "none"
		return c, err
	}
	return Condition{}, nil
}

// parseETags reads "*" or a list of entity tags, "3", "4". Weak tags never
// match, since If-Match compares strongly.
func parseETags(v, header string) (Condition, error) {
	if strings.TrimSpace(v) == "*" {
		return Condition{Any: true}, nil
	}
	var c Condition
	for _, part := range strings.Split(v, ",") {
		p := strings.TrimSpace(part)
		weak := strings.HasPrefix(p, "W/")
		p = strings.TrimPrefix(p, "W/")
		if len(p) < 3 || p[0] != '"' || p[len(p)-1] != '"' {
			return Condition{}, apperr.New(apperr.Validation, `%s must be * or entity tags such as "3"`, header)
		}
		n, err := strconv.ParseInt(p[1:len(p)-1], 10, 64)
		if err != nil || n < 1 {
			return Condition{}, apperr.New(apperr.Validation, `%s must hold versions such as "3"`, header)
		}
		if !weak {
			c.Versions = append(c.Versions, n)
		}
	}
	return c, nil
}
