package function

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestClientGoLogDemotesCanceled(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(clientGoLog{slog.NewJSONHandler(&buf, nil)}).With("logger", "client-go")
	log.Error("Unexpected error when reading response body", "err", errors.New("context canceled"))
	if buf.Len() != 0 {
		t.Errorf("a canceled read was logged at info or above: %s", buf.String())
	}
	log.Error("Unexpected error when reading response body", "err", errors.New("connection reset by peer"))
	if !strings.Contains(buf.String(), `"level":"ERROR"`) {
		t.Errorf("a real error was not logged as one: %q", buf.String())
	}
}
