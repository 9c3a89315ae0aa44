package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehousehq/gatehouse/internal/testenv"
	"github.com/gatehousehq/gatehouse/keyring"
)

// roleVar makes the test binary, started again by
// BenchmarkDataPlaneIsolated, one of its processes instead of running tests.
const roleVar = "GATEHOUSE_MI_ROLE"

func TestMain(m *testing.M) {
	switch os.Getenv(roleVar) {
	case "instance":
		os.Exit(runInstanceRole())
	case "client":
		os.Exit(runClientRole())
	}
	os.Exit(m.Run())
}

// BenchmarkDataPlaneIsolated measures what instance B's own work costs its
// requests while instance A's admin API writes 100 consumer changes a second
// that B applies, with B on a core of its own, as it would be on a machine of
// its own: B and its client run as two processes on CPU 0; A, the writer,
// PostgreSQL and Redis on CPU 1 (taskset). So the writes' own cost (admin
// handler, commits) does not share B's core, and what is left is B's
// following the store: the notification, the read back, the apply. The
// client makes b.N sequential key-auth requests on B over HTTP and reports
// their p50 and p99. The control, elsewhere=100/s, makes the same writes
// through an instance of another deployment on CPU 1: what the writes cost
// B without B following them (caches, memory and the hypervisor are shared
// by both CPUs). Alternate the sides with one invocation each. Needs taskset, 2 CPUs and
// the services' variables; moves PostgreSQL's and Redis's processes to CPU 1
// for its duration and back to every CPU after.
func BenchmarkDataPlaneIsolated(b *testing.B) {
	if runtime.NumCPU() < 2 {
		b.Skip("needs 2 CPUs")
	}
	if _, err := exec.LookPath("taskset"); err != nil {
		b.Skip("needs taskset (util-linux)")
	}
	dsn, schema := testenv.PostgresSchema(b)
	redisURL := testenv.Redis(b)
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		b.Fatal(err)
	}
	rc := redis.NewClient(opt)
	b.Cleanup(func() { rc.Close() })
	prefix := testenv.RedisPrefix(b, rc)
	_, keys := keyring.Generate()

	// CPU 1: this process (A and the writer), PostgreSQL and Redis.
	pin(b, "1", os.Getpid())
	for _, name := range []string{"postgres", "redis-server"} {
		out, _ := exec.Command("pgrep", "-x", name).Output()
		for _, f := range strings.Fields(string(out)) {
			pid, _ := strconv.Atoi(f)
			pin(b, "1", pid)
			b.Cleanup(func() { _ = exec.Command("taskset", "-apc", "0-"+strconv.Itoa(runtime.NumCPU()-1), f).Run() })
		}
	}
	b.Cleanup(func() {
		_ = exec.Command("taskset", "-apc", "0-"+strconv.Itoa(runtime.NumCPU()-1), strconv.Itoa(os.Getpid())).Run()
	})

	ctx := b.Context()
	cfg := config{Postgres: dsn, Redis: redisURL, SecretKeys: keys, AdminKey: adminKey, Schema: schema, RedisPrefix: prefix,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	instA, err := newInstance(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	srvA := httptest.NewServer(instA.handler)
	b.Cleanup(func() { srvA.Close(); instA.Close() })
	// The control: an instance of another deployment (a schema of its own),
	// on CPU 1 too, taking the same writes, none of which B hears of.
	otherDSN, otherSchema := testenv.PostgresSchema(b)
	ocfg := cfg
	ocfg.Postgres, ocfg.Schema = otherDSN, otherSchema
	instO, err := newInstance(ctx, ocfg)
	if err != nil {
		b.Fatal(err)
	}
	srvO := httptest.NewServer(instO.handler)
	b.Cleanup(func() { srvO.Close(); instO.Close() })

	env := append(os.Environ(), "GATEHOUSE_POSTGRES="+dsn, "GATEHOUSE_REDIS="+redisURL, "GATEHOUSE_SECRET_KEYS="+keys,
		"GATEHOUSE_ADMIN_KEY="+adminKey, "GATEHOUSE_SCHEMA="+schema, "GATEHOUSE_REDIS_PREFIX="+prefix)
	bURL := start(b, "instance", env).ReadString()
	client := start(b, "client", env)

	key := newKey(b, srvA.URL, "alice")
	within(b, 5*time.Second, bURL+"/whoami", key, http.StatusOK)

	for _, tc := range []struct {
		name   string
		rate   int
		target string
	}{{"quiet", 0, ""}, {"writes=100/s", 100, srvA.URL}, {"elsewhere=100/s", 100, srvO.URL}} {
		b.Run(tc.name, func(b *testing.B) {
			w := startWriter(tc.target, tc.rate)
			time.Sleep(100 * time.Millisecond) // the writer is running
			t0, before := time.Now(), w.writes.Load()
			client.Send(fmt.Sprintf("run %s %s %d", bURL+"/whoami", key, b.N))
			var res clientResult
			if err := json.Unmarshal([]byte(client.ReadString()), &res); err != nil {
				b.Fatal(err)
			}
			elapsed, during := time.Since(t0), w.writes.Load()-before
			failed := w.Stop()
			if res.Err != "" {
				b.Fatal(res.Err)
			}
			if failed > 0 {
				b.Fatalf("%d admin writes failed", failed)
			}
			b.ReportMetric(res.P50, "p50-µs")
			b.ReportMetric(res.P99, "p99-µs")
			if tc.rate > 0 {
				b.ReportMetric(float64(during)/elapsed.Seconds(), "writes/s")
			}
		})
	}
}

// pin limits every thread of process pid to cpus.
func pin(b *testing.B, cpus string, pid int) {
	b.Helper()
	if out, err := exec.Command("taskset", "-apc", cpus, strconv.Itoa(pid)).CombinedOutput(); err != nil {
		b.Skipf("taskset %d: %v: %s", pid, err, out)
	}
}

// child is a process started from the test binary in a role, on CPU 0; it
// is spoken to by lines on its standard input and output.
type child struct {
	b   *testing.B
	in  io.WriteCloser
	out *bufio.Reader
}

func start(b *testing.B, role string, env []string) *child {
	b.Helper()
	cmd := exec.Command("taskset", "-c", "0", os.Args[0])
	cmd.Env = append(env, roleVar+"="+role)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { in.Close(); _ = cmd.Wait() })
	return &child{b: b, in: in, out: bufio.NewReader(out)}
}

func (c *child) Send(line string) {
	if _, err := io.WriteString(c.in, line+"\n"); err != nil {
		c.b.Fatal(err)
	}
}

func (c *child) ReadString() string {
	line, err := c.out.ReadString('\n')
	if err != nil {
		c.b.Fatalf("child: %v", err)
	}
	return strings.TrimSpace(line)
}

// runInstanceRole serves one instance of the deployment the environment
// names, prints its URL, and stops when its standard input closes.
func runInstanceRole() int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	inst, err := newInstance(ctx, config{
		Postgres: os.Getenv("GATEHOUSE_POSTGRES"), Redis: os.Getenv("GATEHOUSE_REDIS"),
		SecretKeys: os.Getenv("GATEHOUSE_SECRET_KEYS"), AdminKey: os.Getenv("GATEHOUSE_ADMIN_KEY"),
		Schema: os.Getenv("GATEHOUSE_SCHEMA"), RedisPrefix: os.Getenv("GATEHOUSE_REDIS_PREFIX"),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "instance:", err)
		return 1
	}
	defer inst.Close()
	if path := os.Getenv("GATEHOUSE_MI_CPUPROFILE"); path != "" {
		// The instance's CPU profile, for finding what following the store
		// costs it.
		f, err := os.Create(path)
		if err == nil {
			_ = pprof.StartCPUProfile(f)
			defer func() { pprof.StopCPUProfile(); f.Close() }()
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "instance:", err)
		return 1
	}
	srv := &http.Server{Handler: inst.handler, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	fmt.Printf("http://%s\n", ln.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = srv.Close()
	return 0
}

// clientResult is what the client role answers to "run URL KEY N".
type clientResult struct {
	P50, P99 float64 // µs
	Err      string
}

// runClientRole answers each "run URL KEY N" line with the p50 and p99 of N
// sequential GET URL requests with that key, over one kept-alive connection.
func runClientRole() int {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		var url, key string
		var n int
		if _, err := fmt.Sscanf(sc.Text(), "run %s %s %d", &url, &key, &n); err != nil {
			fmt.Fprintln(os.Stderr, "client:", err)
			return 1
		}
		res := clientResult{}
		lat := make([]time.Duration, 0, n)
		for range n {
			t0 := time.Now()
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			req.Header.Set("apikey", key)
			resp, err := client.Do(req)
			if err != nil {
				res.Err = err.Error()
				break
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			lat = append(lat, time.Since(t0))
			if resp.StatusCode != http.StatusOK {
				res.Err = fmt.Sprintf("status %d", resp.StatusCode)
				break
			}
		}
		if len(lat) > 0 {
			p := percentiles(lat, 0.50, 0.99)
			res.P50, res.P99 = p[0], p[1]
		}
		out, _ := json.Marshal(res)
		fmt.Println(string(out))
	}
	return 0
}
