package announce

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
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
			ev := testEvent()
			if err := a.send(context.Background(), ev); err != nil {
				t.Fatal(err)
			}
			if h := <-got; h != tt.want {
				t.Errorf("X-Eventmesh-Secret = %q, want %q", h, tt.want)
			}
		})
	}
}

// TestTokenFile checks that the token of Config.TokenFile goes with each
// announcement as read at that send, and that a missing file sends none.
func TestTokenFile(t *testing.T) {
	got := make(chan string, 3)
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("Authorization")
		w.WriteHeader(http.StatusAccepted)
	}))
	defer sink.Close()
	file := filepath.Join(t.TempDir(), "token")
	a, err := New(Config{Sink: sink.URL, TokenFile: file, ClaimTTL: 10 * time.Second}, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ev := testEvent()
	for _, tt := range []struct {
		content *string
		want    string
	}{
		{ptr("first\n"), "Bearer first"},
		{ptr("rotated"), "Bearer rotated"},
		{nil, ""},
	} {
		if tt.content != nil {
			if err := os.WriteFile(file, []byte(*tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
		} else if err := os.Remove(file); err != nil {
			t.Fatal(err)
		}
		if err := a.send(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
		if h := <-got; h != tt.want {
			t.Errorf("Authorization = %q, want %q", h, tt.want)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// TestAuthRefusalSaysWhy checks that a sink's 401 or 403 is retried a
// bounded number of times, and logged with its likely cause, never with
// the token.
func TestAuthRefusalSaysWhy(t *testing.T) {
	file := filepath.Join(t.TempDir(), "token")
	for _, tt := range []struct {
		name   string
		status int
		token  string
		header http.Header
		want   string
	}{
		{"no credentials", http.StatusUnauthorized, "", nil, "the function sent no credentials: no token at " + file},
		{"no credentials, forbidden", http.StatusForbidden, "", nil, "the function sent no credentials: no token at " + file},
		{"token refused", http.StatusUnauthorized, "the-token", nil, "the sink did not accept the function's token from " + file},
		{"subject refused", http.StatusForbidden, "the-token", nil, "an EventPolicy on the sink does not allow the function's OIDC identity"},
		{"secret refused", http.StatusUnauthorized, "", http.Header{"X-Eventmesh-Secret": {"s"}}, "the sink refused the shared secret"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_ = os.Remove(file)
			if tt.token != "" {
				if err := os.WriteFile(file, []byte(tt.token), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			h := newHarness(t, Config{MaxAttempts: 4, TokenFile: file, Header: tt.header})
			var logs strings.Builder
			h.a.log = slog.New(slog.NewTextHandler(&logs, nil))
			h.sink.status.Store(int32(tt.status))
			h.a.syncUntilDone(context.Background())
			if n := len(h.sink.received()); n != 4 {
				t.Errorf("%d attempts, want MaxAttempts (4)", n)
			}
			if !strings.Contains(logs.String(), tt.want) {
				t.Errorf("logs do not say %q:\n%s", tt.want, logs.String())
			}
			if strings.Contains(logs.String(), "the-token") {
				t.Errorf("a log line holds the token:\n%s", logs.String())
			}
		})
	}
}

// testEvent is an announcement with the attributes a sink requires.
func testEvent() cloudevents.Event {
	ev := cloudevents.NewEvent()
	ev.SetID("1")
	ev.SetSource("/eventmesh")
	ev.SetType(EventType)
	return ev
}

// TestStructuredMode checks that an announcement goes in structured mode:
// its attributes in the body (application/cloudevents+json), which is all
// that crosses Backstage's events bus, not in Ce- headers.
func TestStructuredMode(t *testing.T) {
	type request struct {
		contentType, ceType string
		body                map[string]any
	}
	got := make(chan request, 1)
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		got <- request{r.Header.Get("Content-Type"), r.Header.Get("Ce-Type"), body}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer sink.Close()
	a, err := New(Config{Sink: sink.URL, ClaimTTL: 10 * time.Second}, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ev := testEvent()
	ev.SetSubject("prod")
	if err := a.send(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	r := <-got
	if !strings.HasPrefix(r.contentType, "application/cloudevents+json") || r.ceType != "" {
		t.Errorf("Content-Type %q, Ce-Type %q: want application/cloudevents+json and no Ce- headers", r.contentType, r.ceType)
	}
	for k, want := range map[string]string{"specversion": "1.0", "type": EventType, "id": "1", "source": "/eventmesh", "subject": "prod"} {
		if r.body[k] != want {
			t.Errorf("body %s = %v, want %q", k, r.body[k], want)
		}
	}
}

// TestRootCAs checks that an https sink whose certificate chains to
// RootCAs (K_CA_CERTS) is reached, and that without them it is not.
func TestRootCAs(t *testing.T) {
	sink := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
	}))
	defer sink.Close()
	pool := x509.NewCertPool()
	pool.AddCert(sink.Certificate())
	for _, tt := range []struct {
		name    string
		roots   *x509.CertPool
		wantErr string
	}{
		{"with the sink's CA", pool, ""},
		{"without", nil, "certificate"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a, err := New(Config{Sink: sink.URL, ClaimTTL: 10 * time.Second, RootCAs: tt.roots}, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				t.Fatal(err)
			}
			err = a.send(context.Background(), testEvent())
			if tt.wantErr == "" && err != nil {
				t.Errorf("send: %v, want it accepted", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("send: %v, want an error about the %s", err, tt.wantErr)
			}
		})
	}
}
