// Package logcheck finds the secrets the project's tests use in the logs the
// whole test suite wrote (internal/testlog, GATEHOUSE_TEST_LOG_FILE): .ci/run
// runs its test after the suite, which fails when any log line holds one.
package logcheck

import (
	"bufio"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// secretField matches a secret's value in JSON written in Go source, as a
// raw string ("password":"…") or an interpreted one (\"password\":\"…\"):
// the fields of the credential schemes that hold secrets, and key-auth's key.
var secretField = regexp.MustCompile(`\\?"(?:password|secret|secret_key|clientSecret|client_secret)\\?"\s*:\s*\\?"([^"\\]+)|\\?"key-auth\\?"\s*:\s*\{\s*\\?"key\\?"\s*:\s*\\?"([^"\\]+)` +
	// A test's environment of secrets: "ALICE_KEY": "...", "BOB_PASSWORD": "...".
	`|"[A-Z0-9_]*_(?:KEY|PASSWORD|SECRET|HMAC|JWT)"\s*:\s*"([^"\\]+)`)

// MinLen is the shortest value taken for a secret: shorter ones ("pw", "x")
// are common words that logs may hold for other reasons.
const MinLen = 8

// Secrets returns the secrets found in src: the values of secretField's
// fields, at least MinLen long, written out in full (a value built with
// + or a format verb is left out).
func Secrets(src string) []string {
	var out []string
	for _, m := range secretField.FindAllStringSubmatch(src, -1) {
		v := m[1] + m[2] + m[3]
		if len(v) < MinLen || strings.ContainsAny(v, "`+%{}$ ") {
			continue
		}
		out = append(out, v)
	}
	return out
}

// SecretsIn returns the secrets of every _test.go file under root, sorted
// and without duplicates.
func SecretsIn(root string) ([]string, error) {
	seen := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, s := range Secrets(string(b)) {
			seen[s] = true
		}
		return nil
	})
	out := make([]string, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	sort.Strings(out)
	return out, err
}

// Finding is a log line that holds a secret.
type Finding struct {
	Secret string
	Line   string
}

// Find returns the lines of log that hold one of secrets.
func Find(log io.Reader, secrets []string) ([]Finding, error) {
	var out []Finding
	sc := bufio.NewScanner(log)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		for _, s := range secrets {
			if strings.Contains(line, s) {
				out = append(out, Finding{Secret: s, Line: line})
			}
		}
	}
	return out, sc.Err()
}
