package main

import (
	"debug/elf"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, COPY...
	args string
}

func readDockerfile(t *testing.T, name string) []instruction {
	t.Helper()
	raw, err := os.ReadFile(name)
	require.NoError(t, err)
	var out []instruction
	var cur strings.Builder
	for _, line := range strings.Split(string(raw), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur.Len() == 0) {
			continue
		}
		if more, ok := strings.CutSuffix(trimmed, `\`); ok {
			cur.WriteString(more + " ")
			continue
		}
		cur.WriteString(trimmed)
		cmd, args, _ := strings.Cut(strings.TrimSpace(cur.String()), " ")
		out = append(out, instruction{strings.ToUpper(cmd), strings.TrimSpace(args)})
		cur.Reset()
	}
	require.Zero(t, cur.Len(), "a continuation line ends the file")
	return out
}

// shellWords splits a command line as sh does for the simple cases a
// Dockerfile's RUN uses: blanks, and '…' or "…" quoting.
func shellWords(t *testing.T, s string) []string {
	t.Helper()
	var words []string
	var w strings.Builder
	inWord := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			w.WriteRune(r)
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		case strings.ContainsRune("|;&<>$`", r):
			t.Fatalf("RUN %q: the test reads simple commands only", s)
		default:
			w.WriteRune(r)
			inWord = true
		}
	}
	require.Zero(t, quote, "RUN %q: unclosed quote", s)
	if inWord {
		words = append(words, w.String())
	}
	return words
}

// TestDockerfile reads the repository's Dockerfile and checks what it names
// against the repository and the gateway: the Go image matches go.mod, the
// go build command builds this package without cgo into a static binary
// (which is what lets the image have no libc), the entry point is that
// binary, the environment is settings the gateway accepts (listening on every
// interface, the SQLite file in the volume), the ports exposed are those it
// listens on, and it runs as a non-root user. Building the image itself needs
// a Docker daemon and the base images' registries: docs/deploy.md.
func TestDockerfile(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	ins := readDockerfile(t, filepath.Join(root, "Dockerfile"))
	var froms []instruction
	for _, in := range ins {
		if in.cmd == "FROM" {
			froms = append(froms, in)
		}
	}
	require.Len(t, froms, 2, "a build stage and the runtime stage")
	build := regexp.MustCompile(`^golang:(\d+\.\d+)\S* AS (\S+)$`).FindStringSubmatch(froms[0].args)
	require.NotNil(t, build, "FROM %s: want golang:<version> AS <stage>", froms[0].args)
	goMod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	require.NoError(t, err)
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(goMod)
	require.NotNil(t, goVersion)
	require.Equal(t, string(goVersion[1]), build[1], "the build image's Go is go.mod's")
	stage := build[2]
	runtime := froms[1].args
	require.True(t, runtime == "scratch" || strings.HasPrefix(runtime, "gcr.io/distroless/static"), "FROM %s: an image without libc", runtime)

	var (
		output, target string
		built          bool
		made           []string // directories the build stage creates
		env            = map[string]string{}
		exposed        []string
		volumes        []string
		user           string
		entrypoint     string
		copies         = map[string]string{} // runtime path → build-stage path
		stageNo        int
	)
	for _, in := range ins {
		switch in.cmd {
		case "FROM":
			stageNo++
		case "RUN":
			words := shellWords(t, in.args)
			if slices.Equal(words[:min(len(words), 2)], []string{"mkdir", "-p"}) {
				made = append(made, words[2:]...)
				continue
			}
			i := slices.Index(words, "go")
			if i < 0 || i+1 >= len(words) || words[i+1] != "build" {
				continue
			}
			require.False(t, built, "one go build")
			built = true
			require.Contains(t, words[:i], "CGO_ENABLED=0", "RUN %s: without cgo", in.args)
			args := slices.Clone(words[i+2:])
			o := slices.Index(args, "-o")
			require.True(t, o >= 0 && o+1 < len(args), "RUN %s: -o names the binary", in.args)
			output = args[o+1]
			target = args[len(args)-1]
			require.Equal(t, "./examples/gateway", target, "the binary is the reference gateway")
			dir := t.TempDir()
			args[o+1] = filepath.Join(dir, "gateway")
			if testing.Short() {
				t.Log("-short: go build skipped")
				continue
			}
			cmd := exec.Command("go", append([]string{"build"}, args...)...)
			cmd.Dir = root
			cmd.Env = append(os.Environ(), words[:i]...)
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "go build %s:\n%s", strings.Join(args, " "), out)
			f, err := elf.Open(args[o+1])
			require.NoError(t, err)
			for _, p := range f.Progs {
				require.NotEqual(t, elf.PT_INTERP, p.Type, "the binary needs a dynamic loader: not for %s", runtime)
			}
			libs, err := f.ImportedLibraries()
			require.NoError(t, err)
			require.Empty(t, libs, "the binary links shared libraries")
			require.NoError(t, f.Close())
		case "COPY":
			words := strings.Fields(in.args)
			from := ""
			var paths []string
			for _, w := range words {
				if v, ok := strings.CutPrefix(w, "--from="); ok {
					from = v
				} else if !strings.HasPrefix(w, "--") {
					paths = append(paths, w)
				}
			}
			require.GreaterOrEqual(t, len(paths), 2, "COPY %s", in.args)
			if from == "" {
				require.Equal(t, 1, stageNo, "COPY %s: the runtime stage copies from the build stage only", in.args)
				for _, src := range paths[:len(paths)-1] {
					_, err := os.Stat(filepath.Join(root, src))
					require.NoError(t, err, "COPY %s: %s is in the repository", in.args, src)
				}
				continue
			}
			require.Equal(t, stage, from, "COPY %s", in.args)
			require.Len(t, paths, 2, "COPY %s", in.args)
			copies[paths[1]] = paths[0]
		case "ENV":
			for _, kv := range strings.Fields(in.args) {
				k, v, ok := strings.Cut(kv, "=")
				require.True(t, ok, "ENV %s: key=value pairs", in.args)
				env[k] = v
			}
		case "EXPOSE":
			exposed = append(exposed, strings.Fields(in.args)...)
		case "VOLUME":
			volumes = append(volumes, strings.Fields(in.args)...)
		case "USER":
			user = in.args
		case "ENTRYPOINT":
			m := regexp.MustCompile(`^\["([^"]+)"\]$`).FindStringSubmatch(in.args)
			require.NotNil(t, m, "ENTRYPOINT %s: the exec form, the binary alone", in.args)
			entrypoint = m[1]
		}
	}
	require.True(t, built, "a RUN builds the gateway with go build")
	require.Equal(t, output, copies[entrypoint], "the entry point %s is the binary go build made (%s)", entrypoint, output)
	require.NotEmpty(t, user, "USER")
	uid, _, _ := strings.Cut(user, ":")
	require.NotContains(t, []string{"root", "0"}, uid, "a non-root user")

	known := gatewayEnv(t)
	for k := range env {
		require.True(t, known[k], "ENV %s is not a variable the gateway reads", k)
	}
	o, err := parseFlags(nil, envFunc(env), os.Stderr)
	require.NoError(t, err, "the gateway refuses the image's environment")
	ports := []string{}
	for _, addr := range []string{o.listen, o.adminListen} {
		ports = append(ports, strings.TrimPrefix(addr[strings.LastIndex(addr, ":"):], ":"))
		port(t, "listen", addr)
	}
	require.ElementsMatch(t, ports, exposed, "EXPOSE names the ports the gateway listens on")
	db, ok := strings.CutPrefix(o.store, "sqlite://")
	require.True(t, ok, "store %s: the image's default is SQLite", o.store)
	require.True(t, path.IsAbs(db), "store %s: an absolute path", o.store)
	require.Contains(t, volumes, path.Dir(db), "the SQLite file (and its key file) is in a volume")
	src, ok := copies[path.Dir(db)]
	require.True(t, ok, "the volume's directory %s is made in the build stage, for its owner", path.Dir(db))
	require.Contains(t, made, src)
}

// TestDockerignore checks that .dockerignore keeps every file the image's
// go build needs: go.mod, go.sum, and every source and embedded file of the
// module's packages the gateway imports.
func TestDockerignore(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	raw, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	require.NoError(t, err)
	type rule struct {
		re     *regexp.Regexp
		negate bool
	}
	var rules []rule
	for _, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		r := rule{}
		if p, ok := strings.CutPrefix(line, "!"); ok {
			r.negate, line = true, p
		}
		line = strings.Trim(path.Clean(line), "/")
		// Docker's matching: filepath.Match per path, ** any number of
		// directories.
		var re strings.Builder
		re.WriteString("^")
		for i := 0; i < len(line); i++ {
			switch {
			case strings.HasPrefix(line[i:], "**/"):
				re.WriteString("(.*/)?")
				i += 2
			case strings.HasPrefix(line[i:], "**"):
				re.WriteString(".*")
				i++
			case line[i] == '*':
				re.WriteString("[^/]*")
			case line[i] == '?':
				re.WriteString("[^/]")
			default:
				re.WriteString(regexp.QuoteMeta(line[i : i+1]))
			}
		}
		re.WriteString("$")
		r.re = regexp.MustCompile(re.String())
		rules = append(rules, r)
	}
	ignored := func(p string) bool {
		// A path is out when it or a directory above it matches, the
		// last matching rule winning.
		out := false
		parts := strings.Split(p, "/")
		for _, r := range rules {
			for i := 1; i <= len(parts); i++ {
				if r.re.MatchString(strings.Join(parts[:i], "/")) {
					out = !r.negate
					break
				}
			}
		}
		return out
	}
	require.True(t, ignored(".git/HEAD"), "the check works: .git is left out")
	require.True(t, ignored("gatehouse.db"), "local SQLite stores are left out")

	cmd := exec.Command("go", "list", "-deps", "-f",
		`{{if and .Module (eq .Module.Path "github.com/gatehousehq/gatehouse")}}{{range .GoFiles}}{{$.Dir}}/{{.}}
{{end}}{{range .EmbedFiles}}{{$.Dir}}/{{.}}
{{end}}{{end}}`, "./examples/gateway")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.Output()
	require.NoError(t, err)
	needed := []string{"go.mod", "go.sum"}
	for _, f := range strings.Fields(string(out)) {
		rel, err := filepath.Rel(root, f)
		require.NoError(t, err)
		needed = append(needed, filepath.ToSlash(rel))
	}
	require.Greater(t, len(needed), 20)
	require.Contains(t, needed, "examples/gateway/main.go")
	for _, f := range needed {
		require.False(t, ignored(f), ".dockerignore leaves out %s, which the build needs", f)
	}
}
