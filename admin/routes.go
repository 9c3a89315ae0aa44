package admin

import (
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/validation"
)

// validateRoute checks the route's fields and its plugins' settings, naming
// every invalid field.
func (h *Handler) validateRoute(rt *route.Route) error {
	var e validation.Error
	e.Merge("", rt.Validate())
	e.Merge("", h.reg.Validate("plugins", rt.Plugins))
	return e.Err()
}
