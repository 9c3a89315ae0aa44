package sqlite

// WithMigrationsUpTo stops the migrations after version v: a schema as an
// older build left it.
func WithMigrationsUpTo(v int) Option { return func(o *options) { o.upTo = v } }
