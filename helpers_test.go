package gatehouse_test

import (
	"io"
	"log/slog"
	"strings"

	"github.com/gatehousehq/gatehouse/internal/testlog"
)

// discardLogger logs at debug level to nowhere (to the suite's log file when
// GATEHOUSE_TEST_LOG_FILE is set: internal/logcheck).
func discardLogger() *slog.Logger { return testlog.New(io.Discard) }

func stringsReader(s string) io.Reader { return strings.NewReader(s) }
