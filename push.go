package function

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/knative-eventmesh/function/announce"
	"github.com/knative-eventmesh/function/intake"
	"github.com/knative-eventmesh/function/kubeclient"
	"github.com/knative-eventmesh/function/mesh"
	"github.com/knative-eventmesh/function/respond"
)

// startPush starts announcing mesh changes when K_SINK is set. namespace
// is the function's own; env gives K_SERVICE.
func (f *Function) startPush(namespace string, env map[string]string) error {
	p := f.settings.Push
	if p.Sink == "" {
		f.log.Info("push is off: K_SINK is not set (bind a SinkBinding to the function to announce mesh changes)")
		return nil
	}
	own, err := f.clients.Own()
	if err != nil {
		return err
	}
	cfg, err := f.pushConfig(namespace, env["K_SERVICE"])
	if err != nil {
		return err
	}
	f.intake, err = f.intakeGuard(own, namespace, env["K_SERVICE"])
	if err != nil {
		return err
	}
	store := &announce.Store{ConfigMaps: own.Core.ConfigMaps(cmp.Or(p.StateNamespace, namespace)), Name: p.StateConfigMap}
	// meshOf logs what it leaves out of the mesh.
	build := func(ctx context.Context) (m *mesh.Mesh, err error) {
		err = f.meshOf(ctx, own, nil, false, func(built *mesh.Mesh, _ []string) error {
			m = built
			return nil
		})
		return m, err
	}
	f.push, err = announce.New(cfg, build, store, f.log.With("component", "push"))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.stopPush = cancel
	f.pushDone = make(chan struct{})
	go func() {
		defer close(f.pushDone)
		f.push.Run(ctx)
	}()
	f.log.Info("push is on", "sink", cfg.Sink, "source", cfg.Source, "state", store.Name, "debounce", cfg.Debounce.String())
	return nil
}

// pushConfig is the announcer's configuration, from the push settings,
// the function's namespace and its Knative Service's name.
func (f *Function) pushConfig(namespace, service string) (announce.Config, error) {
	p := f.settings.Push
	cfg := announce.Config{
		Sink:     p.Sink,
		Source:   cmp.Or(p.Source, serviceReference(namespace, service)),
		Subject:  p.ClusterName,
		DataRef:  cmp.Or(p.MeshURL, serviceURL(namespace, service)) + meshPath,
		Debounce: p.Debounce,
		Holder:   holder(),
		ClaimTTL: p.ClaimTTL,
		RetryMin: min(time.Second, p.Debounce),
		RetryMax: time.Minute,
		// From RetryMin doubling to RetryMax, a minute, with up to 50 %
		// jitter, twelve attempts take six to nine minutes; then the next
		// notification (the PingSource's, every ten minutes, at the
		// latest) tries again.
		MaxAttempts:   announce.DefaultMaxAttempts,
		MaxIndexBytes: p.MaxIndexBytes,
		// Building (at most the mesh timeout), then sending within the claim.
		SyncTimeout: f.settings.Timeout + p.ClaimTTL,
		TokenFile:   p.TokenFile,
	}
	if p.Secret != "" {
		cfg.Header = http.Header{SecretHeader: {p.Secret}}
	}
	if p.CACerts != "" {
		pool, err := certPool(p.CACerts)
		if err != nil {
			return cfg, err
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// certPool returns the system's certificates and those of pem.
func certPool(pem string) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM([]byte(pem)) {
		return nil, errors.New("K_CA_CERTS holds no PEM certificate: set it to the sink's CA certificates, or leave it unset")
	}
	return pool, nil
}

// intakeGuard returns the check of incoming notifications, with the
// function's own clients.
func (f *Function) intakeGuard(own *kubeclient.Clients, namespace, service string) (*intake.Guard, error) {
	in := f.settings.Push.Intake
	sources, err := intake.ParseSources(in.Sources, namespace)
	if err != nil {
		return nil, fmt.Errorf("INTAKE_SOURCES: %w", err)
	}
	cfg := intake.Config{
		Audience: cmp.Or(in.Audience, intake.Audience(namespace, cmp.Or(service, "eventmesh"))),
		Sources:  sources,
		Subjects: intake.ParseSubjects(in.Subjects),
	}
	f.log.Info("notifications need a token of audience "+cfg.Audience+" once a push source has an OIDC identity",
		"sources", in.Sources, "subjects", len(cfg.Subjects))
	return intake.New(cfg, own.Authentication.TokenReviews(), own.Dynamic, f.log.With("component", "intake")), nil
}

// SecretHeader carries PUSH_SECRET with each announcement: the Backstage
// module's events ingress answers 401 to a POST without it.
const SecretHeader = "X-Eventmesh-Secret"

// serveEvent takes a CloudEvent that says the cluster changed.
func (f *Function) serveEvent(w http.ResponseWriter, r *http.Request) {
	if f.push == nil {
		respond.Error(w, http.StatusConflict, "push is off: set K_SINK (a SinkBinding does) to have the function announce mesh changes")
		return
	}
	if err := f.intake.Check(r.Context(), r); err != nil {
		var d *intake.Denial
		if errors.As(err, &d) {
			respond.Error(w, d.Status, d.Reason)
			return
		}
		respond.Error(w, http.StatusInternalServerError, err.Error())
		return
	}
	var rej *announce.Rejection
	switch err := f.push.Take(r); {
	case err == nil:
		w.WriteHeader(http.StatusAccepted)
	case errors.As(err, &rej):
		respond.Error(w, rej.Status, rej.Reason)
	default:
		respond.Error(w, http.StatusBadRequest, err.Error())
	}
}

// serviceReference is the URI reference of a Knative Service, the source
// of announcements.
func serviceReference(namespace, service string) string {
	if service == "" {
		return "/eventmesh"
	}
	return fmt.Sprintf("/apis/serving.knative.dev/v1/namespaces/%s/services/%s", namespace, service)
}

// serviceURL is the cluster-local URL of a Knative Service.
func serviceURL(namespace, service string) string {
	if service == "" {
		return "http://localhost:8080"
	}
	return fmt.Sprintf("http://%s.%s.svc.cluster.local", service, namespace)
}

// holder names this instance in push claims: its host (the Pod's name)
// and a random part, as a restarted Pod is another instance.
func holder() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return cmp.Or(host, "instance") + "-" + hex.EncodeToString(b)
}
