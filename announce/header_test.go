package announce

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
)

// TestHeaderIsSent checks that Config.Header (the shared secret the
// Backstage ingress checks) goes with an announcement, and that no header
// is added without it.
func TestHeaderIsSent(t *testing.T) {
	for _, tt := range []struct {
		name   string
		header http.Header
		want   string
	}{
		{"secret", http.Header{"X-Eventmesh-Secret": {"s3cret"}}, "s3cret"},
		{"none", nil, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := make(chan string, 1)
			sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got <- r.Header.Get("X-Eventmesh-Secret")
				w.WriteHeader(http.StatusAccepted)
			}))
			defer sink.Close()
			a, err := New(Config{Sink: sink.URL, Header: tt.header, ClaimTTL: 10 * time.Second}, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				t.Fatal(err)
			}
			ev := cloudevents.NewEvent()
			ev.SetID("1")
			ev.SetSource("/eventmesh")
			ev.SetType(EventType)
			if err := a.send(context.Background(), ev); err != nil {
				t.Fatal(err)
			}
			if h := <-got; h != tt.want {
				t.Errorf("X-Eventmesh-Secret = %q, want %q", h, tt.want)
			}
		})
	}
}
