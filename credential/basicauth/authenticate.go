package basicauth

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/gatehousehq/gatehouse/credential"
)

// stackDecoded is how many decoded bytes Authenticate keeps on the stack;
// longer credentials cost one allocation.
const stackDecoded = 256

// Authenticator is the compiled basic-auth plugin of one route.
type Authenticator struct {
	hide      bool
	anonymous string
	cache     *Cache
	cost      int
	// The failures, built once: another scheme is Missing (nothing of Basic
	// was presented) but answers MsgInvalid, as API.md says.
	missing     *credential.AuthError
	otherScheme *credential.AuthError
	malformed   *credential.AuthError
	invalidUser *credential.AuthError
	now         func() time.Time
}

// Name returns "basic-auth".
func (a *Authenticator) Name() string { return Name }

// AnonymousConsumer returns the consumer a failed request runs as, or "".
func (a *Authenticator) AnonymousConsumer() string { return a.anonymous }

// InvalidError is the failure for a consumer that cannot be used (the
// anonymous consumer missing, for example).
func (a *Authenticator) InvalidError() *credential.AuthError { return a.invalidUser }

// Authenticate finds in idx the credential whose username the request's
// Authorization: Basic header names and checks its password. It returns a
// *credential.AuthError when there is none or it is not usable. A check that
// succeeded recently for the same username and password, against the same
// live credential, is answered from the cache without bcrypt. With
// hide_credentials, the Authorization header is removed once accepted.
func (a *Authenticator) Authenticate(r *http.Request, idx *credential.Index) (*credential.Match, error) {
	v := r.Header["Authorization"]
	if len(v) == 0 || v[0] == "" {
		return nil, a.missing
	}
	tok, ok := basicToken(v[0])
	if !ok {
		return nil, a.otherScheme
	}
	// buf is the lookup prefix followed by the decoded "username:password", so
	// that the lookup "basic-auth:<username>" is a prefix of it.
	var stack [len(lookupPrefix) + stackDecoded]byte
	copy(stack[:], lookupPrefix)
	pair, colon, ok := decodePair(tok, stack[len(lookupPrefix):len(lookupPrefix)])
	if !ok {
		debug(r.Context(), "basic-auth: malformed credentials")
		return nil, a.malformed
	}
	var lookup []byte
	if &pair[0] == &stack[len(lookupPrefix)] {
		lookup = stack[:len(lookupPrefix)+colon]
	} else { // decoded on the heap: too long for the stack buffer
		lookup = append([]byte(lookupPrefix), pair[:colon]...)
	}
	password := pair[colon+1:]

	m, found := idx.Find(lookup)
	if !found {
		// Pay what a wrong password costs, so that timing does not tell
		// which usernames exist.
		checkPassword(dummyHash(a.cost), password)
		debug(r.Context(), "basic-auth: unknown username")
		return nil, a.invalidUser
	}
	key := a.cache.keyOf(pair)
	cached := a.cache.get(&key)
	if cached == m {
		if !m.Credential.Usable(a.now) {
			debug(r.Context(), "basic-auth: credential disabled or expired", "credential", m.Credential.ID)
			return nil, a.invalidUser
		}
		return a.accept(r, m), nil
	}
	hash, ok := m.Secret.([]byte)
	if !ok { // a view built without the Compiler: read the stored hash
		var err error
		if hash, err = storedHash(m.Credential.Plugins[Name]); err != nil {
			slog.Default().Error("basic-auth: credential has no usable hash", "credential", m.Credential.ID, "err", err)
			return nil, a.invalidUser
		}
	}
	if !checkPassword(hash, password) {
		if cached != nil { // verified against a credential since changed
			a.cache.forget(&key)
		}
		debug(r.Context(), "basic-auth: wrong password", "credential", m.Credential.ID)
		return nil, a.invalidUser
	}
	if !m.Credential.Usable(a.now) {
		debug(r.Context(), "basic-auth: credential disabled or expired", "credential", m.Credential.ID)
		return nil, a.invalidUser
	}
	a.cache.put(&key, m)
	return a.accept(r, m), nil
}

func (a *Authenticator) accept(r *http.Request, m *credential.Match) *credential.Match {
	if a.hide {
		delete(r.Header, "Authorization")
	}
	return m
}

// debug logs the precise reason of a failure; never a secret.
func debug(ctx context.Context, msg string, args ...any) {
	if l := slog.Default(); l.Enabled(ctx, slog.LevelDebug) {
		l.DebugContext(ctx, msg, args...)
	}
}
