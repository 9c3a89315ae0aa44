package basicauth

import "syscall"

// lowPriorityThreads: password comparisons run on threads of the lowest
// priority (see Limiter).
const lowPriorityThreads = true

// lowerThreadPriority gives the calling thread the lowest scheduling priority
// (nice 19): on Linux, setpriority with a thread id applies to that thread
// alone. A failure (a sandbox refusing it) leaves the priority as it is.
func lowerThreadPriority() {
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), 19)
}
