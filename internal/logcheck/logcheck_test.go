package logcheck

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// EnvCheck names the log file TestSuiteLogsHoldNoSecret searches: the file
// the suite wrote with GATEHOUSE_TEST_LOG_FILE. The test is skipped without
// it (it runs after the suite, in .ci/run).
const EnvCheck = "GATEHOUSE_LOGCHECK_FILE"

func TestSecrets(t *testing.T) {
	src := "call(`{\"plugins\":{\"key-auth\":{\"key\":\"alice-secret-key\"}}}`)\n" +
		`body := "{\"password\":\"s3cret-password\",\"username\":\"alice\"}"` + "\n" +
		"`{\"clientSecret\": \"short\"}` `{\"secret_key\":\"` + secret + `\"}` `{\"secret\":\"hs-secret-0001\"}`\n" +
		"`{\"jwt-auth\":{\"key\":\"alice-jwt-key\",\"secret\":\"jwt-secret-value\"}}`"
	require.Equal(t, []string{"alice-secret-key", "s3cret-password", "hs-secret-0001", "jwt-secret-value"}, Secrets(src),
		"jwt-auth's key names the credential: not a secret; short and built values are left out")
}

// TestSecretsOfAnEnvironment: a test's environment of secrets (the config
// tests' ${NAME}s) counts too.
func TestSecretsOfAnEnvironment(t *testing.T) {
	src := `var secrets = map[string]string{"ALICE_KEY": "alice-key-0123456789", "BOB_PASSWORD": "bob-pa55word", "CAROL_PUB": "not-a-secret-0001", "DAVE_KEY": "short"}`
	require.Equal(t, []string{"alice-key-0123456789", "bob-pa55word"}, Secrets(src))
	suite, err := SecretsIn("../..")
	require.NoError(t, err)
	require.Contains(t, suite, "alice-key-0123456789", "config's test environment")
}

func TestFind(t *testing.T) {
	log := "level=DEBUG msg=ok\nlevel=DEBUG msg=\"refused\" key=alice-secret-key\nlevel=INFO msg=fine\n"
	got, err := Find(strings.NewReader(log), []string{"alice-secret-key", "bob-secret-key"})
	require.NoError(t, err)
	require.Equal(t, []Finding{{Secret: "alice-secret-key", Line: `level=DEBUG msg="refused" key=alice-secret-key`}}, got)
}

func TestSecretsOfTheSuite(t *testing.T) {
	secrets, err := SecretsIn("../..")
	require.NoError(t, err)
	require.Contains(t, secrets, "secret-k-123", "quota_test.go's API-key secret")
	require.Greater(t, len(secrets), 30)
}

// TestSuiteLogsHoldNoSecret searches the logs the whole suite wrote for the
// secrets its tests use.
func TestSuiteLogsHoldNoSecret(t *testing.T) {
	name := os.Getenv(EnvCheck)
	if name == "" {
		t.Skip(EnvCheck + " not set: run after the suite (.ci/run)")
	}
	secrets, err := SecretsIn("../..")
	require.NoError(t, err)
	f, err := os.Open(name)
	require.NoError(t, err)
	defer f.Close()
	st, err := f.Stat()
	require.NoError(t, err)
	require.Positive(t, st.Size(), "the suite wrote no log: is GATEHOUSE_TEST_LOG_FILE set for it?")
	found, err := Find(f, secrets)
	require.NoError(t, err)
	for _, fd := range found {
		t.Errorf("secret %q logged: %s", fd.Secret, fd.Line)
	}
	t.Logf("%d secrets searched in %d bytes of logs", len(secrets), st.Size())
}
