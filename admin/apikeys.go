package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/credential/apikey"
	"github.com/gatehousehq/gatehouse/store"
	"github.com/gatehousehq/gatehouse/validation"
)

// API keys (Otoroshi) are credentials of the apikey-auth scheme, shown in
// Otoroshi's wire format. A key's credential has ID = Name = clientId (so
// that clientName may repeat among a consumer's keys); clientName and the
// other Otoroshi fields live in the credential's apikey-auth settings.

const codeNotImplemented = "not_implemented"

// Label put on the consumer created for an API key that names none; the key
// deletes it when it goes (if the consumer holds nothing else by then).
const (
	ownedLabel = "gatehouse.apikey"
	ownedValue = "owned"
)

// apiKeyBody is the wire form of an API key, in and out.
type apiKeyBody struct {
	ClientID           string            `json:"clientId"`
	ClientSecret       string            `json:"clientSecret,omitempty"`
	ClientName         string            `json:"clientName"`
	Description        string            `json:"description,omitempty"`
	AuthorizedEntities []string          `json:"authorizedEntities"`
	Enabled            *bool             `json:"enabled"`
	ReadOnly           bool              `json:"readOnly"`
	AllowClientIDOnly  bool              `json:"allowClientIdOnly"`
	ValidUntil         json.RawMessage   `json:"validUntil"`
	ThrottlingQuota    json.RawMessage   `json:"throttlingQuota"`
	DailyQuota         json.RawMessage   `json:"dailyQuota"`
	MonthlyQuota       json.RawMessage   `json:"monthlyQuota"`
	Rotation           *apikey.Rotation  `json:"rotation"`
	RotatedAt          *int64            `json:"rotatedAt,omitempty"` // read-only
	Tags               []string          `json:"tags"`
	Metadata           map[string]string `json:"metadata"`
	Consumer           string            `json:"consumer"`
	CreatedAt          *time.Time        `json:"created_at,omitempty"` // read-only
	UpdatedAt          *time.Time        `json:"updated_at,omitempty"` // read-only
}

func apiKeyMessages(clientID string) messages {
	return messages{
		notFound: fmt.Sprintf("API key %q not found", clientID),
		conflict: fmt.Sprintf("API key %q conflicts with another credential", clientID),
	}
}

// rawInt reads a JSON integer or null: nil for null or absent.
func rawInt(raw json.RawMessage, field string, e *validation.Error) *int64 {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		e.Add(field, "must be a non-negative integer or null")
		return nil
	}
	return &n
}

func rawOf(n *int64) json.RawMessage {
	if n == nil {
		return json.RawMessage("null")
	}
	return json.RawMessage(strconv.FormatInt(*n, 10))
}

// apiKeyCredential validates in (whose ClientID is set) and returns the
// credential to seal, with its apikey-auth settings in clear. The error names
// every invalid field.
func apiKeyCredential(in *apiKeyBody) (*credential.Credential, error) {
	var e validation.Error
	if strings.TrimSpace(in.ClientName) == "" {
		e.Add("clientName", "is required")
	}
	if in.Consumer != "" && !consumer.ValidName(in.Consumer) {
		e.Add("consumer", "must match ^[a-zA-Z0-9_-]+$ and be at most 512 characters")
	}
	if n := len(in.AuthorizedEntities); n > credential.MaxAuthorizedEntities {
		e.Add("authorizedEntities", fmt.Sprintf("must have at most %d entries, not %d", credential.MaxAuthorizedEntities, n))
	}
	for i, ent := range in.AuthorizedEntities {
		if err := credential.ValidateEntity(ent); err != nil {
			e.Add("authorizedEntities", "entry "+strconv.Itoa(i)+": "+err.Error())
			break
		}
	}
	s := apikey.Settings{
		ClientID:          in.ClientID,
		ClientSecret:      in.ClientSecret,
		ClientName:        in.ClientName,
		Description:       in.Description,
		ReadOnly:          in.ReadOnly,
		AllowClientIDOnly: in.AllowClientIDOnly,
		ValidUntil:        rawInt(in.ValidUntil, "validUntil", &e),
		ThrottlingQuota:   rawInt(in.ThrottlingQuota, "throttlingQuota", &e),
		DailyQuota:        rawInt(in.DailyQuota, "dailyQuota", &e),
		MonthlyQuota:      rawInt(in.MonthlyQuota, "monthlyQuota", &e),
		Tags:              in.Tags,
		Metadata:          in.Metadata,
	}
	if in.Rotation != nil {
		s.Rotation = *in.Rotation
	}
	e.Merge("", s.Validate())
	if err := e.Err(); err != nil {
		return nil, err
	}
	settings, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("admin: encode API key settings: %w", err)
	}
	c := &credential.Credential{
		ID:                 in.ClientID,
		Name:               in.ClientID,
		Plugins:            map[string]json.RawMessage{apikey.Name: settings},
		AuthorizedEntities: in.AuthorizedEntities,
		Enabled:            in.Enabled == nil || *in.Enabled,
	}
	if s.ValidUntil != nil {
		t := time.UnixMilli(*s.ValidUntil).UTC()
		c.ExpiresAt = &t
	}
	return c, nil
}

// sealAPIKey seals the settings of next with the registered apikey-auth
// scheme; prev is the stored credential being replaced, or nil.
func (h *Handler) sealAPIKey(next, prev *credential.Credential) (json.RawMessage, error) {
	s, ok := h.scheme(apikey.Name)
	if !ok {
		return nil, newError(http.StatusNotImplemented, codeNotImplemented, "the apikey-auth plugin is not registered on this server")
	}
	var prevSettings json.RawMessage
	if prev != nil && prev.Scheme() == apikey.Name {
		prevSettings = prev.Plugins[apikey.Name]
		next.CreatedAt, next.UpdatedAt = prev.CreatedAt, prev.UpdatedAt
	}
	sealed, err := s.Seal(next.Plugins[apikey.Name], prevSettings)
	if err != nil {
		var ve *validation.Error
		if errors.As(err, &ve) {
			return nil, err
		}
		return nil, fmt.Errorf("admin: seal API key %q: %w", next.ID, err)
	}
	next.Plugins = map[string]json.RawMessage{apikey.Name: sealed.Stored}
	next.Lookup = sealed.Lookup
	return sealed.Reveal, nil
}

// apiKeyView is what a response shows of a stored API key: never its secret,
// except reveal (the settings with a generated secret) in the response to the
// write that generated it.
func (h *Handler) apiKeyView(c *credential.Credential, reveal json.RawMessage) apiKeyBody {
	raw := reveal
	if raw == nil {
		if s, ok := h.scheme(apikey.Name); ok {
			raw = s.Redact(c.Plugins[apikey.Name])
		}
	}
	var s apikey.Settings
	_ = json.Unmarshal(raw, &s)
	if reveal == nil {
		s.ClientSecret = ""
	}
	enabled := c.Enabled
	created, updated := c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	rot := s.Rotation
	out := apiKeyBody{
		ClientID:           s.ClientID,
		ClientSecret:       s.ClientSecret,
		ClientName:         s.ClientName,
		Description:        s.Description,
		AuthorizedEntities: c.AuthorizedEntities,
		Enabled:            &enabled,
		ReadOnly:           s.ReadOnly,
		AllowClientIDOnly:  s.AllowClientIDOnly,
		ValidUntil:         rawOf(s.ValidUntil),
		ThrottlingQuota:    rawOf(s.ThrottlingQuota),
		DailyQuota:         rawOf(s.DailyQuota),
		MonthlyQuota:       rawOf(s.MonthlyQuota),
		Rotation:           &rot,
		RotatedAt:          s.RotatedAt,
		Tags:               s.Tags,
		Metadata:           s.Metadata,
		Consumer:           c.Consumer,
		CreatedAt:          &created,
		UpdatedAt:          &updated,
	}
	if out.AuthorizedEntities == nil {
		out.AuthorizedEntities = []string{}
	}
	if out.Tags == nil {
		out.Tags = []string{}
	}
	if out.Metadata == nil {
		out.Metadata = map[string]string{}
	}
	return out
}

// findAPIKey returns the stored API key clientID, whichever consumer holds it.
func (h *Handler) findAPIKey(ctx context.Context, clientID string) (*credential.Credential, error) {
	if !consumer.ValidName(clientID) {
		return nil, notFound{msg: apiKeyMessages(clientID).notFound}
	}
	c, err := h.store.FindCredential(ctx, apikey.LookupPrefix+clientID)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// readAPIKey decodes a POST or PUT body.
func (h *Handler) readAPIKey(w http.ResponseWriter, r *http.Request) (*apiKeyBody, error) {
	var in apiKeyBody
	if err := h.readJSON(w, r, &in); err != nil {
		return nil, err
	}
	return &in, nil
}

// writeAPIKey stores the API key in under username: a new one when create is
// true (409 when it exists), otherwise a replacement of what the store
// holds. It answers with the stored key; status 201 when it was created.
//
// credID is the credential's id: the clientId for keys made here, or the id
// of a key written through the generic credentials endpoint; such a key
// also keeps its credential name.
func (h *Handler) writeAPIKey(w http.ResponseWriter, r *http.Request, username, credID string, in *apiKeyBody, create, mustExist bool) {
	var reveal json.RawMessage
	out, created, err := h.store.PutCredential(r.Context(), username, credID, h.apiKeyMutator(username, in, create, mustExist, &reveal))
	if err != nil {
		h.failAPIKey(w, r, err, username, in.ClientID)
		return
	}
	h.answerAPIKey(w, r, in.ClientID, out, created, reveal)
}

// apiKeyMutator returns the mutator that writes in as a credential of
// username, validated and sealed; see writeAPIKey. The mutator sets *reveal
// to the settings with a generated secret, if any.
func (h *Handler) apiKeyMutator(username string, in *apiKeyBody, create, mustExist bool, reveal *json.RawMessage) store.Mutator[credential.Credential] {
	id := in.ClientID
	return func(cur *credential.Credential) (*credential.Credential, error) {
		*reveal = nil
		switch {
		case cur != nil && create:
			return nil, conflict{msg: fmt.Sprintf("an API key with clientId %q already exists", id), field: "clientId"}
		case cur != nil && cur.Scheme() != apikey.Name:
			return nil, conflict{msg: fmt.Sprintf("consumer %q already has a credential %q that is not an API key", username, id), field: "clientId"}
		case cur == nil && mustExist:
			return nil, notFound{msg: apiKeyMessages(id).notFound}
		}
		next, err := apiKeyCredential(in)
		if err != nil {
			return nil, err
		}
		if cur != nil {
			next.ID, next.Name = cur.ID, cur.Name
		}
		if *reveal, err = h.sealAPIKey(next, cur); err != nil {
			return nil, err
		}
		return next, nil
	}
}

// failAPIKey answers the failed write of API key clientID under username.
// The store's conflicts name the clientId: a credential of the consumer
// already has it as its name, or another credential has it as its key.
func (h *Handler) failAPIKey(w http.ResponseWriter, r *http.Request, err error, username, clientID string) {
	var ce *store.ConflictError
	if errors.As(err, &ce) {
		switch ce.Rule {
		case store.ConflictCredentialName:
			err = conflict{msg: fmt.Sprintf("consumer %q already has a credential named %q", ce.Consumer, ce.Name), field: "clientId"}
		case store.ConflictCredentialLookup:
			err = conflict{msg: fmt.Sprintf("the clientId %q is already in use by another credential", clientID), field: "clientId"}
		}
	}
	h.fail(w, r, err, messages{notFound: consumerMessages(username).notFound, conflict: apiKeyMessages(clientID).conflict})
}

// answerAPIKey answers with the stored key clientID; 201 when it was created.
func (h *Handler) answerAPIKey(w http.ResponseWriter, r *http.Request, clientID string, out *credential.Credential, created bool, reveal json.RawMessage) {
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", location(r, "/api/apikeys/"+url.PathEscape(clientID)))
	}
	writeJSON(w, status, h.apiKeyView(out, reveal))
}

// createAPIKeyFor creates in, adding group to its authorized entities when
// group is not empty. A key that names no consumer is created with its own
// consumer, in one atomic write: when the key cannot be stored, the consumer
// is not either.
func (h *Handler) createAPIKeyFor(w http.ResponseWriter, r *http.Request, in *apiKeyBody) {
	ctx := r.Context()
	if in.ClientID == "" {
		in.ClientID = newID()
	}
	var e validation.Error
	if !consumer.ValidName(in.ClientID) {
		e.Add("clientId", "must match ^[a-zA-Z0-9_-]+$ and be at most 512 characters")
	}
	if _, err := apiKeyCredential(in); err != nil {
		e.Merge("", err)
	}
	if err := e.Err(); err != nil {
		h.fail(w, r, err, messages{})
		return
	}
	if _, err := h.findAPIKey(ctx, in.ClientID); err == nil {
		h.fail(w, r, conflict{msg: fmt.Sprintf("an API key with clientId %q already exists", in.ClientID), field: "clientId"}, messages{})
		return
	} else if !errors.Is(err, store.ErrNotFound) {
		h.fail(w, r, err, messages{})
		return
	}
	username := in.Consumer
	if username == "" {
		username = in.ClientID
		var reveal json.RawMessage
		_, out, err := h.store.PutConsumerWithCredential(ctx, username, func(cur *consumer.Consumer) (*consumer.Consumer, error) {
			if cur != nil {
				return nil, conflict{msg: fmt.Sprintf("a consumer named %q already exists: name it in consumer, or choose another clientId", username), field: "consumer"}
			}
			return &consumer.Consumer{Username: username, Desc: "owner of API key " + in.ClientID, Labels: map[string]string{ownedLabel: ownedValue}}, nil
		}, in.ClientID, h.apiKeyMutator(username, in, true, false, &reveal))
		if err != nil {
			h.failAPIKey(w, r, err, username, in.ClientID)
			return
		}
		h.answerAPIKey(w, r, in.ClientID, out, true, reveal)
		return
	}
	if _, err := h.store.GetConsumer(ctx, username); errors.Is(err, store.ErrNotFound) {
		h.fail(w, r, validation.Field("consumer", "names no existing consumer"), messages{})
		return
	}
	h.writeAPIKey(w, r, username, in.ClientID, in, true, false)
}

func (h *Handler) createAPIKey(w http.ResponseWriter, r *http.Request) {
	in, err := h.readAPIKey(w, r)
	if err != nil {
		h.fail(w, r, err, messages{})
		return
	}
	h.createAPIKeyFor(w, r, in)
}

func (h *Handler) getAPIKey(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("clientId")
	c, err := h.findAPIKey(r.Context(), id)
	if err != nil {
		h.fail(w, r, err, apiKeyMessages(id))
		return
	}
	writeJSON(w, http.StatusOK, h.apiKeyView(c, nil))
}

// ownerFor returns the consumer a replacement of key id writes under: the
// current owner, which in.Consumer may name but not change.
func ownerFor(in *apiKeyBody, cur *credential.Credential) (string, error) {
	if in.Consumer != "" && in.Consumer != cur.Consumer {
		return "", badRequest("an API key cannot move to another consumer: delete it and create it again",
			map[string]string{"consumer": "must be " + strconv.Quote(cur.Consumer) + " or omitted"})
	}
	return cur.Consumer, nil
}

func (h *Handler) putAPIKey(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("clientId")
	in, err := h.readAPIKey(w, r)
	if err != nil {
		h.fail(w, r, err, messages{})
		return
	}
	if in.ClientID != "" && in.ClientID != id {
		h.fail(w, r, fieldMismatch("clientId", "clientId"), messages{})
		return
	}
	in.ClientID = id
	cur, err := h.findAPIKey(r.Context(), id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		h.createAPIKeyFor(w, r, in)
		return
	case err != nil:
		h.fail(w, r, err, apiKeyMessages(id))
		return
	}
	username, err := ownerFor(in, cur)
	if err != nil {
		h.fail(w, r, err, messages{})
		return
	}
	h.writeAPIKey(w, r, username, cur.ID, in, false, true)
}

func (h *Handler) patchAPIKey(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("clientId")
	apply, err := h.readPatch(w, r)
	if err != nil {
		h.fail(w, r, err, messages{})
		return
	}
	cur, err := h.findAPIKey(r.Context(), id)
	if err != nil {
		h.fail(w, r, err, apiKeyMessages(id))
		return
	}
	// The patch applies to what GET shows: the secret is not in it, and the
	// scheme keeps the stored one unless the patch sends a clientSecret.
	doc, err := json.Marshal(h.apiKeyView(cur, nil))
	if err != nil {
		h.fail(w, r, fmt.Errorf("admin: encode API key %q: %w", id, err), messages{})
		return
	}
	if doc, err = apply(doc); err != nil {
		h.fail(w, r, err, messages{})
		return
	}
	var in apiKeyBody
	if err := decodeStrict(doc, &in); err != nil {
		h.fail(w, r, err, messages{})
		return
	}
	in.ClientID = id // the URL wins: a patch never changes the id
	username, err := ownerFor(&in, cur)
	if err != nil {
		h.fail(w, r, err, messages{})
		return
	}
	h.writeAPIKey(w, r, username, cur.ID, &in, false, true)
}

func (h *Handler) deleteAPIKey(w http.ResponseWriter, r *http.Request) {
	ctx, id := r.Context(), r.PathValue("clientId")
	cur, err := h.findAPIKey(ctx, id)
	if err != nil {
		h.fail(w, r, err, apiKeyMessages(id))
		return
	}
	if err := h.store.DeleteCredential(ctx, cur.Consumer, cur.ID); err != nil {
		h.fail(w, r, err, apiKeyMessages(id))
		return
	}
	// A key created again under this clientId starts with fresh quotas.
	if h.quotas != nil {
		if err := apikey.ResetQuotas(ctx, h.quotas, id); err != nil {
			h.log.WarnContext(ctx, "admin: deleted API key keeps its quota counts", "clientId", id, "err", err)
		}
	}
	// The consumer created with the key goes with it, unless it holds
	// something else by now.
	if c, err := h.store.GetConsumer(ctx, cur.Consumer); err == nil && c.Username == id && c.Labels[ownedLabel] == ownedValue {
		if page, err := h.store.ListCredentials(ctx, c.Username, store.ListOptions{Limit: 1}); err == nil && page.Total == 0 {
			if err := h.store.DeleteConsumer(ctx, c.Username); err != nil && !errors.Is(err, store.ErrNotFound) {
				h.fail(w, r, err, messages{})
				return
			}
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// getAPIKeyQuotas answers GET /api/apikeys/{clientId}/quotas: the key's
// quota usage, read from the limiter without charging (apikey.QuotaState).
func (h *Handler) getAPIKeyQuotas(w http.ResponseWriter, r *http.Request) {
	ctx, id := r.Context(), r.PathValue("clientId")
	cur, ok := h.quotaKey(w, r, id)
	if !ok {
		return
	}
	state, err := apikey.ReadQuotas(ctx, h.quotas, cur.Plugins[apikey.Name], h.now())
	if err != nil {
		h.fail(w, r, err, messages{})
		return
	}
	writeJSON(w, http.StatusOK, state)
}

// resetAPIKeyQuotas answers DELETE /api/apikeys/{clientId}/quotas: every
// count of the key starts again from zero; the new (empty) usage is returned.
func (h *Handler) resetAPIKeyQuotas(w http.ResponseWriter, r *http.Request) {
	ctx, id := r.Context(), r.PathValue("clientId")
	cur, ok := h.quotaKey(w, r, id)
	if !ok {
		return
	}
	if err := apikey.ResetQuotas(ctx, h.quotas, id); err != nil {
		h.fail(w, r, err, messages{})
		return
	}
	state, err := apikey.ReadQuotas(ctx, h.quotas, cur.Plugins[apikey.Name], h.now())
	if err != nil {
		h.fail(w, r, err, messages{})
		return
	}
	writeJSON(w, http.StatusOK, state)
}

// quotaKey finds API key id for the quota endpoints, answering 404 for an
// unknown key and 501 when no limiter keeps quotas.
func (h *Handler) quotaKey(w http.ResponseWriter, r *http.Request, id string) (*credential.Credential, bool) {
	cur, err := h.findAPIKey(r.Context(), id)
	if err != nil {
		h.fail(w, r, err, apiKeyMessages(id))
		return nil, false
	}
	if h.quotas == nil {
		writeError(w, newError(http.StatusNotImplemented, codeNotImplemented,
			"this server's limiter does not keep quotas: give the admin handler one with admin.WithQuotaCounter"))
		return nil, false
	}
	return cur, true
}

// listAPIKeysWhere answers a page of the API keys that q selects (its
// LookupPrefix is set here), ordered by clientId: a store query.
func (h *Handler) listAPIKeysWhere(w http.ResponseWriter, r *http.Request, q store.CredentialQuery) {
	opts, err := listOptions(r, false)
	if err != nil {
		h.fail(w, r, err, messages{})
		return
	}
	q.LookupPrefix = apikey.LookupPrefix
	page, err := h.store.QueryCredentials(r.Context(), q, opts)
	if err != nil {
		h.fail(w, r, err, messages{})
		return
	}
	writeJSON(w, http.StatusOK, listOf(page, func(c *credential.Credential) apiKeyBody { return h.apiKeyView(c, nil) }))
}

func (h *Handler) listAPIKeys(w http.ResponseWriter, r *http.Request) {
	h.listAPIKeysWhere(w, r, store.CredentialQuery{})
}

// groupNamed returns whether ents authorize group id (credential.EntityNames).
func groupNamed(ents []string, id string) bool {
	for _, name := range credential.EntityNames(credential.EntityGroup, id) {
		if slices.Contains(ents, name) {
			return true
		}
	}
	return false
}

func (h *Handler) listGroupAPIKeys(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, err := h.store.GetGroup(r.Context(), id); err != nil {
		h.fail(w, r, err, h.groupObjects().messages(id))
		return
	}
	h.listAPIKeysWhere(w, r, store.CredentialQuery{AnyEntity: credential.EntityNames(credential.EntityGroup, id)})
}

func (h *Handler) createGroupAPIKey(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	in, err := h.readAPIKey(w, r)
	if err != nil {
		h.fail(w, r, err, messages{})
		return
	}
	if _, err := h.store.GetGroup(r.Context(), id); err != nil {
		h.fail(w, r, err, h.groupObjects().messages(id))
		return
	}
	if !groupNamed(in.AuthorizedEntities, id) {
		in.AuthorizedEntities = append(in.AuthorizedEntities, "group_"+id)
	}
	h.createAPIKeyFor(w, r, in)
}
