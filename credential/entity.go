package credential

import (
	"errors"
	"strings"

	"github.com/gatehousehq/gatehouse/consumer"
)

// Entity kinds an authorized entity can name.
const (
	EntityGroup = "group"
	EntityRoute = "route"
	EntityAPI   = "api"
)

// MaxAuthorizedEntities is the most entries a credential's authorized
// entities may hold: the data plane interns every entry it is shown, keeps it,
// and builds a hash set per credential.
const MaxAuthorizedEntities = 1000

// ValidateEntity reports why s cannot be an entry of authorized_entities, or
// nil. An entry is an id (^[a-zA-Z0-9_-]+$, at most 512 characters), which
// may follow one of the prefixes group_, route_ or api_; a prefix alone
// ("group_") names nothing and is refused.
func ValidateEntity(s string) error {
	if s == "" {
		return errors.New("must not be empty")
	}
	for _, k := range [...]string{EntityGroup, EntityRoute, EntityAPI} {
		if rest, ok := strings.CutPrefix(s, k+"_"); ok {
			if rest == "" {
				return errors.New("names nothing after " + k + "_")
			}
			if consumer.ValidName(rest) {
				return nil
			}
		}
	}
	if !consumer.ValidName(s) {
		return errors.New("id must match ^[a-zA-Z0-9_-]+$")
	}
	return nil
}

// EntityNames returns the authorized-entity entries that name the object of
// kind (EntityGroup, EntityRoute or EntityAPI) whose id is id: "<kind>_<id>",
// and id itself when it already starts with "<kind>_", or when it is a group's
// whose id does not start with "route_" or "api_" (a bare id names a group,
// but an entry shaped like a route's or an API's reference never does). So a
// group "payment_apis" is named by "group_payment_apis" and "payment_apis"; a
// group "group_payment_apis" by "group_group_payment_apis" and
// "group_payment_apis"; a group "route_x" only by "group_route_x"; a route
// "route_checkout" by "route_route_checkout" and "route_checkout"; a route
// "checkout" only by "route_checkout".
func EntityNames(kind, id string) []string {
	prefixed := kind + "_" + id
	bare := strings.HasPrefix(id, kind+"_")
	if kind == EntityGroup {
		bare = !strings.HasPrefix(id, EntityRoute+"_") && !strings.HasPrefix(id, EntityAPI+"_")
	}
	if bare {
		return []string{prefixed, id}
	}
	return []string{prefixed}
}
