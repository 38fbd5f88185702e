package e2e

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/knative-eventmesh/function/mesh"
)

// oldReader may read what the mesh read before EventPolicies, flows and
// sinks: a token of a cluster whose roles were not updated.
const oldReader = `
apiVersion: v1
kind: ServiceAccount
metadata: {name: "{{sa}}", namespace: "{{ns}}"}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "{{ns}}-{{sa}}"}
rules:
- apiGroups: [eventing.knative.dev]
  resources: [brokers, triggers, eventtypes]
  verbs: [get, list]
- apiGroups: [messaging.knative.dev]
  resources: [subscriptions, inmemorychannels]
  verbs: [get, list]
- apiGroups: [apiextensions.k8s.io]
  resources: [customresourcedefinitions]
  verbs: [get, list]
- apiGroups: [sources.knative.dev]
  resources: [pingsources]
  verbs: [get, list]
- apiGroups: ["", serving.knative.dev]
  resources: [services]
  verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "{{ns}}-{{sa}}"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "{{ns}}-{{sa}}"}
subjects:
- {kind: ServiceAccount, name: "{{sa}}", namespace: "{{ns}}"}
`

// TestNewKindsForbidden checks that a token that may not list the kinds
// added beside brokers and channels, nor read config-features, gets the
// rest of the mesh, with a Warning for each part left out.
func TestNewKindsForbidden(t *testing.T) {
	fn := startFunction(t)
	ns := newNamespace(t)
	tok := token(t, ns, "old-reader", oldReader)
	r := fn.Get(t, "/namespaces/shop,finance/v1/getEventMesh", tok)
	if r.Status != http.StatusOK {
		t.Fatalf("status %d: %s", r.Status, r.Body)
	}
	warnings := strings.Join(r.Header.Values("Warning"), "\n")
	for _, kind := range []string{"JobSink", "IntegrationSink", "EventTransform", "RequestReply", "Sequence", "Parallel", "EventPolicy"} {
		if !strings.Contains(warnings, kind+" objects left out") || !strings.Contains(warnings, "eventmesh-reader") {
			t.Errorf("no Warning says %s objects were left out, and what to do: %q", kind, warnings)
		}
	}
	if !strings.Contains(warnings, "default authorization mode left out") {
		t.Errorf("no Warning says the default authorization mode was left out: %q", warnings)
	}

	// The rest is the demo mesh, without what the token may not read: the
	// new lists, what they lead to, and the access the policies give.
	want := wantDemo()
	want.Sinks, want.EventTransforms, want.Flows, want.EventPolicies = nil, nil, nil, nil
	want.DefaultAuthorizationMode = mesh.UnknownAuthorizationMode
	for i := range want.EventTypes {
		et := &want.EventTypes[i]
		et.ConsumedBy = slices.DeleteFunc(et.ConsumedBy, func(id string) bool {
			return slices.Contains([]string{"packer", "labeler", "invoicer"}, id)
		})
	}
	for i := range want.Brokers {
		b := &want.Brokers[i]
		// The orders Broker's status still names its policy.
		if b.EventPolicies != nil {
			b.AllowedSenders, b.AllowedSubjects = nil, nil
		}
	}
	checkMesh(t, decodeMesh(t, r.Body), want)
}
