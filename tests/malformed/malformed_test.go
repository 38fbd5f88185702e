// Package malformed stores objects the mesh cannot read or understand
// through a real API server (which, without Eventing's webhook, lets them
// in) and checks that each costs only itself: it is left out with a
// Warning that names it, and the rest of the mesh is byte for byte the
// mesh without it.
package malformed

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/knative-eventmesh/function/tests/cluster"
	"github.com/knative-eventmesh/function/tests/functest"
)

var (
	testCluster     *cluster.Cluster
	adminKubeconfig string
	readerToken     string
)

func TestMain(m *testing.M) {
	cluster.Main(m, cluster.Options{}, func(c *cluster.Cluster) error {
		testCluster = c
		var err error
		if adminKubeconfig, err = c.AdminKubeconfig(); err != nil {
			return err
		}
		readerToken, err = c.InstallDemo(context.Background(), filepath.Join("..", "..", "rbac"))
		return err
	})
}

// malformed are objects the API server stores but the mesh cannot use,
// each with what the Warning about it must say.
var malformed = []struct {
	name, yaml string
	says       []string
}{{
	name: "EventType with a source that is no URL",
	yaml: `
apiVersion: eventing.knative.dev/v1beta2
kind: EventType
metadata: {name: bad-source, namespace: shop}
spec:
  type: com.example.bad
  source: "%zz"
  reference: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: orders}
`,
	says: []string{"EventType shop/bad-source", "invalid URL escape"},
}, {
	name: "EventType with a schema that is no URL",
	yaml: `
apiVersion: eventing.knative.dev/v1beta2
kind: EventType
metadata: {name: bad-schema, namespace: shop}
spec:
  type: com.example.bad
  schema: "http://[::1"
  reference: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: orders}
`,
	says: []string{"EventType shop/bad-schema", "could not be read"},
}, {
	name: "EventType with no type",
	yaml: `
apiVersion: eventing.knative.dev/v1beta2
kind: EventType
metadata: {name: no-type, namespace: shop}
spec:
  description: nothing says what it is
  reference: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: orders}
`,
	says: []string{"EventType shop/no-type", "no CloudEvent type"},
}, {
	// Were its filter ignored, billing would consume the orders broker's
	// EventTypes.
	name: "Trigger with a CESQL filter that does not parse",
	yaml: `
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: bad-filter, namespace: shop}
spec:
  broker: orders
  filters:
  - cesql: "type = = 'com.example.order.created'"
  subscriber:
    ref: {apiVersion: v1, kind: Service, name: billing, namespace: finance}
`,
	says: []string{"Trigger shop/bad-filter", "cesql"},
}, {
	name: "Subscription whose subscriber reference names no object",
	yaml: `
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: bad-subscriber, namespace: shop}
spec:
  channel: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: audit}
  subscriber:
    ref: {apiVersion: a/b/c, kind: Service, name: billing}
`,
	says: []string{"Subscription shop/bad-subscriber", "names no object"},
}, {
	// Were it read, it would apply to every addressable of shop.
	name: "EventPolicy with a selector that does not parse",
	yaml: `
apiVersion: eventing.knative.dev/v1alpha1
kind: EventPolicy
metadata: {name: bad-selector, namespace: shop}
spec:
  to:
  - selector: {matchExpressions: [{key: tier, operator: Near, values: [gold]}]}
  from:
  - sub: system:serviceaccount:shop:anyone
`,
	says: []string{"EventPolicy shop/bad-selector", "spec.to selector"},
}, {
	name: "EventPolicy whose target reference has a bad API version",
	yaml: `
apiVersion: eventing.knative.dev/v1alpha1
kind: EventPolicy
metadata: {name: bad-target, namespace: shop}
spec:
  to:
  - ref: {apiVersion: a/b/c, kind: Broker, name: orders}
`,
	says: []string{"EventPolicy shop/bad-target", "spec.to"},
}, {
	name: "source CRD with no served version",
	yaml: `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: unservedsources.example.com
  labels: {duck.knative.dev/source: "true"}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: unservedsources, singular: unservedsource, kind: UnservedSource, listKind: UnservedSourceList}
  versions:
  - name: v1
    served: false
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
`,
	says: []string{"CRD unservedsources.example.com", "no served version"},
}}

func TestMalformedObjectsCostOnlyThemselves(t *testing.T) {
	fn := functest.Start(t, map[string]string{"KUBECONFIG": adminKubeconfig})
	before := fn.Get(t, "/v1/getEventMesh", readerToken)
	if before.Status != http.StatusOK {
		t.Fatalf("the mesh without malformed objects: status %d: %s", before.Status, before.Body)
	}
	ctx := context.Background()
	for _, m := range malformed {
		if err := testCluster.Apply(ctx, []byte(m.yaml)); err != nil {
			t.Fatalf("%s: storing it: %v", m.name, err)
		}
	}
	after := fn.Get(t, "/v1/getEventMesh", readerToken)
	if after.Status != http.StatusOK {
		t.Fatalf("the mesh with malformed objects: status %d: %s", after.Status, after.Body)
	}
	if string(after.Body) != string(before.Body) {
		t.Errorf("the malformed objects changed the rest of the mesh:\nwithout: %s\nwith:    %s", before.Body, after.Body)
	}
	warnings := after.Header.Values("Warning")
	for _, m := range malformed {
		if !anyContainsAll(warnings, m.says) {
			t.Errorf("%s: no Warning says %q; got %q", m.name, m.says, warnings)
		}
	}
	if log := fn.Logs.String(); !strings.Contains(log, "bad-source") {
		t.Errorf("the function's log does not name what it left out:\n%s", log)
	}
}

// anyContainsAll reports whether one of list contains every part.
func anyContainsAll(list, parts []string) bool {
	for _, s := range list {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(s, p)
		}
		if ok {
			return true
		}
	}
	return false
}
