// Package plugin holds the plugin model: named definitions in a Registry that
// validates settings when they are written, the stages and priorities that
// order configured plugins on a request, and the staged executor that runs
// them.
//
// # Stages
//
// What a plugin does at a stage is told by the interface it implements:
// PreRequestPlugin (before the handler; may add response headers or stop the
// request with a response), PostRequestPlugin (the handler's outcome known,
// nothing sent yet), PreResponsePlugin (may change status, headers and, when
// it says NeedsBody, the body) and PostResponsePlugin (after the response was
// sent; observes only). A Configured entry runs its plugin at its one Stage.
//
// # Plans
//
// NewPlan merges the entries of up to four Levels (gateway, route, consumer
// group, consumer) into a Plan: one instance per plugin name, the most
// specific level's (consumer > consumer group > route > gateway); a disabled
// winner removes the plugin. Entries run by stage, then priority (lower
// first), then name. The Parallel entries of one stage and priority form a
// group that runs concurrently, at the place of its first member; their
// results merge as if they had run one by one in plan order: header changes
// in that order, up to the first member that stopped (or panicked), which
// decides the request. PreResponse ignores Parallel.
//
// A PreRequest plugin stops a request with Call.Stop: the handler, the later
// PreRequest plugins and PostRequest do not run; PreResponse plugins still see
// the answer and PostResponse plugins observe it.
//
// A Cache keeps one plan per (route id, consumer id) pair, bounded, with
// Invalidate for configuration changes; a hit allocates nothing.
//
// # Streaming and buffering
//
// Plan.Serve runs a plan around a handler. Without PostRequest or PreResponse
// plugins the handler's writes go straight to the client (only the status
// and size are observed for PostResponse, and headers added at PreRequest are
// applied when the handler writes its head). With them, the response is held
// so that "nothing is sent yet" when PostRequest runs: the status, the
// headers and up to 4 KiB of body wait until the handler returns, flushes, or
// writes more. At that moment (the commit) PostRequest runs, seeing the
// status, headers and the body bytes written so far (Response.Complete tells
// whether the handler had returned, which is the common case for small
// responses), then PreResponse, then the head and the held bytes are sent and
// the rest streams: a Flush reaches the client. Only when a PreResponse
// plugin needs the body is the whole body buffered: Flush then waits for the
// handler to return, and a replaced body gets a correct Content-Length.
// Buffering is capped (DefaultMaxBufferedBody, 8 MiB; WithMaxBufferedBody):
// a larger body is answered 502 and logged, or, when every plugin that needs
// it chose OverflowStream (OverflowPolicy), sent unmodified, the plugins
// told with Response.Overflowed.
//
// # Failures
//
// A panic in a plugin, in a parallel goroutine too, is logged with log/slog
// (plugin, stage, route, consumer, stack) and the request is answered 500
// {"error":"internal_error","message":"internal error"} instead of whatever
// was held: nothing had been sent at that point. A panic in a PostResponse
// plugin is logged only. The server never crashes because of a plugin.
package plugin
