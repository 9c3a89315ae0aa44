package consumer

import "context"

// Identity is what the gateway knows about the caller of a request once its
// authentication plugins have run. It is shared between requests: treat it as
// read-only.
type Identity struct {
	// Consumer is the authenticated (or anonymous) consumer.
	Consumer *Consumer
	// CredentialID is the id of the credential that authenticated the request;
	// empty for the anonymous consumer.
	CredentialID string
	// Anonymous is true when the request failed authentication and was let
	// through as a plugin's anonymous_consumer.
	Anonymous bool
}

type ctxKey struct{}

// NewContext returns a copy of ctx that carries id.
func NewContext(ctx context.Context, id *Identity) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// IdentityFromContext returns the identity stored in ctx by the gateway, if any.
func IdentityFromContext(ctx context.Context) (*Identity, bool) {
	id, ok := ctx.Value(ctxKey{}).(*Identity)
	return id, ok && id != nil
}

// FromContext returns the consumer that made the request, if the gateway
// authenticated one.
func FromContext(ctx context.Context) (*Consumer, bool) {
	id, ok := IdentityFromContext(ctx)
	if !ok || id.Consumer == nil {
		return nil, false
	}
	return id.Consumer, true
}

// IdentityContext is a context.Context that carries an Identity, like
// NewContext's result, for callers that embed it in a larger allocation (the
// gateway allocates it together with the request copy, one allocation per
// request instead of two). Set it up with Init before use.
type IdentityContext struct {
	context.Context
	id *Identity
}

// Init makes c carry id on top of parent.
func (c *IdentityContext) Init(parent context.Context, id *Identity) {
	c.Context, c.id = parent, id
}

// Value returns the identity for this package's key and asks the parent
// context otherwise.
func (c *IdentityContext) Value(key any) any {
	if key == (ctxKey{}) {
		return c.id
	}
	return c.Context.Value(key)
}

// String names the context for debugging, as the standard contexts do.
func (c *IdentityContext) String() string { return "consumer.IdentityContext" }
