package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/gatehousehq/gatehouse/check"
	"github.com/gatehousehq/gatehouse/consumer"
)

func consumerMessages(username string) messages {
	return messages{
		notFound: fmt.Sprintf("consumer %q not found", username),
		conflict: fmt.Sprintf("a consumer named %q already exists", username),
	}
}

// validateConsumer checks the consumer's fields and its plugins' settings,
// naming every invalid field.
func (h *Handler) validateConsumer(c *consumer.Consumer) error {
	return check.Consumer(h.reg, c)
}

// consumerView is what a response shows of a stored consumer.
func consumerView(c *consumer.Consumer) *consumer.Consumer {
	out := c.Clone()
	out.CreatedAt, out.UpdatedAt = out.CreatedAt.UTC(), out.UpdatedAt.UTC()
	return out
}

func (h *Handler) listConsumers(w http.ResponseWriter, r *http.Request) {
	opts, err := listOptions(r, true)
	if err != nil {
		h.fail(w, r, err, messages{})
		return
	}
	page, err := h.store.ListConsumers(r.Context(), opts)
	if err != nil {
		h.fail(w, r, err, messages{})
		return
	}
	writeJSON(w, http.StatusOK, listOf(page, consumerView))
}

func (h *Handler) getConsumer(w http.ResponseWriter, r *http.Request) {
	username := r.PathValue("username")
	c, err := h.store.GetConsumer(r.Context(), username)
	if err != nil {
		h.fail(w, r, err, consumerMessages(username))
		return
	}
	writeJSON(w, http.StatusOK, consumerView(c))
}

func (h *Handler) createConsumer(w http.ResponseWriter, r *http.Request) {
	var in consumer.Consumer
	if err := h.readJSON(w, r, &in); err != nil {
		h.fail(w, r, err, messages{})
		return
	}
	in.CreatedAt, in.UpdatedAt = time.Time{}, time.Time{}
	if err := h.validateConsumer(&in); err != nil {
		h.fail(w, r, err, messages{})
		return
	}
	msgs := consumerMessages(in.Username)
	out, _, err := h.store.PutConsumer(r.Context(), in.Username, func(cur *consumer.Consumer) (*consumer.Consumer, error) {
		if cur != nil {
			return nil, conflict{msg: msgs.conflict, field: "username"}
		}
		return in.Clone(), nil
	})
	if err != nil {
		h.fail(w, r, err, msgs)
		return
	}
	w.Header().Set("Location", location(r, "/api/consumers/"+url.PathEscape(out.Username)))
	writeJSON(w, http.StatusCreated, consumerView(out))
}

func (h *Handler) putConsumer(w http.ResponseWriter, r *http.Request) {
	username := r.PathValue("username")
	var in consumer.Consumer
	if err := h.readJSON(w, r, &in); err != nil {
		h.fail(w, r, err, messages{})
		return
	}
	if in.Username != "" && in.Username != username {
		h.fail(w, r, fieldMismatch("username", "username"), messages{})
		return
	}
	in.Username = username
	in.CreatedAt, in.UpdatedAt = time.Time{}, time.Time{}
	if err := h.validateConsumer(&in); err != nil {
		h.fail(w, r, err, messages{})
		return
	}
	out, created, err := h.store.PutConsumer(r.Context(), username, func(cur *consumer.Consumer) (*consumer.Consumer, error) {
		next := in.Clone()
		if cur != nil {
			next.CreatedAt, next.UpdatedAt = cur.CreatedAt, cur.UpdatedAt
		}
		return next, nil
	})
	if err != nil {
		h.fail(w, r, err, consumerMessages(username))
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", location(r, "/api/consumers/"+url.PathEscape(username)))
	}
	writeJSON(w, status, consumerView(out))
}

func (h *Handler) patchConsumer(w http.ResponseWriter, r *http.Request) {
	username := r.PathValue("username")
	apply, err := h.readPatch(w, r)
	if err != nil {
		h.fail(w, r, err, messages{})
		return
	}
	msgs := consumerMessages(username)
	out, _, err := h.store.PutConsumer(r.Context(), username, func(cur *consumer.Consumer) (*consumer.Consumer, error) {
		if cur == nil {
			return nil, notFound{msg: msgs.notFound}
		}
		doc, err := json.Marshal(cur)
		if err != nil {
			return nil, fmt.Errorf("admin: encode consumer %q: %w", username, err)
		}
		if doc, err = apply(doc); err != nil {
			return nil, err
		}
		var next consumer.Consumer
		if err := decodeStrict(doc, &next); err != nil {
			return nil, err
		}
		next.Username = username // the URL wins: a patch never renames
		next.CreatedAt, next.UpdatedAt = cur.CreatedAt, cur.UpdatedAt
		if err := h.validateConsumer(&next); err != nil {
			return nil, err
		}
		return &next, nil
	})
	if err != nil {
		h.fail(w, r, err, msgs)
		return
	}
	writeJSON(w, http.StatusOK, consumerView(out))
}

func (h *Handler) deleteConsumer(w http.ResponseWriter, r *http.Request) {
	username := r.PathValue("username")
	if err := h.store.DeleteConsumer(r.Context(), username); err != nil {
		h.fail(w, r, err, consumerMessages(username))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
