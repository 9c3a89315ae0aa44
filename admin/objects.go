package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/servicegroup"
	"github.com/gatehousehq/gatehouse/store"
)

// objects describes a stored kind keyed by an "id" field alone (routes,
// service groups), so that one set of handlers serves its list, create, get,
// replace, patch and delete exactly alike.
type objects[T any] struct {
	kind     string // "route", for messages
	path     string // "/api/routes/", for Location
	tag      bool   // lists take ?tag=
	fields   func(*T) (id *string, created, updated *time.Time)
	validate func(*T) error
	clone    func(*T) *T
	get      func(ctx context.Context, id string) (*T, error)
	put      func(ctx context.Context, id string, fn store.Mutator[T]) (*T, bool, error)
	del      func(ctx context.Context, id string) error
	list     func(ctx context.Context, opts store.ListOptions) (store.Page[T], error)
}

func (o *objects[T]) messages(id string) messages {
	return messages{
		notFound: fmt.Sprintf("%s %q not found", o.kind, id),
		conflict: fmt.Sprintf("a %s with id %q already exists", o.kind, id),
	}
}

// view is what a response shows of a stored object: a copy, times in UTC.
func (o *objects[T]) view(v *T) *T {
	out := o.clone(v)
	_, created, updated := o.fields(out)
	*created, *updated = created.UTC(), updated.UTC()
	return out
}

func (o *objects[T]) handleList(h *Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		opts, err := readListOptions(r, false, o.tag)
		if err != nil {
			h.fail(w, r, err, messages{})
			return
		}
		page, err := o.list(r.Context(), opts)
		if err != nil {
			h.fail(w, r, err, messages{})
			return
		}
		writeJSON(w, http.StatusOK, listOf(page, o.view))
	}
}

func (o *objects[T]) handleGet(h *Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		v, err := o.get(r.Context(), id)
		if err != nil {
			h.fail(w, r, err, o.messages(id))
			return
		}
		writeJSON(w, http.StatusOK, o.view(v))
	}
}

// read decodes a body and prepares it for writing under id ("" on create:
// generated when the body has none).
func (o *objects[T]) read(h *Handler, w http.ResponseWriter, r *http.Request, id string) (*T, error) {
	var in T
	if err := h.readJSON(w, r, &in); err != nil {
		return nil, err
	}
	got, created, updated := o.fields(&in)
	switch {
	case id == "" && *got == "":
		*got = newID()
	case id != "" && *got != "" && *got != id:
		return nil, fieldMismatch("id", "id")
	case id != "":
		*got = id
	}
	*created, *updated = time.Time{}, time.Time{}
	if err := o.validate(&in); err != nil {
		return nil, err
	}
	return &in, nil
}

func (o *objects[T]) handleCreate(h *Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		in, err := o.read(h, w, r, "")
		if err != nil {
			h.fail(w, r, err, messages{})
			return
		}
		id, _, _ := o.fields(in)
		msgs := o.messages(*id)
		out, _, err := o.put(r.Context(), *id, func(cur *T) (*T, error) {
			if cur != nil {
				return nil, conflict{msg: msgs.conflict, field: "id"}
			}
			return o.clone(in), nil
		})
		if err != nil {
			h.fail(w, r, err, msgs)
			return
		}
		w.Header().Set("Location", location(r, o.path+url.PathEscape(*id)))
		writeJSON(w, http.StatusCreated, o.view(out))
	}
}

func (o *objects[T]) handlePut(h *Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		in, err := o.read(h, w, r, id)
		if err != nil {
			h.fail(w, r, err, messages{})
			return
		}
		out, created, err := o.put(r.Context(), id, func(cur *T) (*T, error) {
			next := o.clone(in)
			if cur != nil {
				o.keepTimes(next, cur)
			}
			return next, nil
		})
		if err != nil {
			h.fail(w, r, err, o.messages(id))
			return
		}
		status := http.StatusOK
		if created {
			status = http.StatusCreated
			w.Header().Set("Location", location(r, o.path+url.PathEscape(id)))
		}
		writeJSON(w, status, o.view(out))
	}
}

func (o *objects[T]) keepTimes(next, cur *T) {
	_, nc, nu := o.fields(next)
	_, cc, cu := o.fields(cur)
	*nc, *nu = *cc, *cu
}

func (o *objects[T]) handlePatch(h *Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		apply, err := h.readPatch(w, r)
		if err != nil {
			h.fail(w, r, err, messages{})
			return
		}
		msgs := o.messages(id)
		out, _, err := o.put(r.Context(), id, func(cur *T) (*T, error) {
			if cur == nil {
				return nil, notFound{msg: msgs.notFound}
			}
			doc, err := json.Marshal(cur)
			if err != nil {
				return nil, fmt.Errorf("admin: encode %s %q: %w", o.kind, id, err)
			}
			if doc, err = apply(doc); err != nil {
				return nil, err
			}
			var next T
			if err := decodeStrict(doc, &next); err != nil {
				return nil, err
			}
			got, _, _ := o.fields(&next)
			*got = id // the URL wins: a patch never changes the id
			o.keepTimes(&next, cur)
			if err := o.validate(&next); err != nil {
				return nil, err
			}
			return &next, nil
		})
		if err != nil {
			h.fail(w, r, err, msgs)
			return
		}
		writeJSON(w, http.StatusOK, o.view(out))
	}
}

func (o *objects[T]) handleDelete(h *Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if err := o.del(r.Context(), id); err != nil {
			h.fail(w, r, err, o.messages(id))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// register serves the kind's six endpoints under base ("/api/routes").
func (o *objects[T]) register(m *mux, h *Handler, base string) {
	m.HandleFunc("GET "+base, o.handleList(h))
	m.HandleFunc("POST "+base, o.handleCreate(h))
	m.HandleFunc("GET "+base+"/{id}", o.handleGet(h))
	m.HandleFunc("PUT "+base+"/{id}", o.handlePut(h))
	m.HandleFunc("PATCH "+base+"/{id}", o.handlePatch(h))
	m.HandleFunc("DELETE "+base+"/{id}", o.handleDelete(h))
}

func (h *Handler) routeObjects() *objects[route.Route] {
	return &objects[route.Route]{
		kind: "route", path: "/api/routes/",
		fields:   func(r *route.Route) (*string, *time.Time, *time.Time) { return &r.ID, &r.CreatedAt, &r.UpdatedAt },
		validate: h.validateRoute,
		clone:    (*route.Route).Clone,
		get:      h.store.GetRoute, put: h.store.PutRoute, del: h.store.DeleteRoute, list: h.store.ListRoutes,
	}
}

func (h *Handler) groupObjects() *objects[servicegroup.Group] {
	return &objects[servicegroup.Group]{
		kind: "service group", path: "/api/groups/", tag: true,
		fields: func(g *servicegroup.Group) (*string, *time.Time, *time.Time) {
			return &g.ID, &g.CreatedAt, &g.UpdatedAt
		},
		validate: (*servicegroup.Group).Validate,
		clone:    (*servicegroup.Group).Clone,
		get:      h.store.GetGroup, put: h.store.PutGroup, del: h.store.DeleteGroup, list: h.store.ListGroups,
	}
}
