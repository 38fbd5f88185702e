package knative

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/knative-eventmesh/function/tests/catalog"
	"github.com/knative-eventmesh/function/tests/functest"
	"github.com/knative-eventmesh/function/tests/knativeinstall"
)

const (
	ns = knativeinstall.FunctionNamespace
	// ksvcURL is the function's cluster-local URL.
	ksvcURL  = "http://eventmesh.knative-eventing.svc.cluster.local"
	meshPath = "/v1/getEventMesh"
	// functionPods selects the function's pods.
	functionPods = "serving.knative.dev/service=eventmesh"
	// zeroTimeout bounds the wait for scale to zero: Knative's defaults
	// (a 60 s stable window, a 30 s grace period) take about 90 s.
	zeroTimeout = 5 * time.Minute
	// brokerURL is the address of the Broker default of knative-eventing,
	// the sink of rbac/push.yaml's SinkBinding, and brokerAudience its
	// OIDC audience.
	brokerURL      = "http://broker-ingress.knative-eventing.svc.cluster.local/knative-eventing/default"
	brokerAudience = "eventing.knative.dev/broker/knative-eventing/default"
	// pushBound bounds push from zero: well below the ten-minute resync
	// of rbac/push.yaml's PingSource, so that only the ApiServerSource's
	// path can meet it.
	pushBound = time.Minute
)

// figures are what the tests measured, written to test-figures.json in
// the state folder, for the README.
var figures = struct {
	sync.Mutex
	values map[string]float64
}{values: map[string]float64{}}

// record keeps a figure, in seconds, and logs it.
func record(t *testing.T, name string, seconds float64) {
	t.Helper()
	t.Logf("%s: %.2fs", name, seconds)
	figures.Lock()
	defer figures.Unlock()
	figures.values[name] = seconds
	data, _ := json.MarshalIndent(figures.values, "", "  ")
	if err := os.WriteFile(filepath.Join(state, "test-figures.json"), append(data, '\n'), 0o644); err != nil {
		t.Error(err)
	}
}

// TestDeployedByFunc checks the Knative Service that func deploy made:
// Ready, at the cluster-local URL, its image pushed by func to the local
// registry and named by digest, and K_SINK and the OIDC token set by the
// SinkBinding of rbac/push.yaml as shipped: the Broker default's.
func TestDeployedByFunc(t *testing.T) {
	ctx := context.Background()
	ksvc, err := testCluster.Dynamic().Resource(knativeinstall.KsvcResource).Namespace(ns).Get(ctx, "eventmesh", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, _, _ := unstructured.NestedString(ksvc.Object, "status", "url"); got != ksvcURL {
		t.Errorf("status.url = %q, want %q", got, ksvcURL)
	}
	if ready, msg := knativeinstall.ReadyCondition(ksvc); !ready {
		t.Errorf("ksvc is not Ready: %s", msg)
	}
	containers, _, _ := unstructured.NestedSlice(ksvc.Object, "spec", "template", "spec", "containers")
	if len(containers) != 1 {
		t.Fatalf("ksvc has %d containers, want 1", len(containers))
	}
	c := containers[0].(map[string]any)
	if image, _ := c["image"].(string); !strings.Contains(image, "/knative-eventmesh/eventmesh@sha256:") {
		t.Errorf("image = %q, want func's push to the local registry, by digest", image)
	}
	env := map[string]string{}
	envs, _ := c["env"].([]any)
	for _, e := range envs {
		m := e.(map[string]any)
		v, _ := m["value"].(string)
		env[m["name"].(string)] = v
	}
	if env["K_SINK"] != brokerURL {
		t.Errorf("K_SINK = %q, want the Broker default's address %q (set by the SinkBinding)", env["K_SINK"], brokerURL)
	}
	// With OIDC on, the SinkBinding mounts a token for the Broker's
	// audience at /oidc, where PUSH_TOKEN_FILE reads it by default.
	mounts, _ := c["volumeMounts"].([]any)
	var oidc bool
	for _, m := range mounts {
		oidc = oidc || m.(map[string]any)["mountPath"] == "/oidc"
	}
	if !oidc {
		t.Errorf("no volume at /oidc: the SinkBinding mounted no OIDC token (volumeMounts %v)", mounts)
	}
	if env["CLUSTER_NAME"] == "" {
		t.Error("CLUSTER_NAME from func.yaml is not set")
	}
}

// TestCallFromPod calls the function from a pod, at its ksvc URL, as the
// Backstage provider does: with the reader's token it gets the mesh, and
// without a token 401.
func TestCallFromPod(t *testing.T) {
	got := callFromPod(t, ksvcURL+meshPath, readerToken)
	if got.Status != http.StatusOK || !strings.Contains(got.Body, `"name":"order-created"`) {
		t.Fatalf("with the reader's token: %d %.300s", got.Status, got.Body)
	}
	record(t, "first request from a pod", got.Seconds)
	if got := callFromPod(t, ksvcURL+meshPath, ""); got.Status != http.StatusUnauthorized {
		t.Errorf("without a token: %d %.300s, want 401", got.Status, got.Body)
	}
}

// TestNotReachableFromOutside checks that Traefik's public entry point,
// which a load balancer would expose, has no route to the function, by
// any of its names, while the cluster-local one has. Its positive
// control is a public Knative Service, which answers 200 there: so the
// function's 404 means no route, not a dead entry point.
func TestNotReachableFromOutside(t *testing.T) {
	public := serviceURL(t, "traefik", "traefik")
	control := publicService(t)
	var status int
	err := wait.PollUntilContextTimeout(context.Background(), time.Second, time.Minute, true, func(context.Context) (bool, error) {
		status = getWithHost(t, public+"/", control, "")
		return status == http.StatusOK, nil
	})
	if err != nil {
		t.Fatalf("positive control: public Knative Service %s on the public entry point: %d, want 200", control, status)
	}
	for _, host := range []string{"eventmesh.knative-eventing.svc.cluster.local", "eventmesh.knative-eventing.example.com", "eventmesh.knative-eventing"} {
		if status := getWithHost(t, public+meshPath, host, readerToken); status != http.StatusNotFound {
			t.Errorf("public entry point, Host %s: %d, want 404", host, status)
		}
	}
	private := serviceURL(t, "traefik", "traefik-internal")
	if status := getWithHost(t, private+meshPath, "eventmesh.knative-eventing.svc.cluster.local", readerToken); status != http.StatusOK {
		t.Errorf("cluster-local entry point: %d, want 200", status)
	}
}

// publicService creates a public Knative Service, podprobe serve, which
// answers 200 to every request; it returns its host, as its public URL
// names it. The test's cleanup deletes it.
func publicService(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const name = "public-control"
	ksvc := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "serving.knative.dev/v1",
		"kind":       "Service",
		"metadata":   map[string]any{"name": name, "namespace": ns},
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
			"containers": []any{map[string]any{"image": podprobe, "args": []any{"serve"}}},
		}}},
	}}
	services := testCluster.Dynamic().Resource(knativeinstall.KsvcResource).Namespace(ns)
	if _, err := services.Create(ctx, ksvc, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating the public Knative Service: %v", err)
	}
	t.Cleanup(func() { _ = services.Delete(context.Background(), name, metav1.DeleteOptions{}) })
	if err := knativeinstall.WaitForReady(ctx, testCluster.Dynamic(), knativeinstall.KsvcResource, ns, name, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	got, err := services.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Without a domain of its own in config-domain, Serving names public
	// routes under svc.cluster.local too, as it names the function's.
	url, _, _ := unstructured.NestedString(got.Object, "status", "url")
	if !strings.HasPrefix(url, "http://") {
		t.Fatalf("the public Knative Service's URL is %q, want an http URL", url)
	}
	return strings.TrimPrefix(url, "http://")
}

// TestScaleToZeroAndBack waits until the idle function has no pod, then
// calls it: the call wakes it and succeeds. It records how long scale to
// zero took after the last request, and the cold start as the caller saw
// it.
func TestScaleToZeroAndBack(t *testing.T) {
	// Within the configured window: Knative's stable window, then its
	// grace period, and a little for the pod to stop.
	window := scaleToZeroWindow(t) + 30*time.Second
	afterResync(t, window)
	if got := callFromPod(t, ksvcURL+meshPath, readerToken); got.Status != http.StatusOK {
		t.Fatalf("warm call: %d %.300s", got.Status, got.Body)
	}
	last := time.Now()
	waitForZero(t)
	took := time.Since(last)
	record(t, "scale to zero after the last request", took.Seconds())
	if took > window {
		t.Errorf("scale to zero took %v, more than the configured window and 30s (%v)", took.Round(time.Second), window)
	}

	got := callFromPod(t, ksvcURL+meshPath, readerToken)
	if got.Status != http.StatusOK || !strings.Contains(got.Body, `"name":"order-created"`) {
		t.Fatalf("call from zero: %d %.300s", got.Status, got.Body)
	}
	record(t, "cold start, as the caller saw it", got.Seconds)
	if n := countPods(t); n == 0 {
		t.Error("the call succeeded, but the function has no pod")
	}
}

// TestPushFromZero creates a Broker while the function has no pod: the
// real ApiServerSource pod wakes it, and it announces the change to the
// Broker default that the SinkBinding gave it, whose Trigger delivers it
// to the sink.
func TestPushFromZero(t *testing.T) {
	ctx := context.Background()
	for _, o := range []struct {
		gvr  schema.GroupVersionResource
		name string
	}{{knativeinstall.APISourceResource, "eventmesh-changes"}, {knativeinstall.SinkBindingResource, "eventmesh-announcements"}} {
		obj, err := testCluster.Dynamic().Resource(o.gvr).Namespace(ns).Get(ctx, o.name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if ready, msg := knativeinstall.ReadyCondition(obj); !ready {
			t.Fatalf("%s %s is not Ready: %s", o.gvr.Resource, o.name, msg)
		}
	}
	waitForZero(t)
	name := "push-probe-" + rand.String(5)
	broker := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "eventing.knative.dev/v1",
		"kind":       "Broker",
		"metadata":   map[string]any{"name": name, "namespace": "shop"},
	}}
	brokers := testCluster.Dynamic().Resource(schema.GroupVersionResource{Group: "eventing.knative.dev", Version: "v1", Resource: "brokers"}).Namespace("shop")
	start := time.Now()
	if _, err := brokers.Create(ctx, broker, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = brokers.Delete(context.Background(), name, metav1.DeleteOptions{}) })

	var logs string
	err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		logs = sinkLogs(t)
		return announced(logs, name), nil
	})
	if err != nil {
		t.Fatalf("no mesh-changed announcement naming Broker shop/%s reached the sink in 3 minutes; its log ends:\n%s", name, tail(logs, 3000))
	}
	took := time.Since(start)
	record(t, "push from zero, kubectl to the sink through Broker default", took.Seconds())
	if took > pushBound {
		t.Errorf("push from zero took %v, more than %v: the ApiServerSource's path did not carry it", took.Round(time.Second), pushBound)
	}
}

// announced reports whether event_display's log shows a mesh-changed
// announcement that names the Broker, delivered through a Broker (which
// adds the extension knativearrivaltime).
func announced(logs, broker string) bool {
	named := regexp.MustCompile(`"name":\s*"` + regexp.QuoteMeta(broker) + `"`)
	for _, event := range strings.Split(logs, "☁️") {
		if strings.Contains(event, "type: dev.knative.eventmesh.changed") && strings.Contains(event, "knativearrivaltime") && named.MatchString(event) {
			return true
		}
	}
	return false
}

// TestBackstage runs a Backstage backend on the host with the published
// provider 1.21.0, and with ours, each reading the function at its ksvc
// URL through Traefik's cluster-local entry point, and checks that the
// catalog fills.
func TestBackstage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	if _, err := catalog.Install(ctx); err != nil {
		t.Fatal(err)
	}
	proxy := privateRoute(t)
	for _, published := range []bool{true, false} {
		name := map[bool]string{true: "published 1.21.0", false: "ours"}[published]
		t.Run(name, func(t *testing.T) {
			logs := &functest.Logs{}
			b, err := catalog.Start(ctx, catalog.Options{
				Providers:   map[string]catalog.Provider{"knative": {BaseURL: proxy, Token: readerToken}},
				Published:   published,
				LocalEvents: true,
				Logs:        logs,
			})
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if _, err := b.Stop(10 * time.Second); err != nil {
					t.Error(err)
				}
				if t.Failed() {
					t.Logf("backend logs:\n%s", tail(logs.String(), 5000))
				}
			}()
			err = wait.PollUntilContextTimeout(ctx, time.Second, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
				api, err := b.Entity(ctx, "api", "shop", "order-created")
				if err != nil || api == nil {
					return false, nil
				}
				return api.HasRelation("apiProvidedBy", "component:shop/orders"), nil
			})
			if err != nil {
				t.Fatalf("the catalog has no api:shop/order-created provided by component:shop/orders: %v", err)
			}
			if !published {
				checkBrokerEntity(ctx, t, b)
			}
		})
	}
}

// checkBrokerEntity checks that our provider's entity of the Broker
// default names as allowed subjects exactly what the mesh names, which
// TestBrokerEnforcesWhatTheMeshSays compares with what the Broker's
// ingress enforces.
func checkBrokerEntity(ctx context.Context, t *testing.T, b *catalog.Backend) {
	t.Helper()
	want := strings.Join(brokerSubjects(t, meshFromHost(t), ns, "default"), ",")
	e, err := b.Entity(ctx, "component", ns, "default")
	if err != nil || e == nil {
		t.Fatalf("no entity component:%s/default: %v", ns, err)
	}
	if got := e.Metadata.Annotations["knative.dev/allowed-subjects"]; got != want || want == "" {
		t.Errorf("the entity of Broker default allows %q, the mesh %q", got, want)
	}
}

// privateRoute serves, on loopback, a route to the function's ksvc URL
// through Traefik's cluster-local entry point: a reverse proxy that sets
// the Host header Traefik routes by. It returns the route's base URL.
func privateRoute(t *testing.T) string {
	t.Helper()
	target, err := url.Parse(serviceURL(t, "traefik", "traefik-internal"))
	if err != nil {
		t.Fatal(err)
	}
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		r.Out.Host = strings.TrimPrefix(ksvcURL, "http://")
	}}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return srv.URL
}

// probeResult is what podprobe get prints.
type probeResult struct {
	Status  int     `json:"status"`
	Seconds float64 `json:"seconds"`
	Body    string  `json:"body"`
}

// callFromPod runs podprobe get in a new pod of the function's namespace
// and returns what it printed.
func callFromPod(t *testing.T, target, token string) probeResult {
	t.Helper()
	return runProbe(t, probe{args: []string{"get", target}, env: map[string]string{"TOKEN": token}})
}

// probe is one run of podprobe in a pod of the function's namespace.
type probe struct {
	args []string
	env  map[string]string
	// serviceAccount runs the pod as that ServiceAccount ("": default).
	serviceAccount string
	// audience, when set, mounts a token of the pod's ServiceAccount for
	// that audience at tokenFile, and names it in TOKEN_FILE.
	audience string
}

// tokenFile is where a probe's projected token is.
const tokenFile = "/var/run/probe/token"

// runProbe runs p in a new pod and returns what podprobe printed.
func runProbe(t *testing.T, p probe) probeResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	pods := testCluster.Client().CoreV1().Pods(ns)
	pod, err := pods.Create(ctx, probePod(p), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = pods.Delete(context.Background(), pod.Name, metav1.DeleteOptions{}) }()
	var phase corev1.PodPhase
	err = wait.PollUntilContextCancel(ctx, 250*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		p, err := pods.Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		phase = p.Status.Phase
		return phase == corev1.PodSucceeded || phase == corev1.PodFailed, nil
	})
	logs, logErr := pods.GetLogs(pod.Name, &corev1.PodLogOptions{}).DoRaw(context.Background())
	if err != nil || logErr != nil || phase != corev1.PodSucceeded {
		t.Fatalf("podprobe %v: phase %s, %v, %v; log:\n%s", p.args, phase, err, logErr, logs)
	}
	var r probeResult
	if err := json.Unmarshal(logs, &r); err != nil {
		t.Fatalf("decoding podprobe's output: %v\n%s", err, logs)
	}
	return r
}

// probePod is the pod of a probe.
func probePod(p probe) *corev1.Pod {
	c := corev1.Container{Name: "probe", Image: podprobe, Args: p.args}
	for k, v := range p.env {
		c.Env = append(c.Env, corev1.EnvVar{Name: k, Value: v})
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "probe-", Namespace: ns},
		Spec: corev1.PodSpec{
			RestartPolicy:      corev1.RestartPolicyNever,
			ServiceAccountName: p.serviceAccount,
		},
	}
	if p.audience != "" {
		pod.Spec.Volumes = []corev1.Volume{{Name: "token", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
			Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Audience: p.audience, Path: "token"}}},
		}}}}
		c.VolumeMounts = []corev1.VolumeMount{{Name: "token", MountPath: filepath.Dir(tokenFile), ReadOnly: true}}
		c.Env = append(c.Env, corev1.EnvVar{Name: "TOKEN_FILE", Value: tokenFile})
	}
	pod.Spec.Containers = []corev1.Container{c}
	return pod
}

// afterResync waits, when the resync PingSource of rbac/push.yaml will
// call the function within d, until just after it has: its call is a
// request too, and would restart the wait for scale to zero.
func afterResync(t *testing.T, d time.Duration) {
	t.Helper()
	ping, err := testCluster.Dynamic().Resource(schema.GroupVersionResource{Group: "sources.knative.dev", Version: "v1", Resource: "pingsources"}).
		Namespace(ns).Get(context.Background(), "eventmesh-resync", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	schedule, _, _ := unstructured.NestedString(ping.Object, "spec", "schedule")
	var every int
	if _, err := fmt.Sscanf(schedule, "*/%d * * * *", &every); err != nil || every <= 0 {
		t.Fatalf("the resync's schedule %q is not every N minutes; this test knows no other", schedule)
	}
	period := time.Duration(every) * time.Minute
	now := time.Now()
	next := now.Truncate(period).Add(period) // cron's minutes count from the hour, as Truncate does
	if next.Sub(now) < d {
		wait := next.Sub(now) + 10*time.Second
		t.Logf("waiting %v, until after the resync at %s", wait.Round(time.Second), next.Format(time.TimeOnly))
		time.Sleep(wait)
	}
}

// scaleToZeroWindow returns config-autoscaler's stable-window plus its
// scale-to-zero-grace-period, Knative's defaults (60s, 30s) where unset.
func scaleToZeroWindow(t *testing.T) time.Duration {
	t.Helper()
	cm, err := testCluster.Client().CoreV1().ConfigMaps("knative-serving").Get(context.Background(), "config-autoscaler", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	total := time.Duration(0)
	for key, def := range map[string]time.Duration{"stable-window": 60 * time.Second, "scale-to-zero-grace-period": 30 * time.Second} {
		d := def
		if v, ok := cm.Data[key]; ok {
			if d, err = time.ParseDuration(v); err != nil {
				t.Fatalf("config-autoscaler %s: %v", key, err)
			}
		}
		total += d
	}
	return total
}

// countPods returns how many pods the function has, terminating or not.
func countPods(t *testing.T) int {
	t.Helper()
	list, err := testCluster.Client().CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: functionPods})
	if err != nil {
		t.Fatal(err)
	}
	return len(list.Items)
}

// waitForZero waits until the function has no pod at all.
func waitForZero(t *testing.T) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), time.Second, zeroTimeout, true, func(ctx context.Context) (bool, error) {
		return countPods(t) == 0, nil
	})
	if err != nil {
		t.Fatalf("the function still has %d pods after %v", countPods(t), zeroTimeout)
	}
}

// sinkLogs returns the logs of the sink's pods.
func sinkLogs(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	pods := testCluster.Client().CoreV1().Pods("eventmesh-sink")
	list, err := pods.List(ctx, metav1.ListOptions{LabelSelector: "app=sink"})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, p := range list.Items {
		logs, err := pods.GetLogs(p.Name, &corev1.PodLogOptions{}).DoRaw(ctx)
		if err != nil && !apierrors.IsNotFound(err) {
			t.Logf("logs of %s: %v", p.Name, err)
		}
		b.Write(logs)
	}
	return b.String()
}

// serviceURL returns http://<cluster IP>:<first port> of a Service, which
// the host reaches through kube-proxy's rules.
func serviceURL(t *testing.T, namespace, name string) string {
	t.Helper()
	svc, err := testCluster.Client().CoreV1().Services(namespace).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("http://%s:%d", svc.Spec.ClusterIP, svc.Spec.Ports[0].Port)
}

// getWithHost sends GET target with a Host header and a token, and
// returns the status.
func getWithHost(t *testing.T, target, host, token string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
