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
	limiter   *Limiter
	cost      int
	// The failures, built once: another scheme is Missing (nothing of Basic
	// was presented) but answers MsgInvalid, as API.md says.
	missing     *credential.AuthError
	otherScheme *credential.AuthError
	malformed   *credential.AuthError
	invalidUser *credential.AuthError
	busy        *credential.AuthError
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
// *credential.AuthError when there is none or it is not usable. A pair
// (username, password) checked recently against the credential the index
// still holds is answered from the cache without bcrypt, success or failure.
// Otherwise the check takes a slot of the Limiter; when none is free the
// answer is 503 with Retry-After, without waiting for one. Every refusal of a
// password check is returned once the Limiter's refusal delay has passed.
// With hide_credentials, the Authorization header is removed once accepted.
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
		debug(r.Context(), "basic-auth: malformed credentials", "")
		return nil, a.malformed
	}
	var lookup []byte
	if &pair[0] == &stack[len(lookupPrefix)] {
		lookup = stack[:len(lookupPrefix)+colon]
	} else { // decoded on the heap: too long for the stack buffer
		lookup = append([]byte(lookupPrefix), pair[:colon]...)
	}
	password := pair[colon+1:]

	// An unknown username goes the way of a wrong password, cache and bcrypt
	// alike, so that neither its answer nor its timing tells which usernames
	// exist.
	m, found := idx.Find(lookup)
	var cur *credential.Credential
	if found {
		cur = m.Credential
	}
	key := a.cache.keyOf(pair)
	switch a.cache.recall(&key, cur) {
	case verified:
		return a.usable(r, m)
	case refused:
		if found {
			debug(r.Context(), "basic-auth: wrong password (remembered)", cur.ID)
		} else {
			debug(r.Context(), "basic-auth: unknown username (remembered)", "")
		}
		return nil, a.refuse(r, a.invalidUser)
	}
	var hash []byte
	if found {
		if hash, ok = m.Secret.([]byte); !ok { // a view built without the Compiler: read the stored hash
			var err error
			if hash, err = storedHash(cur.Plugins[Name]); err != nil {
				slog.Default().Error("basic-auth: credential has no usable hash", "credential", cur.ID, "err", err)
				return nil, a.refuse(r, a.invalidUser)
			}
		}
	}
	if !a.limiter.acquire() {
		debug(r.Context(), "basic-auth: too many password checks at once", "")
		return nil, a.refuse(r, a.busy)
	}
	if !found {
		hash = dummyHash(a.cost) // made once, under the slot
	}
	if !a.limiter.check(hash, password) || !found {
		a.cache.refuse(&key, cur)
		if found {
			debug(r.Context(), "basic-auth: wrong password", cur.ID)
		} else {
			debug(r.Context(), "basic-auth: unknown username", "")
		}
		return nil, a.refuse(r, a.invalidUser)
	}
	// Remembered even when the credential is disabled or expired: the
	// password matches it, and usable is checked on every hit.
	a.cache.verify(&key, cur)
	return a.usable(r, m)
}

// usable accepts m, whose password was verified, unless its credential is
// disabled or expired.
func (a *Authenticator) usable(r *http.Request, m *credential.Match) (*credential.Match, error) {
	if !m.Credential.Usable(a.now) {
		debug(r.Context(), "basic-auth: credential disabled or expired", m.Credential.ID)
		return nil, a.refuse(r, a.invalidUser)
	}
	return a.accept(r, m), nil
}

// refuse returns e, the refusal of a password check, once the Limiter's
// refusal delay has passed: a client that repeats failing checks is slowed
// down without costing CPU.
func (a *Authenticator) refuse(r *http.Request, e *credential.AuthError) *credential.AuthError {
	a.limiter.slowDown(r.Context())
	return e
}

func (a *Authenticator) accept(r *http.Request, m *credential.Match) *credential.Match {
	if a.hide {
		delete(r.Header, "Authorization")
	}
	return m
}

// debug logs the precise reason of a failure, with the credential's id when
// there is one (not ""); never a secret. It takes the id as a string, not as
// slog arguments, so that a refusal allocates nothing while debug is off.
func debug(ctx context.Context, msg, credentialID string) {
	l := slog.Default()
	if !l.Enabled(ctx, slog.LevelDebug) {
		return
	}
	if credentialID == "" {
		l.DebugContext(ctx, msg)
		return
	}
	l.DebugContext(ctx, msg, "credential", credentialID)
}
