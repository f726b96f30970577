package handlers

import (
	"net/http"
	"time"

	"github.com/ai-rails/state-service/shared/apperr"
	"github.com/ai-rails/state-service/shared/httpkit"
	"github.com/ai-rails/state-service/shared/identity"
	"github.com/ai-rails/state-service/shared/keys"
	"github.com/ai-rails/state-service/shared/lock"
	"github.com/ai-rails/state-service/shared/metrics"
)

// locks serves the lock routes of API.md.
type locks struct{ svc lock.Service }

func (h locks) routes() map[string]httpkit.HandlerFunc {
	return map[string]httpkit.HandlerFunc{"lock.acquire": h.acquire, "lock.extend": h.extend, "lock.release": h.release}
}

type lockBody struct {
	Owner      *string `json:"owner"`
	TTLSeconds *int    `json:"ttl_seconds"`
}

func resourceID(r *http.Request) (keys.ResourceID, error) {
	id, err := keys.ParseResourceID(r.PathValue("resource_id"))
	if err != nil {
		return id, apperr.Invalid(apperr.Field("resource_id", "must match %s", keys.ResourceIDPattern))
	}
	return id, nil
}

func ttlOf(b lockBody, errs *apperr.Collector) time.Duration {
	if b.TTLSeconds == nil {
		return lock.DefaultTTLSeconds * time.Second
	}
	if *b.TTLSeconds < 1 || *b.TTLSeconds > lock.MaxTTLSeconds {
		errs.Add("ttl_seconds", "must be an integer from 1 to %d", lock.MaxTTLSeconds)
	}
	return time.Duration(*b.TTLSeconds) * time.Second
}

func lockToken(r *http.Request, errs *apperr.Collector) string {
	t := r.Header.Get(lock.TokenHeader)
	if t == "" || len(t) > lock.MaxToken {
		errs.Add(lock.TokenHeader, "header is required: the token the lock was taken with")
	}
	return t
}

// lockRequest reads a lock route's resource id and body.
func lockRequest(w http.ResponseWriter, r *http.Request) (keys.ResourceID, lockBody, error) {
	id, err := resourceID(r)
	var b lockBody
	if err == nil {
		err = httpkit.DecodeJSON(w, r, &b)
	}
	return id, b, err
}

func (h locks) acquire(w http.ResponseWriter, r *http.Request) error {
	id, b, err := lockRequest(w, r)
	if err != nil {
		return err
	}
	var errs apperr.Collector
	if b.Owner == nil {
		errs.Add("owner", "is required, 1 to %d characters", lock.MaxOwner)
	} else if why := identity.Check(*b.Owner, lock.MaxOwner); why != "" {
		errs.Add("owner", "%s", why)
	}
	ttl := ttlOf(b, &errs)
	if err := errs.Err(); err != nil {
		return err
	}
	l, err := h.svc.Acquire(r.Context(), id, *b.Owner, ttl)
	if err != nil {
		if apperr.KindOf(err) == apperr.Conflict {
			metrics.Count(r.Context(), metrics.LockConflicts)
		}
		return err
	}
	metrics.Count(r.Context(), metrics.LockAcquired)
	httpkit.WriteJSON(w, r, http.StatusCreated, l)
	return nil
}

func (h locks) extend(w http.ResponseWriter, r *http.Request) error {
	id, b, err := lockRequest(w, r)
	if err != nil {
		return err
	}
	var errs apperr.Collector
	if b.Owner != nil {
		errs.Add("owner", "cannot be changed by an extension")
	}
	tok := lockToken(r, &errs)
	ttl := ttlOf(b, &errs)
	if err := errs.Err(); err != nil {
		return err
	}
	l, err := h.svc.Extend(r.Context(), id, tok, ttl)
	return answer(w, r, l, err)
}

func (h locks) release(w http.ResponseWriter, r *http.Request) error {
	id, err := resourceID(r)
	if err != nil {
		return err
	}
	var errs apperr.Collector
	tok := lockToken(r, &errs)
	if err := errs.Err(); err != nil {
		return err
	}
	if err := h.svc.Release(r.Context(), id, tok); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
