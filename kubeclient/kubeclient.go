// Package kubeclient builds Kubernetes API clients: for a caller, from the
// caller's token alone; and for the function itself, from its own
// ServiceAccount or kubeconfig.
package kubeclient

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes/scheme"
	authenticationv1client "k8s.io/client-go/kubernetes/typed/authentication/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Clients are the API clients of one identity. They share one HTTP client.
type Clients struct {
	// Metadata reads object metadata only: for brokers, channels and
	// subscribers, whose labels are all the mesh needs.
	Metadata metadata.Interface
	// Dynamic reads any resource as unstructured objects.
	Dynamic dynamic.Interface
	// REST sends requests by absolute path, for lists whose pages fetch
	// decodes itself, straight into the fields the mesh uses.
	REST rest.Interface
	// Core reads and writes core objects: push keeps its state in a
	// ConfigMap.
	Core corev1client.CoreV1Interface
	// Authentication verifies tokens: push's intake reviews the tokens
	// of the sources that notify it.
	Authentication authenticationv1client.AuthenticationV1Interface
}

// Factory makes Clients from one base configuration.
type Factory struct {
	base *rest.Config
}

// NewFactory returns a Factory for base, the function's own configuration.
// It refuses a configuration that skips TLS verification.
func NewFactory(base *rest.Config) (*Factory, error) {
	if base.Insecure {
		return nil, errors.New("the Kubernetes configuration skips TLS verification (insecure-skip-tls-verify): " +
			"refusing to send callers' tokens over it; configure the API server's CA instead")
	}
	return &Factory{base: base}, nil
}

// Host returns the API server's address.
func (f *Factory) Host() string { return f.base.Host }

// ForToken returns clients that authenticate with token and nothing else.
//
// Every credential of the function's own configuration is dropped first:
// client certificate, token and token file, basic auth, exec and auth
// provider plugins, impersonation and custom transports
// (rest.AnonymousClientConfig copies only the server's address and TLS
// trust). So a caller never sees more than its token allows.
func (f *Factory) ForToken(token string) (*Clients, error) {
	cfg := rest.AnonymousClientConfig(f.base)
	cfg.BearerToken = token
	return f.clients(cfg)
}

// Own returns clients with the function's own identity, for push.
func (f *Factory) Own() (*Clients, error) {
	return f.clients(rest.CopyConfig(f.base))
}

// clients builds the clients of cfg.
//
// Client-side rate limiting is off (QPS < 0): a mesh is built with a
// handful of parallel LIST calls, and client-go's default of 5 requests per
// second would only add waiting. The API server protects itself with
// Priority and Fairness and answers 429 with Retry-After, which client-go
// honours.
//
// Responses are not gzipped: the function runs next to the API server, and
// compressing a large list costs the API server and the function more CPU
// than sending it whole costs time (measured with make bench).
func (f *Factory) clients(cfg *rest.Config) (*Clients, error) {
	cfg.QPS = -1
	cfg.Burst = 0
	cfg.RateLimiter = nil
	cfg.DisableCompression = true
	if cfg.UserAgent == "" {
		cfg.UserAgent = "knative-eventmesh-function"
	}
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("building HTTP client: %w", err)
	}
	md, err := metadata.NewForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, fmt.Errorf("building metadata client: %w", err)
	}
	dyn, err := dynamic.NewForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, fmt.Errorf("building dynamic client: %w", err)
	}
	raw := rest.CopyConfig(cfg)
	raw.NegotiatedSerializer = scheme.Codecs.WithoutConversion()
	rc, err := rest.UnversionedRESTClientForConfigAndClient(raw, hc)
	if err != nil {
		return nil, fmt.Errorf("building REST client: %w", err)
	}
	core, err := corev1client.NewForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, fmt.Errorf("building core client: %w", err)
	}
	authn, err := authenticationv1client.NewForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, fmt.Errorf("building authentication client: %w", err)
	}
	return &Clients{Metadata: md, Dynamic: dyn, REST: rc, Core: core, Authentication: authn}, nil
}

// inClusterNamespace is where a Pod finds its namespace.
const inClusterNamespace = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// Load returns the function's own configuration and namespace: in-cluster
// when running in a Pod, else the kubeconfig named by KUBECONFIG in env (or
// the default ~/.kube/config) and its context's namespace.
func Load(env map[string]string) (*rest.Config, string, error) {
	if env["KUBERNETES_SERVICE_HOST"] != "" && env["KUBECONFIG"] == "" {
		cfg, err := rest.InClusterConfig()
		if err != nil {
			return nil, "", fmt.Errorf("loading in-cluster configuration: %w", err)
		}
		ns, err := os.ReadFile(inClusterNamespace)
		if err != nil {
			return nil, "", fmt.Errorf("reading the Pod's namespace: %w", err)
		}
		return cfg, strings.TrimSpace(string(ns)), nil
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if p := env["KUBECONFIG"]; p != "" {
		rules.Precedence = filepath.SplitList(p)
	}
	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, nil)
	cfg, err := loader.ClientConfig()
	if err != nil {
		return nil, "", fmt.Errorf("loading kubeconfig (set KUBECONFIG, or run in a cluster): %w", err)
	}
	ns, _, err := loader.Namespace()
	if err != nil {
		return nil, "", fmt.Errorf("reading the kubeconfig's namespace: %w", err)
	}
	return cfg, ns, nil
}
