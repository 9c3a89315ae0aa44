package limitplugin

// KeyPrefix exposes an instance's key prefix (its fingerprint) to tests.
func KeyPrefix(p *Limiter) string { return p.prefix }

// Key exposes the key of an instance's limit i for c to tests.
func Key(p *Limiter, i int, c Caller) string { return p.key(i, &c) }
