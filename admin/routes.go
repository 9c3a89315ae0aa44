package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/validation"
)

func routeMessages(id string) messages {
	return messages{
		notFound: fmt.Sprintf("route %q not found", id),
		conflict: fmt.Sprintf("a route with id %q already exists", id),
	}
}

// validateRoute checks the route's fields and its plugins' settings, naming
// every invalid field.
func (h *Handler) validateRoute(rt *route.Route) error {
	var e validation.Error
	e.Merge("", rt.Validate())
	e.Merge("", h.reg.Validate("plugins", rt.Plugins))
	return e.Err()
}

// routeView is what a response shows of a stored route.
func routeView(rt *route.Route) *route.Route {
	out := rt.Clone()
	out.CreatedAt, out.UpdatedAt = out.CreatedAt.UTC(), out.UpdatedAt.UTC()
	return out
}

func (h *Handler) listRoutes(w http.ResponseWriter, r *http.Request) {
	opts, err := listOptions(r, false)
	if err != nil {
		h.fail(w, r, err, messages{})
		return
	}
	page, err := h.store.ListRoutes(r.Context(), opts)
	if err != nil {
		h.fail(w, r, err, messages{})
		return
	}
	writeJSON(w, http.StatusOK, listOf(page, routeView))
}

func (h *Handler) getRoute(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	rt, err := h.store.GetRoute(r.Context(), id)
	if err != nil {
		h.fail(w, r, err, routeMessages(id))
		return
	}
	writeJSON(w, http.StatusOK, routeView(rt))
}

func (h *Handler) createRoute(w http.ResponseWriter, r *http.Request) {
	var in route.Route
	if err := h.readJSON(w, r, &in); err != nil {
		h.fail(w, r, err, messages{})
		return
	}
	if in.ID == "" {
		in.ID = newID()
	}
	in.CreatedAt, in.UpdatedAt = time.Time{}, time.Time{}
	if err := h.validateRoute(&in); err != nil {
		h.fail(w, r, err, messages{})
		return
	}
	msgs := routeMessages(in.ID)
	out, _, err := h.store.PutRoute(r.Context(), in.ID, func(cur *route.Route) (*route.Route, error) {
		if cur != nil {
			return nil, conflict{msg: msgs.conflict, field: "id"}
		}
		return in.Clone(), nil
	})
	if err != nil {
		h.fail(w, r, err, msgs)
		return
	}
	w.Header().Set("Location", location(r, "/api/routes/"+url.PathEscape(out.ID)))
	writeJSON(w, http.StatusCreated, routeView(out))
}

func (h *Handler) putRoute(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var in route.Route
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
	if err := h.validateRoute(&in); err != nil {
		h.fail(w, r, err, messages{})
		return
	}
	out, created, err := h.store.PutRoute(r.Context(), id, func(cur *route.Route) (*route.Route, error) {
		next := in.Clone()
		if cur != nil {
			next.CreatedAt, next.UpdatedAt = cur.CreatedAt, cur.UpdatedAt
		}
		return next, nil
	})
	if err != nil {
		h.fail(w, r, err, routeMessages(id))
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", location(r, "/api/routes/"+url.PathEscape(id)))
	}
	writeJSON(w, status, routeView(out))
}

func (h *Handler) patchRoute(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	apply, err := h.readPatch(w, r)
	if err != nil {
		h.fail(w, r, err, messages{})
		return
	}
	msgs := routeMessages(id)
	out, _, err := h.store.PutRoute(r.Context(), id, func(cur *route.Route) (*route.Route, error) {
		if cur == nil {
			return nil, notFound{msg: msgs.notFound}
		}
		doc, err := json.Marshal(cur)
		if err != nil {
			return nil, fmt.Errorf("admin: encode route %q: %w", id, err)
		}
		if doc, err = apply(doc); err != nil {
			return nil, err
		}
		var next route.Route
		if err := decodeStrict(doc, &next); err != nil {
			return nil, err
		}
		next.ID = id // the URL wins: a patch never changes the id
		next.CreatedAt, next.UpdatedAt = cur.CreatedAt, cur.UpdatedAt
		if err := h.validateRoute(&next); err != nil {
			return nil, err
		}
		return &next, nil
	})
	if err != nil {
		h.fail(w, r, err, msgs)
		return
	}
	writeJSON(w, http.StatusOK, routeView(out))
}

func (h *Handler) deleteRoute(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := h.store.DeleteRoute(r.Context(), id); err != nil {
		h.fail(w, r, err, routeMessages(id))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
