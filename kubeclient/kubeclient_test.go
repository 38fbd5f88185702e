package kubeclient

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// seen records what reached the API server.
type seen struct {
	mu            sync.Mutex
	authorization []string
	clientCerts   int
	impersonation []string
	extra         []string
	userAgents    []string
}

// fakeAPIServer answers every request with an empty list, over TLS that
// asks for client certificates.
func fakeAPIServer(t *testing.T) (*httptest.Server, *seen) {
	s := &seen{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.authorization = append(s.authorization, r.Header.Values("Authorization")...)
		if r.TLS != nil {
			s.clientCerts += len(r.TLS.PeerCertificates)
		}
		for k := range r.Header {
			if len(k) > 11 && k[:11] == "Impersonate" {
				s.impersonation = append(s.impersonation, k)
			}
		}
		s.extra = append(s.extra, r.Header.Values("X-Wrapped")...)
		s.userAgents = append(s.userAgents, r.UserAgent())
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"kind":"PartialObjectMetadataList","apiVersion":"meta.k8s.io/v1","metadata":{},"items":[]}`))
	}))
	srv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, s
}

func TestForTokenSendsOnlyTheCallersToken(t *testing.T) {
	srv, _ := fakeAPIServer(t)
	certPEM, keyPEM := clientCert(t)
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("own-token-from-file"), 0o600); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(dir, "exec-ran")
	plugin := filepath.Join(dir, "plugin.sh")
	script := "#!/bin/sh\ntouch " + marker + "\necho '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"own-exec-token\"}}'\n"
	if err := os.WriteFile(plugin, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}

	variants := map[string]func(*rest.Config){
		"client certificate": func(c *rest.Config) { c.CertData, c.KeyData = certPEM, keyPEM },
		"bearer token":       func(c *rest.Config) { c.BearerToken = "own-token" },
		"token file":         func(c *rest.Config) { c.BearerTokenFile = tokenFile },
		"basic auth":         func(c *rest.Config) { c.Username, c.Password = "admin", "secret" },
		"impersonation": func(c *rest.Config) {
			c.Impersonate = rest.ImpersonationConfig{UserName: "admin", Groups: []string{"system:masters"}}
		},
		"exec plugin": func(c *rest.Config) {
			c.ExecProvider = &clientcmdapi.ExecConfig{APIVersion: "client.authentication.k8s.io/v1", Command: plugin,
				InteractiveMode: clientcmdapi.NeverExecInteractiveMode}
		},
		"wrapped transport": func(c *rest.Config) {
			c.Wrap(func(rt http.RoundTripper) http.RoundTripper {
				return roundTripper(func(r *http.Request) (*http.Response, error) {
					r = r.Clone(r.Context())
					r.Header.Set("X-Wrapped", "own")
					r.Header.Set("Authorization", "Bearer wrapped-own-token")
					return rt.RoundTrip(r)
				})
			})
		},
	}
	for name, own := range variants {
		t.Run(name, func(t *testing.T) {
			srv, s := fakeAPIServer(t)
			base := &rest.Config{Host: srv.URL, TLSClientConfig: rest.TLSClientConfig{CAData: caPEM}}
			base.TLSClientConfig.CAData = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
			own(base)
			c := callerClients(t, base)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			gvr := schema.GroupVersionResource{Group: "eventing.knative.dev", Version: "v1", Resource: "brokers"}
			if _, err := c.Metadata.Resource(gvr).List(ctx, metav1.ListOptions{}); err != nil {
				t.Fatal(err)
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			if len(s.authorization) != 1 || s.authorization[0] != "Bearer callers-token" {
				t.Errorf("Authorization headers %q, want exactly [Bearer callers-token]", s.authorization)
			}
			if s.clientCerts != 0 {
				t.Errorf("the function's client certificate was sent")
			}
			if len(s.impersonation) != 0 || len(s.extra) != 0 {
				t.Errorf("own headers sent: impersonation %v, wrapped %v", s.impersonation, s.extra)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Errorf("the function's exec plugin ran for a caller")
			}
		})
	}
}

func TestOwnUsesOwnCredentials(t *testing.T) {
	srv, s := fakeAPIServer(t)
	base := &rest.Config{Host: srv.URL, BearerToken: "own-token",
		TLSClientConfig: rest.TLSClientConfig{CAData: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})}}
	f, err := NewFactory(base)
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.Own()
	if err != nil {
		t.Fatal(err)
	}
	gvr := schema.GroupVersionResource{Group: "eventing.knative.dev", Version: "v1", Resource: "brokers"}
	if _, err := c.Metadata.Resource(gvr).List(context.Background(), metav1.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(s.authorization) != 1 || s.authorization[0] != "Bearer own-token" {
		t.Errorf("Authorization %q, want [Bearer own-token]", s.authorization)
	}
}

// callerClients returns the clients of the token callers-token, made from
// base.
func callerClients(t *testing.T, base *rest.Config) *Clients {
	t.Helper()
	f, err := NewFactory(base)
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.ForToken("callers-token")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestClientSettings checks the settings every client gets: the function's
// user agent unless the configuration names one, and no client-side rate
// limit.
func TestClientSettings(t *testing.T) {
	for _, tt := range []struct{ base, want string }{{"", "knative-eventmesh-function"}, {"operator-agent", "operator-agent"}} {
		srv, s := fakeAPIServer(t)
		base := &rest.Config{Host: srv.URL, UserAgent: tt.base,
			TLSClientConfig: rest.TLSClientConfig{CAData: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})}}
		c := callerClients(t, base)
		if rl := c.REST.GetRateLimiter(); rl != nil {
			t.Errorf("the clients limit their own rate (%T): the API server's Priority and Fairness does that", rl)
		}
		gvr := schema.GroupVersionResource{Group: "eventing.knative.dev", Version: "v1", Resource: "brokers"}
		if _, err := c.Metadata.Resource(gvr).List(context.Background(), metav1.ListOptions{}); err != nil {
			t.Fatal(err)
		}
		s.mu.Lock()
		if len(s.userAgents) != 1 || s.userAgents[0] != tt.want {
			t.Errorf("configured user agent %q: sent %q, want %q", tt.base, s.userAgents, tt.want)
		}
		s.mu.Unlock()
	}
}

func TestNewFactoryRefusesInsecureTLS(t *testing.T) {
	_, err := NewFactory(&rest.Config{Host: "https://example.com", TLSClientConfig: rest.TLSClientConfig{Insecure: true}})
	if err == nil {
		t.Fatal("NewFactory accepted a configuration that skips TLS verification")
	}
}

func TestLoad(t *testing.T) {
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	const config = `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]
users: [{name: u, user: {token: own}}]
contexts: [{name: c, context: {cluster: c, user: u, namespace: eventing}}]
current-context: c
`
	if err := os.WriteFile(kubeconfig, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		env      map[string]string
		wantHost string
		wantNS   string
		wantErr  string
	}{
		{name: "kubeconfig", env: map[string]string{"KUBECONFIG": kubeconfig}, wantHost: "https://127.0.0.1:6443", wantNS: "eventing"},
		// KUBECONFIG wins over the Pod's configuration.
		{name: "kubeconfig in a pod", env: map[string]string{"KUBECONFIG": kubeconfig, "KUBERNETES_SERVICE_HOST": "10.0.0.1"},
			wantHost: "https://127.0.0.1:6443", wantNS: "eventing"},
		{name: "missing kubeconfig", env: map[string]string{"KUBECONFIG": filepath.Join(t.TempDir(), "missing")}, wantErr: "loading kubeconfig"},
		// This process is no Pod: the in-cluster configuration fails first.
		{name: "in cluster", env: map[string]string{"KUBERNETES_SERVICE_HOST": "10.0.0.1"}, wantErr: "loading in-cluster configuration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, ns, err := Load(tt.env)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Host != tt.wantHost || ns != tt.wantNS {
				t.Errorf("host %q, namespace %q; want %q, %q", cfg.Host, ns, tt.wantHost, tt.wantNS)
			}
		})
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// clientCert returns a self-signed client certificate and its key, in PEM.
func clientCert(t *testing.T) (certPEM, keyPEM []byte) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "admin", Organization: []string{"system:masters"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}
