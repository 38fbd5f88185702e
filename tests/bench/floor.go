package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensions "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
)

// The Accept headers of the function's clients: client-go's metadata
// client, its dynamic client, and a REST client for Eventing's types.
const (
	acceptMetadata = "application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
	acceptJSON     = "application/json"
	acceptTyped    = "application/json, */*"
	// Aggregated discovery, which kube-apiserver 1.37 serves.
	acceptDiscovery = "application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
)

// call is one request of the floor, paged when it is a list.
type call struct {
	name, path, selector, accept string
	get                          bool  // a GET of one object, not a list
	after                        []int // the calls whose answers the function needs first
}

// floor issues the requests of a mesh build raw, each list paged, the
// bodies read but not decoded: all at once, or chained in the order the
// function needs their answers.
type floor struct {
	rc       *rest.RESTClient
	calls    []call
	pageSize int64
}

// newFloor prepares the requests the function makes for the whole
// cluster, with the reader's token. The kinds of channels and sources are
// found once here, through the CRDs' names and API discovery, as the
// function finds them on each build.
func newFloor(ctx context.Context, admin *rest.Config, token string, pageSize int64) (*floor, error) {
	cfg := rest.AnonymousClientConfig(admin)
	cfg.BearerToken = token
	cfg.QPS = -1
	// As the function's clients: no gzip between it and the API server.
	cfg.DisableCompression = true
	cfg.UserAgent = "eventmesh-bench-floor"
	cfg.NegotiatedSerializer = scheme.Codecs.WithoutConversion()
	rc, err := rest.UnversionedRESTClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("building the floor's client: %w", err)
	}
	const crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
	// The indexes 5, 6 and 8 are named in after.
	f := &floor{rc: rc, pageSize: pageSize, calls: []call{
		{name: "discover eventtypes", path: "/apis/eventing.knative.dev/v1beta2", accept: acceptJSON, get: true},
		{name: "brokers", path: "/apis/eventing.knative.dev/v1/brokers", accept: acceptTyped},
		// EventTypes are listed at v1beta2 while discovery is asked for the
		// version they are stored at.
		{name: "eventtypes", path: "/apis/eventing.knative.dev/v1beta2/eventtypes", accept: acceptJSON},
		{name: "triggers", path: "/apis/eventing.knative.dev/v1/triggers", accept: acceptTyped},
		{name: "subscriptions", path: "/apis/messaging.knative.dev/v1/subscriptions", accept: acceptTyped},
		{name: "channel CRDs", path: crds, selector: "messaging.knative.dev/subscribable=true", accept: acceptMetadata},
		{name: "source CRDs", path: crds, selector: "duck.knative.dev/source=true", accept: acceptMetadata},
		// Knative Services, the usual subscribers, are listed with the
		// Triggers, not after them.
		{name: "subscribers", path: "/apis/serving.knative.dev/v1/services", selector: "backstage.io/kubernetes-id", accept: acceptMetadata},
		{name: "discover APIs", path: "/apis", accept: acceptDiscovery, get: true},
		// The kinds beside brokers and channels, and the default
		// authorization mode, read with the others.
		{name: "eventpolicies", path: "/apis/eventing.knative.dev/v1alpha1/eventpolicies", accept: acceptTyped},
		{name: "eventtransforms", path: "/apis/eventing.knative.dev/v1alpha1/eventtransforms", accept: acceptTyped},
		{name: "requestreplies", path: "/apis/eventing.knative.dev/v1alpha1/requestreplies", accept: acceptTyped},
		{name: "jobsinks", path: "/apis/sinks.knative.dev/v1alpha1/jobsinks", accept: acceptTyped},
		{name: "integrationsinks", path: "/apis/sinks.knative.dev/v1alpha1/integrationsinks", accept: acceptTyped},
		{name: "sequences", path: "/apis/flows.knative.dev/v1/sequences", accept: acceptTyped},
		{name: "parallels", path: "/apis/flows.knative.dev/v1/parallels", accept: acceptTyped},
		{name: "config-features", path: "/api/v1/namespaces/knative-eventing/configmaps/config-features", accept: acceptJSON, get: true},
	}}
	client, err := apiextensions.NewForConfig(admin)
	if err != nil {
		return nil, fmt.Errorf("building the CRD client: %w", err)
	}
	for _, k := range []struct {
		label, category, accept string
		after                   int
	}{
		{"messaging.knative.dev/subscribable=true", "channel", acceptTyped, 5},
		{"duck.knative.dev/source=true", "sources", acceptJSON, 6},
	} {
		list, err := client.ApiextensionsV1().CustomResourceDefinitions().List(ctx, metav1.ListOptions{LabelSelector: k.label})
		if err != nil {
			return nil, fmt.Errorf("listing CRDs: %w", err)
		}
		if err := f.addKinds(client.Discovery(), list.Items, k.category, k.accept, k.after); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// addKinds adds the calls that read the objects of crds, at the preferred
// version of the group if it serves them, else at the first other version
// that does: after the call that discovers the APIs (8) and, unless the
// CRD is in category (which the function lists as soon as discovery
// answers), the call that lists the CRDs.
func (f *floor) addKinds(disc discovery.DiscoveryInterface, crds []apiextensionsv1.CustomResourceDefinition, category, accept string, after int) error {
	groups, resources, err := disc.ServerGroupsAndResources()
	if err != nil {
		return fmt.Errorf("discovering the APIs: %w", err)
	}
	for _, crd := range crds {
		i := slices.IndexFunc(groups, func(g *metav1.APIGroup) bool { return g.Name == crd.Spec.Group })
		if i < 0 {
			return fmt.Errorf("API group %s is not served", crd.Spec.Group)
		}
		g := groups[i]
		versions := append([]metav1.GroupVersionForDiscovery{g.PreferredVersion}, g.Versions...)
		for _, v := range versions {
			j := slices.IndexFunc(resources, func(l *metav1.APIResourceList) bool { return l.GroupVersion == v.GroupVersion })
			if j >= 0 && slices.ContainsFunc(resources[j].APIResources, func(r metav1.APIResource) bool { return r.Name == crd.Spec.Names.Plural }) {
				c := call{name: crd.Spec.Names.Plural, path: "/apis/" + v.GroupVersion + "/" + crd.Spec.Names.Plural, accept: accept, after: []int{8}}
				if !slices.Contains(crd.Spec.Names.Categories, category) {
					c.after = append(c.after, after)
				}
				f.calls = append(f.calls, c)
				break
			}
		}
	}
	return nil
}

// floorRun is one run of the floor.
type floorRun struct {
	d        time.Duration
	requests int
	calls    []time.Duration // how long each call took, all its pages
}

// run issues the requests: all at once, or, when chained, each call once
// the calls it comes after are answered.
func (f *floor) run(ctx context.Context, chained bool) (floorRun, error) {
	start := time.Now()
	counts := make([]int, len(f.calls))
	errs := make([]error, len(f.calls))
	r := floorRun{calls: make([]time.Duration, len(f.calls))}
	done := make([]chan struct{}, len(f.calls))
	for i := range done {
		done[i] = make(chan struct{})
	}
	var wg sync.WaitGroup
	for i, c := range f.calls {
		wg.Go(func() {
			defer close(done[i])
			if chained {
				for _, j := range c.after {
					<-done[j]
				}
			}
			t := time.Now()
			counts[i], errs[i] = f.do(ctx, c)
			r.calls[i] = time.Since(t)
		})
	}
	wg.Wait()
	r.d = time.Since(start)
	for _, c := range counts {
		r.requests += c
	}
	return r, errors.Join(errs...)
}

// do issues one call, page after page; it returns the number of requests.
func (f *floor) do(ctx context.Context, c call) (int, error) {
	cont := ""
	for n := 1; ; n++ {
		req := f.rc.Get().AbsPath(c.path).SetHeader("Accept", c.accept)
		if !c.get {
			req = req.Param("limit", strconv.FormatInt(f.pageSize, 10))
		}
		if c.selector != "" {
			req = req.Param("labelSelector", c.selector)
		}
		if cont != "" {
			req = req.Param("continue", cont)
		}
		body, err := req.DoRaw(ctx)
		if err != nil {
			return n, fmt.Errorf("GET %s: %w", c.path, err)
		}
		if c.get {
			return n, nil
		}
		if cont, err = continueToken(body); err != nil {
			return n, fmt.Errorf("GET %s: %w", c.path, err)
		}
		if cont == "" {
			return n, nil
		}
	}
}

// continueToken reads metadata.continue of a list without decoding its
// items: in JSON the API server writes metadata before items; in protobuf
// (the metadata client's lists) the items are skipped by their length.
func continueToken(body []byte) (string, error) {
	if p, ok := bytes.CutPrefix(body, []byte("k8s\x00")); ok {
		return protoContinue(p)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if _, err := dec.Token(); err != nil {
		return "", err
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return "", err
		}
		if key == "metadata" {
			var meta struct {
				Continue string `json:"continue"`
			}
			err := dec.Decode(&meta)
			return meta.Continue, err
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return "", err
		}
	}
	return "", nil
}

// protoContinue reads the continue token of a protobuf list: field 2 (raw)
// of the runtime.Unknown envelope holds the list, whose field 1 is its
// ListMeta, whose field 3 is the token.
func protoContinue(b []byte) (string, error) {
	for _, num := range []uint64{2, 1, 3} {
		var ok bool
		var err error
		if b, ok, err = protoBytes(b, num); err != nil || !ok {
			return "", err
		}
	}
	return string(b), nil
}

// protoBytes returns the first length-delimited field num of a protobuf
// message.
func protoBytes(b []byte, num uint64) ([]byte, bool, error) {
	for len(b) > 0 {
		tag, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, false, errors.New("bad protobuf tag")
		}
		b = b[n:]
		var size uint64
		switch tag & 7 {
		case 0:
			if _, n = binary.Uvarint(b); n <= 0 {
				return nil, false, errors.New("bad protobuf varint")
			}
			size = uint64(n)
		case 1:
			size = 8
		case 5:
			size = 4
		case 2:
			l, n := binary.Uvarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return nil, false, errors.New("bad protobuf length")
			}
			if tag>>3 == num {
				return b[n : n+int(l)], true, nil
			}
			b, size = b[n:], l
		default:
			return nil, false, fmt.Errorf("unexpected protobuf wire type %d", tag&7)
		}
		if size > uint64(len(b)) {
			return nil, false, errors.New("truncated protobuf")
		}
		b = b[size:]
	}
	return nil, false, nil
}

// requestCounter reads kube-apiserver's own count of requests.
type requestCounter struct {
	rc *rest.RESTClient
}

func newRequestCounter(admin *rest.Config) (*requestCounter, error) {
	cfg := rest.CopyConfig(admin)
	cfg.QPS = -1
	cfg.NegotiatedSerializer = scheme.Codecs.WithoutConversion()
	rc, err := rest.UnversionedRESTClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("building the metrics client: %w", err)
	}
	return &requestCounter{rc: rc}, nil
}

// requests are request counts and the bytes of their answers: by "VERB
// resource.group" ("GET discovery" for /apis/...), and the total count made
// by ServiceAccounts (the reader's token).
type requests struct {
	byResource      map[string]float64
	bytes           map[string]float64
	serviceAccounts float64
}

// read scrapes GET /metrics: apiserver_request_total and the sum of
// apiserver_response_sizes by verb and resource, and the requests that API
// Priority and Fairness dispatched for the "service-accounts" flow schema,
// which only the reader's token uses here.
func (c *requestCounter) read(ctx context.Context) (requests, error) {
	body, err := c.rc.Get().AbsPath("/metrics").SetHeader("Accept", "text/plain").DoRaw(ctx)
	if err != nil {
		return requests{}, fmt.Errorf("reading kube-apiserver's metrics: %w", err)
	}
	r := requests{byResource: map[string]float64{}, bytes: map[string]float64{}}
	for line := range strings.Lines(string(body)) {
		name, labels, value, ok := parseSample(line)
		if !ok {
			continue
		}
		switch name {
		case "apiserver_request_total":
			if key, ok := requestKey(labels); ok {
				r.byResource[key] += value
			}
		case "apiserver_response_sizes_sum":
			if key, ok := requestKey(labels); ok {
				r.bytes[key] += value
			}
		case "apiserver_flowcontrol_dispatched_requests_total":
			if labels["flow_schema"] == "service-accounts" {
				r.serviceAccounts += value
			}
		}
	}
	return r, nil
}

// requestKey names the request a sample counts: "VERB resource.group",
// or "GET discovery" for the API discovery documents under /apis.
func requestKey(labels map[string]string) (string, bool) {
	if labels["verb"] == "WATCH" {
		return "", false
	}
	if labels["resource"] == "" {
		return "GET discovery", labels["verb"] == "GET" && labels["subresource"] == "apis"
	}
	key := labels["verb"] + " " + labels["resource"]
	if s := labels["subresource"]; s != "" {
		key += "/" + s
	}
	if g := labels["group"]; g != "" {
		key += "." + g
	}
	return key, true
}

// sub returns the requests made between b and r, with the resources a
// build may touch; other resources are the control plane's own.
func (r requests) sub(b requests) requests {
	d := requests{byResource: map[string]float64{}, bytes: map[string]float64{}, serviceAccounts: r.serviceAccounts - b.serviceAccounts}
	for k, v := range r.byResource {
		if v -= b.byResource[k]; v > 0 && isMeshResource(k) {
			d.byResource[k] = v
			d.bytes[k] = r.bytes[k] - b.bytes[k]
		}
	}
	return d
}

func isMeshResource(key string) bool {
	if key == "GET discovery" || key == "GET configmaps" {
		return true
	}
	for _, g := range []string{".knative.dev", ".apiextensions.k8s.io"} {
		if strings.HasSuffix(key, g) {
			return true
		}
	}
	return false
}

// String lists the counts, largest first.
func (r requests) String() string {
	keys := slices.Sorted(maps.Keys(r.byResource))
	slices.SortStableFunc(keys, func(a, b string) int { return int(r.byResource[b] - r.byResource[a]) })
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %g", k, r.byResource[k]))
	}
	return strings.Join(parts, ", ")
}

// bytesString lists the bytes by request, largest first.
func (r requests) bytesString() string {
	keys := slices.Sorted(maps.Keys(r.bytes))
	slices.SortStableFunc(keys, func(a, b string) int { return int(r.bytes[b] - r.bytes[a]) })
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %s", k, kilobytes(int64(r.bytes[k]))))
	}
	return strings.Join(parts, ", ")
}

// parseSample parses a line of the Prometheus text format:
// name{label="value",...} value.
func parseSample(line string) (string, map[string]string, float64, bool) {
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '#' {
		return "", nil, 0, false
	}
	open := strings.IndexByte(line, '{')
	end := strings.LastIndexByte(line, '}')
	if open < 0 || end < open {
		return "", nil, 0, false
	}
	fields := strings.Fields(line[end+1:])
	if len(fields) == 0 {
		return "", nil, 0, false
	}
	value, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return "", nil, 0, false
	}
	labels := map[string]string{}
	rest := line[open+1 : end]
	for rest != "" {
		k, v, ok := strings.Cut(rest, `="`)
		if !ok {
			break
		}
		var val strings.Builder
		i := 0
		for ; i < len(v) && v[i] != '"'; i++ {
			if v[i] == '\\' && i+1 < len(v) {
				i++
			}
			val.WriteByte(v[i])
		}
		labels[strings.TrimPrefix(k, ",")] = val.String()
		if i >= len(v) {
			break
		}
		rest = strings.TrimPrefix(v[i+1:], ",")
	}
	return line[:open], labels, value, true
}
