package redislimiter

// Queued returns the number of commands waiting for a pipeline.
func Queued(l *Limiter) int {
	l.b.mu.Lock()
	defer l.b.mu.Unlock()
	return len(l.b.queue)
}
