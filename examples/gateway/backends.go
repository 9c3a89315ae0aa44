package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/keyring"
	"github.com/gatehousehq/gatehouse/ratelimit/redislimiter"
	"github.com/gatehousehq/gatehouse/store"
	"github.com/gatehousehq/gatehouse/store/memory"
	"github.com/gatehousehq/gatehouse/store/postgres"
	"github.com/gatehousehq/gatehouse/store/sqlite"
)

// defaultStore is the -store default: the embedded persistent store, in the
// working directory, so that a restart keeps everything.
const defaultStore = "sqlite://gatehouse.db"

// keyFileSuffix names the key file kept beside a SQLite database when
// -secret-keys is not given.
const keyFileSuffix = ".keys"

// backendTimeout bounds reaching PostgreSQL or Redis at start.
const backendTimeout = 5 * time.Second

// backends are the store and limiter the gateway runs on.
type backends struct {
	store store.Store
	// opts configure the gateway for them: the limiter, the replay store,
	// the key ring read from a key file.
	opts []gatehouse.Option
	// notes are lines printed at start (a key file created).
	notes []string
	// closers release them, in order.
	closers []io.Closer
}

// Close releases every back-end.
func (b *backends) Close() error {
	var errs []error
	for _, c := range b.closers {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// openBackends opens the store and limiter o names. ring is the -secret-keys
// ring, nil when unset.
func openBackends(ctx context.Context, o options, ring *keyring.Ring, log *slog.Logger) (_ *backends, err error) {
	b := &backends{}
	defer func() {
		if err != nil {
			_ = b.Close()
		}
	}()
	if err := b.openStore(ctx, o.store, ring, log); err != nil {
		return nil, err
	}
	if err := b.openLimiter(ctx, o.limiter); err != nil {
		return nil, err
	}
	return b, nil
}

// sqlitePath is the file of a sqlite://file.db (or sqlite:///abs.db) store
// spec; ok is false for another kind of store.
func sqlitePath(spec string) (path string, ok bool) {
	rest, ok := strings.CutPrefix(spec, "sqlite:")
	return strings.TrimPrefix(rest, "//"), ok
}

func isSQLite(spec string) bool { _, ok := sqlitePath(spec); return ok }

func (b *backends) openStore(ctx context.Context, spec string, ring *keyring.Ring, log *slog.Logger) error {
	switch {
	case spec == "memory":
		b.store = memory.New()
	case isSQLite(spec):
		path, _ := sqlitePath(spec)
		if path == "" {
			return fmt.Errorf("-store %q: want sqlite://file.db (relative to the working directory) or sqlite:///absolute/path.db", redact(spec))
		}
		if ring == nil {
			// The store keeps secrets encrypted: keep their keys beside it.
			keyFile := path + keyFileSuffix
			r, created, err := loadOrCreateKeyFile(keyFile)
			if err != nil {
				return fmt.Errorf("-store %s: %w (or give -secret-keys)", redact(spec), err)
			}
			if created {
				b.notes = append(b.notes, fmt.Sprintf("secret keys: new key file %s (mode 0600); keep it with the database: the secrets it encrypts do not open without it", keyFile))
			}
			b.opts = append(b.opts, gatehouse.WithKeyRing(r))
		}
		s, err := sqlite.Open(ctx, path)
		if err != nil {
			return fmt.Errorf("-store %s: %w", redact(spec), err)
		}
		b.store = s
		b.closers = append(b.closers, s)
	case strings.HasPrefix(spec, "postgres://"), strings.HasPrefix(spec, "postgresql://"):
		if ring == nil {
			return fmt.Errorf("-store %s: give -secret-keys: every instance sharing the database must open the same encrypted secrets", redact(spec))
		}
		openCtx, cancel := context.WithTimeout(ctx, backendTimeout)
		defer cancel()
		s, err := postgres.Open(openCtx, spec, postgres.WithLogger(log))
		if err != nil {
			return fmt.Errorf("-store %s: %w", redact(spec), err)
		}
		b.store = s
		b.closers = append(b.closers, s)
	default:
		return fmt.Errorf("-store %q: want memory, sqlite://file.db or postgres://user@host/db", redact(spec))
	}
	return nil
}

func (b *backends) openLimiter(ctx context.Context, spec string) error {
	switch {
	case spec == "memory":
		return nil // the gateway's default
	case strings.HasPrefix(spec, "redis://"), strings.HasPrefix(spec, "rediss://"):
		opt, err := redis.ParseURL(spec)
		if err != nil {
			return fmt.Errorf("-limiter %s: not a Redis URL", redact(spec))
		}
		client := redis.NewClient(opt)
		b.closers = append(b.closers, client)
		pingCtx, cancel := context.WithTimeout(ctx, backendTimeout)
		defer cancel()
		if err := client.Ping(pingCtx).Err(); err != nil {
			return fmt.Errorf("-limiter %s: cannot reach Redis: %w", redact(spec), scrub(err, opt.Password))
		}
		l := redislimiter.New(client)
		// Rate limits, API-key quotas and hmac-auth replay protection are
		// then shared by every instance using this Redis.
		b.opts = append(b.opts, gatehouse.WithLimiter(l), gatehouse.WithReplayStore(l))
		return nil
	default:
		return fmt.Errorf("-limiter %q: want memory or redis://host:6379/0", redact(spec))
	}
}

// scrub replaces secret in err's message, should a client library repeat it.
func scrub(err error, secret string) error {
	if secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), secret, "xxxxx"))
}
