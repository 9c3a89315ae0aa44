package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/gatehousehq/gatehouse/check"
	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/store"
)

func credentialMessages(username, id string) messages {
	return messages{
		notFound: fmt.Sprintf("credential %q of consumer %q not found", id, username),
		conflict: fmt.Sprintf("credential %q of consumer %q conflicts with another credential", id, username),
	}
}

// scheme returns the credential.Scheme registered under name.
func (h *Handler) scheme(name string) (credential.Scheme, bool) {
	return check.Scheme(h.reg, name)
}

// credentialView is what a response shows of a stored credential: the
// scheme's redacted settings, or reveal (a generated secret, shown once) when
// not nil.
func (h *Handler) credentialView(c *credential.Credential, reveal json.RawMessage) *credential.Credential {
	out := c.Clone()
	out.CreatedAt, out.UpdatedAt = out.CreatedAt.UTC(), out.UpdatedAt.UTC()
	plugins := make(map[string]json.RawMessage, len(out.Plugins))
	for name, stored := range out.Plugins {
		switch s, ok := h.scheme(name); {
		case reveal != nil:
			plugins[name] = reveal
		case ok:
			plugins[name] = s.Redact(stored)
		default:
			// No scheme to redact with: show nothing rather than a secret.
			plugins[name] = json.RawMessage("{}")
		}
	}
	out.Plugins = plugins
	return out
}

// sealCredential validates next (whose Consumer and ID are already set) and
// seals its secrets with its scheme; prev is the stored credential being
// replaced, or nil. It returns the Reveal of the seal.
func (h *Handler) sealCredential(next, prev *credential.Credential) (json.RawMessage, error) {
	return check.Credential(h.reg, next, prev)
}

// writeCredential runs build inside the store's mutator for credential id of
// username and answers with the result. build returns the credential the
// client asked for (from cur, nil when it does not exist); it is then
// validated and sealed, all atomically.
func (h *Handler) writeCredential(w http.ResponseWriter, r *http.Request, username, id string, created201 bool,
	build func(cur *credential.Credential) (*credential.Credential, error)) {
	var reveal json.RawMessage
	var scheme string
	out, created, err := h.store.PutCredential(r.Context(), username, id, func(cur *credential.Credential) (*credential.Credential, error) {
		reveal, scheme = nil, ""
		next, err := build(cur)
		if err != nil {
			return nil, err
		}
		next.ID, next.Consumer = id, username
		scheme = next.Scheme()
		if reveal, err = h.sealCredential(next, cur); err != nil {
			return nil, err
		}
		return next, nil
	})
	if err != nil {
		// The store's ErrNotFound on a write means the consumer is missing; a
		// PATCH of a missing credential says so itself (notFound).
		h.fail(w, r, credentialConflict(err, scheme), messages{
			notFound: consumerMessages(username).notFound,
			conflict: credentialMessages(username, id).conflict,
		})
		return
	}
	status := http.StatusOK
	if created || created201 {
		status = http.StatusCreated
		w.Header().Set("Location", location(r, "/api/consumers/"+url.PathEscape(username)+"/credentials/"+url.PathEscape(id)))
	}
	writeJSON(w, status, h.credentialView(out, reveal))
}

// credentialConflict turns the store's conflict on a credential write into
// its answer: a name already used by the consumer (fields.name), or a key
// already used by any credential (fields.plugins.<scheme>; the key itself is
// never echoed). Other errors are returned as they are.
func credentialConflict(err error, scheme string) error {
	var ce *store.ConflictError
	if !errors.As(err, &ce) {
		return err
	}
	switch ce.Rule {
	case store.ConflictCredentialName:
		return conflict{msg: fmt.Sprintf("consumer %q already has a credential named %q", ce.Consumer, ce.Name), field: "name"}
	case store.ConflictCredentialLookup:
		c := conflict{msg: "the credential's key is already in use by another credential"}
		if scheme != "" {
			c.field = "plugins." + scheme
		}
		return c
	}
	return err
}

func (h *Handler) listCredentials(w http.ResponseWriter, r *http.Request) {
	username := r.PathValue("username")
	opts, err := listOptions(r, false)
	if err != nil {
		h.fail(w, r, err, messages{})
		return
	}
	page, err := h.store.ListCredentials(r.Context(), username, opts)
	if err != nil {
		h.fail(w, r, err, consumerMessages(username))
		return
	}
	writeJSON(w, http.StatusOK, listOf(page, func(c *credential.Credential) *credential.Credential {
		return h.credentialView(c, nil)
	}))
}

func (h *Handler) getCredential(w http.ResponseWriter, r *http.Request) {
	username, id := r.PathValue("username"), r.PathValue("id")
	c, err := h.store.GetCredential(r.Context(), username, id)
	if err != nil {
		h.fail(w, r, err, credentialMessages(username, id))
		return
	}
	writeJSON(w, http.StatusOK, h.credentialView(c, nil))
}

// decodeCredential reads a credential body; enabled defaults to true.
func decodeCredential(body []byte) (*credential.Credential, error) {
	c := credential.Credential{Enabled: true}
	if err := decodeStrict(body, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

func (h *Handler) readCredential(w http.ResponseWriter, r *http.Request) (*credential.Credential, error) {
	c := credential.Credential{Enabled: true}
	if err := h.readJSON(w, r, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

func (h *Handler) createCredential(w http.ResponseWriter, r *http.Request) {
	username := r.PathValue("username")
	in, err := h.readCredential(w, r)
	if err != nil {
		h.fail(w, r, err, messages{})
		return
	}
	if in.ID == "" {
		in.ID = newID()
	} else if !consumer.ValidName(in.ID) {
		// Name every invalid field without going to the store.
		_, err := h.sealCredential(in.Clone(), nil)
		h.fail(w, r, err, messages{})
		return
	}
	id := in.ID
	h.writeCredential(w, r, username, id, true, func(cur *credential.Credential) (*credential.Credential, error) {
		if cur != nil {
			return nil, conflict{msg: fmt.Sprintf("consumer %q already has a credential with id %q", username, id), field: "id"}
		}
		return in.Clone(), nil
	})
}

func (h *Handler) putCredential(w http.ResponseWriter, r *http.Request) {
	username, id := r.PathValue("username"), r.PathValue("id")
	in, err := h.readCredential(w, r)
	if err != nil {
		h.fail(w, r, err, messages{})
		return
	}
	if in.ID != "" && in.ID != id {
		h.fail(w, r, fieldMismatch("id", "id"), messages{})
		return
	}
	in.ID = id
	if !consumer.ValidName(id) {
		_, err := h.sealCredential(in.Clone(), nil)
		h.fail(w, r, err, messages{})
		return
	}
	h.writeCredential(w, r, username, id, false, func(*credential.Credential) (*credential.Credential, error) {
		return in.Clone(), nil
	})
}

func (h *Handler) patchCredential(w http.ResponseWriter, r *http.Request) {
	username, id := r.PathValue("username"), r.PathValue("id")
	apply, err := h.readPatch(w, r)
	if err != nil {
		h.fail(w, r, err, messages{})
		return
	}
	msgs := credentialMessages(username, id)
	h.writeCredential(w, r, username, id, false, func(cur *credential.Credential) (*credential.Credential, error) {
		if cur == nil {
			return nil, notFound{msg: msgs.notFound}
		}
		// The patch applies to what GET shows: secrets are not in it, and a
		// scheme keeps the stored secret when the patch does not send one.
		doc, err := json.Marshal(h.credentialView(cur, nil))
		if err != nil {
			return nil, fmt.Errorf("admin: encode credential %q of %q: %w", id, username, err)
		}
		if doc, err = apply(doc); err != nil {
			return nil, err
		}
		return decodeCredential(doc)
	})
}

func (h *Handler) deleteCredential(w http.ResponseWriter, r *http.Request) {
	username, id := r.PathValue("username"), r.PathValue("id")
	if err := h.store.DeleteCredential(r.Context(), username, id); err != nil {
		h.fail(w, r, err, credentialMessages(username, id))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
