package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	authorizationv1 "k8s.io/api/authorization/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/knative-eventmesh/function/mesh"
	"github.com/knative-eventmesh/function/tests/cluster"
	"github.com/knative-eventmesh/function/tests/functest"
)

// startFunction starts the function with the admin's client certificate as
// its own credentials, so that any use of them for a caller would show.
func startFunction(t *testing.T, env ...string) *functest.Function {
	t.Helper()
	m := map[string]string{"KUBECONFIG": adminKubeconfig, "LOG_LEVEL": "debug"}
	for i := 0; i+1 < len(env); i += 2 {
		m[env[i]] = env[i+1]
	}
	return functest.Start(t, m)
}

var namespaces atomic.Int64

// newNamespace returns the name of a new namespace for one test.
func newNamespace(t *testing.T) string {
	t.Helper()
	ns := fmt.Sprintf("t%d-%s", namespaces.Add(1), strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name())))
	if len(ns) > 63 {
		ns = strings.TrimRight(ns[:63], "-")
	}
	apply(t, ns, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {{ns}}\n")
	return ns
}

// apply applies YAML with {{ns}} replaced by ns (and {{ns2}} by ns2).
func apply(t *testing.T, ns, yaml string, ns2 ...string) {
	t.Helper()
	r := []string{"{{ns}}", ns}
	if len(ns2) > 0 {
		r = append(r, "{{ns2}}", ns2[0])
	}
	if err := testCluster.Apply(context.Background(), []byte(strings.NewReplacer(r...).Replace(yaml))); err != nil {
		t.Fatalf("applying objects: %v", err)
	}
}

// token returns a token of ServiceAccount ns/name, bound by yaml's
// bindings (with {{ns}} and {{sa}} replaced).
func token(t *testing.T, ns, name, bindings string) string {
	t.Helper()
	if bindings != "" {
		apply(t, ns, strings.ReplaceAll(bindings, "{{sa}}", name))
	}
	tok, err := testCluster.Token(context.Background(), ns, name, time.Hour)
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	return tok
}

// decodeMesh decodes a mesh, checks that every entity has a UID, and
// clears the UIDs so that meshes compare by content.
func decodeMesh(t *testing.T, body []byte) *mesh.Mesh {
	t.Helper()
	var m mesh.Mesh
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("decoding mesh: %v\n%s", err, body)
	}
	clear := func(meta *mesh.Meta) {
		if meta.UID == "" {
			t.Errorf("%s/%s has no uid", meta.Namespace, meta.Name)
		}
		meta.UID = ""
	}
	for i := range m.EventTypes {
		clear(&m.EventTypes[i].Meta)
	}
	for i := range m.Brokers {
		clear(&m.Brokers[i].Meta)
	}
	for i := range m.Subscribables {
		clear(&m.Subscribables[i].Meta)
	}
	for i := range m.Sources {
		clear(&m.Sources[i].Meta)
	}
	for i := range m.Sinks {
		clear(&m.Sinks[i].Meta)
	}
	for i := range m.EventTransforms {
		clear(&m.EventTransforms[i].Meta)
	}
	for i := range m.RequestReplies {
		clear(&m.RequestReplies[i].Meta)
	}
	for i := range m.Flows {
		clear(&m.Flows[i].Meta)
	}
	for i := range m.EventPolicies {
		clear(&m.EventPolicies[i].Meta)
	}
	return &m
}

// checkMesh compares a mesh with the expected one. A want that names no
// default authorization mode takes got's: the tests that read it name it.
func checkMesh(t *testing.T, got, want *mesh.Mesh) {
	t.Helper()
	if want.DefaultAuthorizationMode == "" {
		want.DefaultAuthorizationMode = got.DefaultAuthorizationMode
	}
	want.Normalize()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("mesh differs (-want +got):\n%s", diff)
	}
}

// waitForReader waits until the controller manager has aggregated the
// reader's ClusterRole, from both of its labels.
func waitForReader(ctx context.Context, c *cluster.Cluster) error {
	return c.WaitForAccess(ctx, "system:serviceaccount:knative-eventing:eventmesh-reader",
		authorizationv1.ResourceAttributes{Verb: "list", Group: "sources.knative.dev", Resource: "pingsources"},
		authorizationv1.ResourceAttributes{Verb: "list", Group: "example.com", Resource: "widgetsources"},
		authorizationv1.ResourceAttributes{Verb: "list", Group: "example.com", Resource: "tubechannels"},
	)
}

// extraCRDs are kinds of sources and channels that Knative does not ship,
// discovered through their labels like any other.
func extraCRDs() []*apiextensionsv1.CustomResourceDefinition {
	return []*apiextensionsv1.CustomResourceDefinition{
		crd("widgetsources", "WidgetSource", map[string]string{"duck.knative.dev/source": "true"},
			map[string]string{"registry.knative.dev/eventTypes": "this is not JSON"}),
		// In Knative's category of sources, as Knative's own are: the
		// function lists its objects as soon as API discovery answers.
		inCategory(crd("gadgetsources", "GadgetSource", map[string]string{"duck.knative.dev/source": "true"},
			map[string]string{"registry.knative.dev/eventTypes": `[{"type":"com.example.gadget.made","description":"a gadget"},{"description":"no type"},{"type":"com.example.gadget.broken","schema":"https://example.com/s.json"}]`}), "sources"),
		// In the category of sources, but not labelled as one: no source.
		inCategory(crd("decoysources", "DecoySource", nil, nil), "sources"),
		crd("tubechannels", "TubeChannel", map[string]string{"messaging.knative.dev/subscribable": "true"}, nil),
		// A kind of subscriber the Backstage reader may not read.
		crd("widgets", "Widget", nil, nil),
	}
}

// crd returns a namespaced CRD of group example.com, version v1, that keeps
// every field.
func crd(plural, kind string, labels, annotations map[string]string) *apiextensionsv1.CustomResourceDefinition {
	preserve := true
	return &apiextensionsv1.CustomResourceDefinition{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apiextensions.k8s.io/v1", Kind: "CustomResourceDefinition"},
		ObjectMeta: metav1.ObjectMeta{Name: plural + ".example.com", Labels: labels, Annotations: annotations},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: "example.com",
			Scope: apiextensionsv1.NamespaceScoped,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: plural, Kind: kind},
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name: "v1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type: "object", XPreserveUnknownFields: &preserve,
				}},
			}},
		},
	}
}

// inCategory puts c in category, as kubectl get <category> lists them.
func inCategory(c *apiextensionsv1.CustomResourceDefinition, category string) *apiextensionsv1.CustomResourceDefinition {
	c.Spec.Names.Categories = append(c.Spec.Names.Categories, category)
	return c
}

// ref returns a *mesh.Reference.
func ref(group, kind, ns, name string) *mesh.Reference {
	return &mesh.Reference{Group: group, Kind: kind, Namespace: ns, Name: name}
}
