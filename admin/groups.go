package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/gatehousehq/gatehouse/servicegroup"
)

func groupMessages(id string) messages {
	return messages{
		notFound: fmt.Sprintf("service group %q not found", id),
		conflict: fmt.Sprintf("a service group with id %q already exists", id),
	}
}

// groupView is what a response shows of a stored service group.
func groupView(g *servicegroup.Group) *servicegroup.Group {
	out := g.Clone()
	out.CreatedAt, out.UpdatedAt = out.CreatedAt.UTC(), out.UpdatedAt.UTC()
	return out
}

func (h *Handler) listGroups(w http.ResponseWriter, r *http.Request) {
	opts, err := readListOptions(r, false, true)
	if err != nil {
		h.fail(w, r, err, messages{})
		return
	}
	page, err := h.store.ListGroups(r.Context(), opts)
	if err != nil {
		h.fail(w, r, err, messages{})
		return
	}
	writeJSON(w, http.StatusOK, listOf(page, groupView))
}

func (h *Handler) getGroup(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	g, err := h.store.GetGroup(r.Context(), id)
	if err != nil {
		h.fail(w, r, err, groupMessages(id))
		return
	}
	writeJSON(w, http.StatusOK, groupView(g))
}

func (h *Handler) createGroup(w http.ResponseWriter, r *http.Request) {
	var in servicegroup.Group
	if err := h.readJSON(w, r, &in); err != nil {
		h.fail(w, r, err, messages{})
		return
	}
	if in.ID == "" {
		in.ID = newID()
	}
	in.CreatedAt, in.UpdatedAt = time.Time{}, time.Time{}
	if err := in.Validate(); err != nil {
		h.fail(w, r, err, messages{})
		return
	}
	msgs := groupMessages(in.ID)
	out, _, err := h.store.PutGroup(r.Context(), in.ID, func(cur *servicegroup.Group) (*servicegroup.Group, error) {
		if cur != nil {
			return nil, conflict{msg: msgs.conflict, field: "id"}
		}
		return in.Clone(), nil
	})
	if err != nil {
		h.fail(w, r, err, msgs)
		return
	}
	w.Header().Set("Location", location(r, "/api/groups/"+url.PathEscape(out.ID)))
	writeJSON(w, http.StatusCreated, groupView(out))
}

func (h *Handler) putGroup(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var in servicegroup.Group
	if err := h.readJSON(w, r, &in); err != nil {
		h.fail(w, r, err, messages{})
		return
	}
	if in.ID != "" && in.ID != id {
		h.fail(w, r, fieldMismatch("id", "id"), messages{})
		return
	}
	in.ID = id
	in.CreatedAt, in.UpdatedAt = time.Time{}, time.Time{}
	if err := in.Validate(); err != nil {
		h.fail(w, r, err, messages{})
		return
	}
	out, created, err := h.store.PutGroup(r.Context(), id, func(cur *servicegroup.Group) (*servicegroup.Group, error) {
		next := in.Clone()
		if cur != nil {
			next.CreatedAt, next.UpdatedAt = cur.CreatedAt, cur.UpdatedAt
		}
		return next, nil
	})
	if err != nil {
		h.fail(w, r, err, groupMessages(id))
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", location(r, "/api/groups/"+url.PathEscape(id)))
	}
	writeJSON(w, status, groupView(out))
}

func (h *Handler) patchGroup(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	apply, err := h.readPatch(w, r)
	if err != nil {
		h.fail(w, r, err, messages{})
		return
	}
	msgs := groupMessages(id)
	out, _, err := h.store.PutGroup(r.Context(), id, func(cur *servicegroup.Group) (*servicegroup.Group, error) {
		if cur == nil {
			return nil, notFound{msg: msgs.notFound}
		}
		doc, err := json.Marshal(cur)
		if err != nil {
			return nil, fmt.Errorf("admin: encode service group %q: %w", id, err)
		}
		if doc, err = apply(doc); err != nil {
			return nil, err
		}
		var next servicegroup.Group
		if err := decodeStrict(doc, &next); err != nil {
			return nil, err
		}
		next.ID = id // the URL wins: a patch never changes the id
		next.CreatedAt, next.UpdatedAt = cur.CreatedAt, cur.UpdatedAt
		if err := next.Validate(); err != nil {
			return nil, err
		}
		return &next, nil
	})
	if err != nil {
		h.fail(w, r, err, msgs)
		return
	}
	writeJSON(w, http.StatusOK, groupView(out))
}

func (h *Handler) deleteGroup(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := h.store.DeleteGroup(r.Context(), id); err != nil {
		h.fail(w, r, err, groupMessages(id))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
