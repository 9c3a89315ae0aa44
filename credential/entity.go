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

// ParseEntity splits an authorized entity into its kind and id:
// "group_x", "route_x", "api_x", or a bare id, which names a group.
func ParseEntity(s string) (kind, id string, err error) {
	if s == "" {
		return "", "", errors.New("must not be empty")
	}
	kind, id = EntityGroup, s
	for _, k := range [...]string{EntityGroup, EntityRoute, EntityAPI} {
		if rest, ok := strings.CutPrefix(s, k+"_"); ok {
			kind, id = k, rest
			break
		}
	}
	if !consumer.ValidName(id) {
		return "", "", errors.New("id must match ^[a-zA-Z0-9_-]+$")
	}
	return kind, id, nil
}
