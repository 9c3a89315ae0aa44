package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/gatehousehq/gatehouse/check"
	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/consumergroup"
	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/credential/keyauth"
	"github.com/gatehousehq/gatehouse/store"
	"github.com/gatehousehq/gatehouse/validation"
)

// The TrustGate-style resources: gateways, the consumer groups each holds,
// and the keys a group issues to its users.

func (h *Handler) gatewayObjects() *objects[consumergroup.Gateway] {
	return &objects[consumergroup.Gateway]{
		kind: "gateway", path: "/api/v1/gateways/",
		fields: func(g *consumergroup.Gateway) (*string, *time.Time, *time.Time) {
			return &g.ID, &g.CreatedAt, &g.UpdatedAt
		},
		validate: func(g *consumergroup.Gateway) error { return check.Gateway(h.reg, g) },
		clone:    (*consumergroup.Gateway).Clone,
		get:      h.store.GetGateway, put: h.store.PutGateway, del: h.store.DeleteGateway, list: h.store.ListGateways,
	}
}

func (h *Handler) registerConsumerGroups(m *mux) {
	gw := h.gatewayObjects()
	const base = "/api/v1/gateways"
	m.HandleFunc("GET "+base, gw.handleList(h))
	m.HandleFunc("POST "+base, gw.handleCreate(h))
	m.HandleFunc("GET "+base+"/{id}", gw.handleGet(h))
	m.HandleFunc("PUT "+base+"/{id}", gw.handlePut(h))
	m.HandleFunc("PATCH "+base+"/{id}", gw.handlePatch(h))
	m.HandleFunc("DELETE "+base+"/{id}", h.deleteGateway)

	const groups = base + "/{gateway_id}/consumer-groups"
	m.HandleFunc("GET "+groups, h.listConsumerGroups)
	m.HandleFunc("POST "+groups, h.createConsumerGroup)
	m.HandleFunc("GET "+groups+"/{group_id}", h.getConsumerGroup)
	m.HandleFunc("PUT "+groups+"/{group_id}", h.putConsumerGroup)
	m.HandleFunc("DELETE "+groups+"/{group_id}", h.deleteConsumerGroup)
	m.HandleFunc("GET "+groups+"/{group_id}/keys", h.listGroupKeys)
	m.HandleFunc("POST "+groups+"/{group_id}/keys", h.createGroupKey)
	m.HandleFunc("DELETE "+groups+"/{group_id}/keys/{key_id}", h.deleteGroupKey)
	m.HandleFunc("GET "+groups+"/{group_id}/usage", h.groupUsage)
}

func (h *Handler) deleteGateway(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	msgs := h.gatewayObjects().messages(id)
	msgs.conflict = fmt.Sprintf("gateway %q still holds consumer groups: delete them first", id)
	if err := h.store.DeleteGateway(r.Context(), id); err != nil {
		h.fail(w, r, err, msgs)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func groupMessages(gatewayID, id, name string) messages {
	return messages{
		notFound: fmt.Sprintf("consumer group %q not found in gateway %q", id, gatewayID),
		conflict: fmt.Sprintf("gateway %q already has a consumer group named %q", gatewayID, name),
	}
}

// gatewayExists answers 404 and returns false when the URL's gateway does not exist.
func (h *Handler) gatewayExists(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("gateway_id")
	if _, err := h.store.GetGateway(r.Context(), id); err != nil {
		h.fail(w, r, err, h.gatewayObjects().messages(id))
		return "", false
	}
	return id, true
}

// consumerGroupIn returns the URL's consumer group, answering 404 when the
// gateway or the group does not exist or the group is another gateway's.
func (h *Handler) consumerGroupIn(w http.ResponseWriter, r *http.Request) (*consumergroup.Group, bool) {
	gwID, ok := h.gatewayExists(w, r)
	if !ok {
		return nil, false
	}
	id := r.PathValue("group_id")
	g, err := h.store.GetConsumerGroup(r.Context(), id)
	if err == nil && g.GatewayID != gwID {
		err = store.ErrNotFound
	}
	if err != nil {
		h.fail(w, r, err, groupMessages(gwID, id, ""))
		return nil, false
	}
	return g, true
}

func groupView(g *consumergroup.Group) *consumergroup.Group {
	out := g.Clone()
	out.CreatedAt, out.UpdatedAt = out.CreatedAt.UTC(), out.UpdatedAt.UTC()
	if out.RequiredPlugins == nil {
		out.RequiredPlugins = []consumergroup.PluginConfig{}
	}
	return out
}

// readConsumerGroup decodes a group body for gateway gwID and id ("" on
// create: generated when the body has none), validates it, and fills every
// required plugin's defaults (enabled, the plugin's stage and priority) so
// that GET shows what runs.
func (h *Handler) readConsumerGroup(w http.ResponseWriter, r *http.Request, gwID, id string) (*consumergroup.Group, error) {
	var in consumergroup.Group
	if err := h.readJSON(w, r, &in); err != nil {
		return nil, err
	}
	var e validation.Error
	switch {
	case id == "" && in.ID == "":
		in.ID = newID()
	case id != "" && in.ID != "" && in.ID != id:
		return nil, fieldMismatch("id", "id")
	case id != "":
		in.ID = id
	}
	if in.GatewayID != "" && in.GatewayID != gwID {
		e.Add("gateway_id", "must be the gateway of the URL, or absent")
	}
	in.GatewayID = gwID
	in.CreatedAt, in.UpdatedAt = time.Time{}, time.Time{}
	e.Merge("", check.ConsumerGroup(h.reg, &in))
	if err := e.Err(); err != nil {
		return nil, err
	}
	return &in, nil
}

func (h *Handler) listConsumerGroups(w http.ResponseWriter, r *http.Request) {
	opts, err := listOptions(r, false)
	if err != nil {
		h.fail(w, r, err, messages{})
		return
	}
	gwID := r.PathValue("gateway_id")
	page, err := h.store.ListConsumerGroups(r.Context(), gwID, opts)
	if err != nil {
		h.fail(w, r, err, h.gatewayObjects().messages(gwID))
		return
	}
	writeJSON(w, http.StatusOK, listOf(page, groupView))
}

func (h *Handler) createConsumerGroup(w http.ResponseWriter, r *http.Request) {
	gwID, ok := h.gatewayExists(w, r)
	if !ok {
		return
	}
	in, err := h.readConsumerGroup(w, r, gwID, "")
	if err != nil {
		h.fail(w, r, err, messages{})
		return
	}
	msgs := groupMessages(gwID, in.ID, in.Name)
	out, _, err := h.store.PutConsumerGroup(r.Context(), in.ID, func(cur *consumergroup.Group) (*consumergroup.Group, error) {
		if cur != nil {
			return nil, conflict{msg: fmt.Sprintf("a consumer group with id %q already exists", in.ID), field: "id"}
		}
		return in.Clone(), nil
	})
	if err != nil {
		h.fail(w, r, consumerGroupConflict(err, gwID), msgs)
		return
	}
	w.Header().Set("Location", location(r, "/api/v1/gateways/"+url.PathEscape(gwID)+"/consumer-groups/"+url.PathEscape(in.ID)))
	writeJSON(w, http.StatusCreated, groupView(out))
}

func (h *Handler) getConsumerGroup(w http.ResponseWriter, r *http.Request) {
	if g, ok := h.consumerGroupIn(w, r); ok {
		writeJSON(w, http.StatusOK, groupView(g))
	}
}

func (h *Handler) putConsumerGroup(w http.ResponseWriter, r *http.Request) {
	gwID, ok := h.gatewayExists(w, r)
	if !ok {
		return
	}
	id := r.PathValue("group_id")
	in, err := h.readConsumerGroup(w, r, gwID, id)
	if err != nil {
		h.fail(w, r, err, messages{})
		return
	}
	msgs := groupMessages(gwID, id, in.Name)
	out, created, err := h.store.PutConsumerGroup(r.Context(), id, func(cur *consumergroup.Group) (*consumergroup.Group, error) {
		if cur != nil && cur.GatewayID != gwID {
			return nil, notFound{msg: msgs.notFound} // another gateway's group
		}
		return in.Clone(), nil
	})
	if err != nil {
		h.fail(w, r, consumerGroupConflict(err, gwID), msgs)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", location(r, "/api/v1/gateways/"+url.PathEscape(gwID)+"/consumer-groups/"+url.PathEscape(id)))
	}
	writeJSON(w, status, groupView(out))
}

func (h *Handler) deleteConsumerGroup(w http.ResponseWriter, r *http.Request) {
	g, ok := h.consumerGroupIn(w, r)
	if !ok {
		return
	}
	if err := h.store.DeleteConsumerGroup(r.Context(), g.ID); err != nil {
		h.fail(w, r, err, groupMessages(g.GatewayID, g.ID, g.Name))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// groupKeyBody is the body of POST …/keys.
type groupKeyBody struct {
	UserID    string     `json:"user_id"`
	ExpiresAt *time.Time `json:"expires_at"`
}

// groupKeyView is what the key endpoints show of a key: the key itself only
// in the response to its creation, a preview otherwise.
type groupKeyView struct {
	ID         string     `json:"id"`
	Key        string     `json:"key,omitempty"`
	KeyPreview string     `json:"key_preview,omitempty"`
	UserID     string     `json:"user_id"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
}

func (h *Handler) keyView(c *credential.Credential) groupKeyView {
	v := groupKeyView{ID: c.ID, UserID: c.Consumer, CreatedAt: c.CreatedAt.UTC(), ExpiresAt: c.ExpiresAt}
	if s, ok := h.scheme(keyauth.Name); ok {
		var shown struct {
			KeyPreview string `json:"key_preview"`
		}
		_ = json.Unmarshal(s.Redact(c.Plugins[keyauth.Name]), &shown)
		v.KeyPreview = shown.KeyPreview
	}
	if v.ExpiresAt != nil {
		t := v.ExpiresAt.UTC()
		v.ExpiresAt = &t
	}
	return v
}

// createGroupKey issues a key to user_id: the consumer is created in the group
// when missing, and placed in it when it belongs to no group. The key is a
// key-auth credential of the consumer (so Authorization: Bearer <key> works on
// every key-auth route), hashed at rest, shown once.
func (h *Handler) createGroupKey(w http.ResponseWriter, r *http.Request) {
	var in groupKeyBody
	if err := h.readJSON(w, r, &in); err != nil {
		h.fail(w, r, err, messages{})
		return
	}
	g, ok := h.consumerGroupIn(w, r)
	if !ok {
		return
	}
	var e validation.Error
	switch {
	case in.UserID == "":
		e.Add("user_id", "is required")
	case !consumer.ValidName(in.UserID):
		e.Add("user_id", "must match ^[a-zA-Z0-9_-]+$ and be at most 512 characters")
	}
	if in.ExpiresAt != nil && !in.ExpiresAt.After(h.now()) {
		e.Add("expires_at", "must be in the future")
	}
	if err := e.Err(); err != nil {
		h.fail(w, r, err, messages{})
		return
	}
	s, ok := h.scheme(keyauth.Name)
	if !ok {
		writeError(w, newError(http.StatusNotImplemented, codeNotImplemented, "the key-auth plugin is not registered on this server: consumer groups cannot issue keys"))
		return
	}
	key := keyauth.GenerateKey()
	settings, _ := json.Marshal(map[string]string{"key": key})
	sealed, err := s.Seal(settings, nil)
	if err != nil {
		h.fail(w, r, err, messages{})
		return
	}
	id := newID()
	// The consumer and its key are written together: a key that cannot be
	// stored leaves no consumer behind, nor one moved into the group.
	_, out, err := h.store.PutConsumerWithCredential(r.Context(), in.UserID, groupMember(in.UserID, g), id,
		func(*credential.Credential) (*credential.Credential, error) {
			return &credential.Credential{
				ID: id, Consumer: in.UserID, Name: "group-key-" + id, Enabled: true, ExpiresAt: in.ExpiresAt,
				Plugins: map[string]json.RawMessage{keyauth.Name: sealed.Stored}, Lookup: sealed.Lookup, ConsumerGroup: g.ID,
			}, nil
		})
	if err != nil {
		h.fail(w, r, err, messages{conflict: "the generated key collides with another credential; try again"})
		return
	}
	v := h.keyView(out)
	v.Key, v.KeyPreview = key, ""
	w.Header().Set("Location", location(r, "/api/v1/gateways/"+url.PathEscape(g.GatewayID)+"/consumer-groups/"+url.PathEscape(g.ID)+"/keys/"+url.PathEscape(id)))
	writeJSON(w, http.StatusCreated, v)
}

// groupMember is the consumer mutator that makes consumer username a member
// of g: a missing consumer is created in g, one without a group joins g, and
// one in another group is a conflict (a consumer belongs to one group).
func groupMember(username string, g *consumergroup.Group) store.Mutator[consumer.Consumer] {
	return func(cur *consumer.Consumer) (*consumer.Consumer, error) {
		switch {
		case cur == nil:
			return &consumer.Consumer{Username: username, GroupID: g.ID}, nil
		case cur.GroupID == "" || cur.GroupID == g.ID:
			cur.GroupID = g.ID
			return cur, nil
		}
		return nil, conflict{msg: fmt.Sprintf("consumer %q belongs to consumer group %q: move it (PATCH /api/consumers/%s) before issuing it this group's key", username, cur.GroupID, username), field: "user_id"}
	}
}

// consumerGroupConflict names the name field in the store's refusal of a
// consumer group whose name its gateway already holds. Other errors are
// returned as they are.
func consumerGroupConflict(err error, gatewayID string) error {
	var ce *store.ConflictError
	if errors.As(err, &ce) && ce.Rule == store.ConflictConsumerGroupName {
		return conflict{msg: groupMessages(gatewayID, ce.ID, ce.Name).conflict, field: "name"}
	}
	return err
}

// groupKey returns the key keyID that group groupID issued, reading the
// group's keys (a store query) page by page; store.ErrNotFound when there is
// none.
func (h *Handler) groupKey(ctx context.Context, groupID, keyID string) (*credential.Credential, error) {
	q := store.CredentialQuery{ConsumerGroup: groupID}
	opts := store.ListOptions{Limit: store.MaxListLimit}
	for {
		page, err := h.store.QueryCredentials(ctx, q, opts)
		if err != nil {
			return nil, err
		}
		for _, c := range page.Items {
			if c.ID == keyID {
				return c, nil
			}
		}
		if page.Next == "" {
			return nil, store.ErrNotFound
		}
		opts.Cursor = page.Next
	}
}

func (h *Handler) listGroupKeys(w http.ResponseWriter, r *http.Request) {
	opts, err := listOptions(r, false)
	if err != nil {
		h.fail(w, r, err, messages{})
		return
	}
	g, ok := h.consumerGroupIn(w, r)
	if !ok {
		return
	}
	page, err := h.store.QueryCredentials(r.Context(), store.CredentialQuery{ConsumerGroup: g.ID}, opts)
	if err != nil {
		h.fail(w, r, err, messages{})
		return
	}
	writeJSON(w, http.StatusOK, listOf(page, h.keyView))
}

func (h *Handler) deleteGroupKey(w http.ResponseWriter, r *http.Request) {
	g, ok := h.consumerGroupIn(w, r)
	if !ok {
		return
	}
	keyID := r.PathValue("key_id")
	msgs := messages{notFound: fmt.Sprintf("key %q not found in consumer group %q", keyID, g.ID)}
	key, err := h.groupKey(r.Context(), g.ID, keyID)
	if err != nil {
		h.fail(w, r, err, msgs)
		return
	}
	if err := h.store.DeleteCredential(r.Context(), key.Consumer, keyID); err != nil {
		h.fail(w, r, err, msgs)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
