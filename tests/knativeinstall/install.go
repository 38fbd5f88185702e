package knativeinstall

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/knative-eventmesh/function/tests/cluster"
	"github.com/knative-eventmesh/function/tests/versions"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
)

// The releases installed (tests/versions), the same as the CRDs of the
// tests' API server.
var (
	ServingModule  = versions.Query(versions.ServingModule)
	EventingModule = versions.Query(versions.EventingModule)
)

// The modules of Serving's networking and caching CRDs and
// config-network, which Serving's repository links to (and its module
// leaves out), at the versions Serving requires.
const (
	NetworkingModule = "knative.dev/networking@v0.0.0-20260727162500-c7a7b772cac9"
	CachingModule    = "knative.dev/caching@v0.0.0-20260727161800-0edbf88bc267"
)

// The commands of each release that make knative builds and wraps into
// images, as paths under the module's cmd/: those the manifests name, and
// Eventing's event_display, the announcements' sink. The Makefile's
// SERVING_CMDS and EVENTING_CMDS list the same; go build names each binary
// after the path's last element.
var (
	ServingCommands  = []string{"controller", "webhook", "activator", "autoscaler", "queue"}
	EventingCommands = []string{"controller", "webhook", "apiserver_receive_adapter", "mtping", "jobsink", "requestreply", "auth_proxy", "event_display",
		"mtchannel_broker", "broker/ingress", "broker/filter", "in_memory/channel_controller", "in_memory/channel_dispatcher"}
)

// PublicDomain is the domain of public routes (config-domain).
const PublicDomain = "example.com"

// TraefikClass is the ingress class of Traefik's Knative provider.
const TraefikClass = "traefik.ingress.networking.knative.dev"

// Serving installs Knative Serving from its module's config/core, with
// Traefik as its ingress. registry is the local registry's host, whose
// images Serving must not resolve to digests: its controller, in a pod,
// cannot reach a registry on the host's loopback.
func Serving(ctx context.Context, c *cluster.Cluster, images Images, registry string) error {
	dirs, err := servingDirs(ctx)
	if err != nil {
		return err
	}
	docs, err := manifests(dirs, images, servingEdits(registry)...)
	if err != nil {
		return fmt.Errorf("reading Knative Serving's manifests: %w", err)
	}
	if err := c.Apply(ctx, docs); err != nil {
		return fmt.Errorf("installing Knative Serving: %w", err)
	}
	return nil
}

// servingEdits are the settings of Serving that differ from its defaults.
// config-domain names example.com, as a real cluster names its own
// domain: without one, Serving names every route under
// svc.cluster.local, and none is public.
func servingEdits(registry string) []edit {
	return []edit{
		setConfigMapData("knative-serving", "config-network", map[string]string{"ingress-class": TraefikClass}),
		setConfigMapData("knative-serving", "config-domain", map[string]string{PublicDomain: ""}),
		setConfigMapData("knative-serving", "config-deployment", map[string]string{
			"registries-skipping-tag-resolving": "kind.local,ko.local,dev.local," + registry,
		}),
	}
}

// servingDirs returns the folders of Serving's manifests: its config/core,
// and the config folders of networking and caching.
func servingDirs(ctx context.Context) ([]string, error) {
	var dirs []string
	for _, m := range []struct{ module, dir string }{
		{NetworkingModule, "config"},
		{CachingModule, "config"},
		{ServingModule, filepath.Join("config", "core")},
	} {
		dir, err := cluster.ModuleDir(ctx, m.module)
		if err != nil {
			return nil, err
		}
		dirs = append(dirs, filepath.Join(dir, m.dir))
	}
	return dirs, nil
}

// Traefik installs Traefik with its Knative provider: public Ingresses on
// the Service traefik, cluster-local ones on traefik-internal.
func Traefik(ctx context.Context, c *cluster.Cluster, image string) error {
	return applyWithImage(ctx, c, "Traefik", traefikYAML, image)
}

// Eventing installs Knative Eventing from its module's config/core, with
// its MT channel-based Broker and the InMemoryChannel that Brokers of that
// class are made of: the Broker default of rbac/push.yaml is a real one.
func Eventing(ctx context.Context, c *cluster.Cluster, images Images) error {
	dirs, err := eventingDirs(ctx)
	if err != nil {
		return err
	}
	docs, err := manifests(dirs, images)
	if err != nil {
		return fmt.Errorf("reading Knative Eventing's manifests: %w", err)
	}
	docs = append([]byte(eventingImagesYAML), docs...)
	if err := c.Apply(ctx, docs); err != nil {
		return fmt.Errorf("installing Knative Eventing: %w", err)
	}
	return nil
}

// eventingDirs returns the folders of Eventing's manifests: its core, the
// InMemoryChannel and the MT channel-based Broker.
func eventingDirs(ctx context.Context) ([]string, error) {
	dir, err := cluster.ModuleDir(ctx, EventingModule)
	if err != nil {
		return nil, err
	}
	return []string{
		filepath.Join(dir, "config", "core"),
		filepath.Join(dir, "config", "channels", "in-memory-channel"),
		filepath.Join(dir, "config", "brokers", "mt-channel-broker"),
	}, nil
}

// Sink installs the announcements' sink: Eventing's event_display, which
// logs each CloudEvent it receives, as the Service sink of namespace
// eventmesh-sink.
func Sink(ctx context.Context, c *cluster.Cluster, image string) error {
	return applyWithImage(ctx, c, "the announcements' sink", sinkYAML, image)
}

// applyWithImage applies manifests with $IMAGE replaced by image.
func applyWithImage(ctx context.Context, c *cluster.Cluster, what, manifests, image string) error {
	if err := c.Apply(ctx, []byte(strings.ReplaceAll(manifests, "$IMAGE", image))); err != nil {
		return fmt.Errorf("installing %s: %w", what, err)
	}
	return nil
}

// WaitForDeployments waits, up to timeout, until every Deployment of the
// namespaces with replicas has them all available.
func WaitForDeployments(ctx context.Context, client kubernetes.Interface, timeout time.Duration, namespaces ...string) error {
	var pending []string
	err := wait.PollUntilContextTimeout(ctx, time.Second, timeout, true, func(ctx context.Context) (bool, error) {
		pending = pending[:0]
		for _, ns := range namespaces {
			list, err := client.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				return false, nil
			}
			for _, d := range list.Items {
				if !available(&d) {
					pending = append(pending, ns+"/"+d.Name)
				}
			}
		}
		return len(pending) == 0, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for Deployments %v: %w", pending, err)
	}
	return nil
}

// available reports whether all of a Deployment's replicas are updated
// and available.
func available(d *appsv1.Deployment) bool {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	return d.Status.ObservedGeneration >= d.Generation && d.Status.UpdatedReplicas >= want && d.Status.AvailableReplicas >= want
}

// traefikYAML runs Traefik with its (experimental) Knative provider. The
// provider needs the experimental flag, entry points for public and
// cluster-local routes, and the Services that reach them, which it writes
// into each Knative Ingress's status.
const traefikYAML = `
apiVersion: v1
kind: Namespace
metadata: {name: traefik}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: traefik, namespace: traefik}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: traefik-knative}
rules:
- apiGroups: [networking.internal.knative.dev]
  resources: [ingresses]
  verbs: [get, list, watch]
- apiGroups: [networking.internal.knative.dev]
  resources: [ingresses/status]
  verbs: [update]
- apiGroups: [""]
  resources: [services, secrets, endpoints]
  verbs: [get, list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: traefik-knative}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: traefik-knative}
subjects:
- {kind: ServiceAccount, name: traefik, namespace: traefik}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: traefik, namespace: traefik}
spec:
  replicas: 1
  selector: {matchLabels: {app: traefik}}
  template:
    metadata: {labels: {app: traefik}}
    spec:
      serviceAccountName: traefik
      containers:
      - name: traefik
        image: $IMAGE
        args:
        - --experimental.knative=true
        - --providers.knative=true
        - --providers.knative.publicEntrypoints=web
        - --providers.knative.publicService.name=traefik
        - --providers.knative.publicService.namespace=traefik
        - --providers.knative.privateEntrypoints=web-internal
        - --providers.knative.privateService.name=traefik-internal
        - --providers.knative.privateService.namespace=traefik
        - --entryPoints.web.address=:8080
        - --entryPoints.web-internal.address=:8081
        - --entryPoints.traefik.address=:9000
        - --ping=true
        - --log.level=INFO
        ports:
        - {name: web, containerPort: 8080}
        - {name: web-internal, containerPort: 8081}
        readinessProbe:
          httpGet: {path: /ping, port: 9000}
          periodSeconds: 2
---
apiVersion: v1
kind: Service
metadata: {name: traefik, namespace: traefik}
spec:
  selector: {app: traefik}
  ports:
  - {name: http, port: 80, targetPort: 8080}
---
apiVersion: v1
kind: Service
metadata: {name: traefik-internal, namespace: traefik}
spec:
  selector: {app: traefik}
  ports:
  - {name: http, port: 80, targetPort: 8081}
`

// eventingImagesYAML holds the two ConfigMaps of images that Eventing's
// controller reads and its release generates: the images of EventTransform's
// JSONata transformer (JavaScript) and of IntegrationSources and
// IntegrationSinks (Java). They are not Go, so make knative builds none:
// their names here are of no registry, and such objects get no running
// Deployment. The function reads them all the same.
const eventingImagesYAML = `
apiVersion: v1
kind: Namespace
metadata: {name: knative-eventing}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: eventing-transformations-images, namespace: knative-eventing}
data:
  transform-jsonata: not-built.invalid/transform-jsonata
---
apiVersion: v1
kind: ConfigMap
metadata: {name: eventing-integrations-images, namespace: knative-eventing}
data:
  aws-ddb-streams-source: not-built.invalid/aws-ddb-streams-source
  aws-s3-sink: not-built.invalid/aws-s3-sink
  aws-s3-source: not-built.invalid/aws-s3-source
  aws-sns-sink: not-built.invalid/aws-sns-sink
  aws-sqs-sink: not-built.invalid/aws-sqs-sink
  aws-sqs-source: not-built.invalid/aws-sqs-source
  log-sink: not-built.invalid/log-sink
  timer-source: not-built.invalid/timer-source
`

// sinkYAML runs Eventing's event_display as the Service sink.
const sinkYAML = `
apiVersion: v1
kind: Namespace
metadata: {name: eventmesh-sink}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: sink, namespace: eventmesh-sink}
spec:
  replicas: 1
  selector: {matchLabels: {app: sink}}
  template:
    metadata: {labels: {app: sink}}
    spec:
      containers:
      - name: event-display
        image: $IMAGE
        ports:
        - {containerPort: 8080}
---
apiVersion: v1
kind: Service
metadata: {name: sink, namespace: eventmesh-sink}
spec:
  selector: {app: sink}
  ports:
  - {name: http, port: 80, targetPort: 8080}
`
