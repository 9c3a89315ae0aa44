//go:build !linux

package basicauth

// lowPriorityThreads: elsewhere than on Linux a thread has no priority of its
// own that the process may set, so comparisons run where they are asked for.
const lowPriorityThreads = false

func lowerThreadPriority() {}
