package function

import (
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestPushConfig checks the announcer's configuration that push settings
// give: the defaults derived from the Knative Service, the bounds derived
// from the debounce, and the secret header only when a secret is set.
func TestPushConfig(t *testing.T) {
	for _, tc := range []struct {
		name               string
		push               PushSettings
		namespace, service string
		wantSource         string
		wantDataRef        string
		wantRetryMin       time.Duration
		wantSecret         string
	}{{
		name:         "defaults from the ksvc",
		push:         PushSettings{Sink: "http://sink", Debounce: time.Second, ClaimTTL: 30 * time.Second},
		namespace:    "knative-eventing",
		service:      "eventmesh",
		wantSource:   "/apis/serving.knative.dev/v1/namespaces/knative-eventing/services/eventmesh",
		wantDataRef:  "http://eventmesh.knative-eventing.svc.cluster.local/v1/getEventMesh",
		wantRetryMin: time.Second,
	}, {
		name:         "no ksvc",
		push:         PushSettings{Sink: "http://sink", Debounce: 3 * time.Second, ClaimTTL: 30 * time.Second},
		wantSource:   "/eventmesh",
		wantDataRef:  "http://localhost:8080/v1/getEventMesh",
		wantRetryMin: time.Second,
	}, {
		name: "set source, URL and secret",
		push: PushSettings{Sink: "http://sink", Debounce: 200 * time.Millisecond, ClaimTTL: 30 * time.Second,
			Source: "/clusters/prod", MeshURL: "https://mesh.example.com", Secret: "s3cret"},
		namespace:    "knative-eventing",
		service:      "eventmesh",
		wantSource:   "/clusters/prod",
		wantDataRef:  "https://mesh.example.com/v1/getEventMesh",
		wantRetryMin: 200 * time.Millisecond,
		wantSecret:   "s3cret",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			f := &Function{settings: Settings{Timeout: 20 * time.Second, Push: tc.push}}
			cfg, err := f.pushConfig(tc.namespace, tc.service)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Source != tc.wantSource || cfg.DataRef != tc.wantDataRef {
				t.Errorf("source %q, dataref %q; want %q, %q", cfg.Source, cfg.DataRef, tc.wantSource, tc.wantDataRef)
			}
			if cfg.Debounce != tc.push.Debounce || cfg.RetryMin != tc.wantRetryMin {
				t.Errorf("debounce %s, retry min %s; want %s, %s", cfg.Debounce, cfg.RetryMin, tc.push.Debounce, tc.wantRetryMin)
			}
			if cfg.SyncTimeout != 50*time.Second {
				t.Errorf("sync timeout %s, want the mesh timeout plus the claim TTL, 50s", cfg.SyncTimeout)
			}
			if got := cfg.Header.Get(SecretHeader); got != tc.wantSecret {
				t.Errorf("%s header %q, want %q", SecretHeader, got, tc.wantSecret)
			}
			if tc.wantSecret == "" && cfg.Header != nil {
				t.Errorf("headers %v without a secret, want none", cfg.Header)
			}
			if !strings.Contains(cfg.Holder, "-") {
				t.Errorf("holder %q has no random part", cfg.Holder)
			}
		})
	}
}

// TestCACerts checks that K_CA_CERTS gives the announcer its roots, and
// that a value with no certificate stops push with a clear error.
func TestCACerts(t *testing.T) {
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	defer srv.Close()
	pemCert := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
	push := PushSettings{Sink: "https://sink", Debounce: time.Second, ClaimTTL: 30 * time.Second}

	push.CACerts = pemCert
	f := &Function{settings: Settings{Timeout: time.Second, Push: push}}
	cfg, err := f.pushConfig("ns", "svc")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RootCAs == nil {
		t.Fatal("no roots from K_CA_CERTS")
	}
	if _, err := srv.Certificate().Verify(x509.VerifyOptions{Roots: cfg.RootCAs}); err != nil {
		t.Errorf("the roots do not hold K_CA_CERTS' certificate: %v", err)
	}
	// K_CA_CERTS adds to the system's roots: it does not replace them.
	if system, err := x509.SystemCertPool(); err == nil {
		system.AppendCertsFromPEM([]byte(pemCert))
		if !cfg.RootCAs.Equal(system) {
			t.Error("the roots are not the system's plus K_CA_CERTS'")
		}
	}

	push.CACerts = "not a certificate"
	f = &Function{settings: Settings{Timeout: time.Second, Push: push}}
	if _, err := f.pushConfig("ns", "svc"); err == nil || !strings.Contains(err.Error(), "K_CA_CERTS holds no PEM certificate") {
		t.Errorf("error %v, want one naming K_CA_CERTS", err)
	}
}
