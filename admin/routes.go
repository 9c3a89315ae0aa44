package admin

import (
	"github.com/gatehousehq/gatehouse/check"
	"github.com/gatehousehq/gatehouse/route"
)

// validateRoute checks the route's fields and its plugins' settings, naming
// every invalid field.
func (h *Handler) validateRoute(rt *route.Route) error {
	return check.Route(h.reg, rt)
}
