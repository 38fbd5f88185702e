package deploy

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/knative-eventmesh/function/tests/functest"
)

const (
	reader   = "system:serviceaccount:knative-eventing:eventmesh-reader"
	function = "system:serviceaccount:knative-eventing:eventmesh"
	watcher  = "system:serviceaccount:knative-eventing:eventmesh-watcher"
)

// access is one question to RBAC.
type access struct {
	verb, group, resource, namespace, name string
}

func (a access) String() string {
	s := a.verb + " " + a.resource
	if a.group != "" {
		s += "." + a.group
	}
	if a.namespace != "" {
		s += " in " + a.namespace
	}
	if a.name != "" {
		s += " named " + a.name
	}
	return s
}

// allowed asks the API server's RBAC whether user may do a.
func allowed(t *testing.T, user string, a access) bool {
	t.Helper()
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:   user,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:knative-eventing", "system:authenticated"},
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Verb: a.verb, Group: a.group, Resource: a.resource, Namespace: a.namespace, Name: a.name,
		},
	}}
	r, err := admin.AuthorizationV1().SubjectAccessReviews().Create(context.Background(), sar, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return r.Status.Allowed
}

// meshReads is what reading the mesh takes, in any namespace.
var meshReads = []access{
	{verb: "list", group: "eventing.knative.dev", resource: "brokers"},
	{verb: "list", group: "eventing.knative.dev", resource: "triggers"},
	{verb: "list", group: "eventing.knative.dev", resource: "eventtypes"},
	{verb: "list", group: "eventing.knative.dev", resource: "eventtypes", namespace: "shop"},
	{verb: "list", group: "messaging.knative.dev", resource: "subscriptions"},
	{verb: "list", group: "apiextensions.k8s.io", resource: "customresourcedefinitions"},
	{verb: "get", group: "apiextensions.k8s.io", resource: "customresourcedefinitions", name: "eventtypes.eventing.knative.dev"},
	{verb: "list", group: "messaging.knative.dev", resource: "channels"},
	{verb: "list", group: "messaging.knative.dev", resource: "inmemorychannels"},
	{verb: "list", group: "messaging.knative.dev", resource: "kafkachannels"},
	// Sources, through Knative's aggregated source-observer roles.
	{verb: "list", group: "sources.knative.dev", resource: "pingsources"},
	{verb: "list", group: "sources.knative.dev", resource: "apiserversources"},
	{verb: "list", group: "sources.knative.dev", resource: "containersources"},
	{verb: "list", group: "sources.knative.dev", resource: "sinkbindings"},
	// Subscribers.
	{verb: "list", group: "serving.knative.dev", resource: "services"},
	{verb: "get", group: "serving.knative.dev", resource: "services", namespace: "shop", name: "shipping"},
	{verb: "list", resource: "services"},
	{verb: "get", resource: "services", namespace: "finance", name: "billing"},
	{verb: "list", group: "flows.knative.dev", resource: "sequences"},
	// Flows, sinks, transforms, request-reply and EventPolicies, through
	// the same aggregated ClusterRole.
	{verb: "list", group: "flows.knative.dev", resource: "parallels"},
	{verb: "list", group: "sinks.knative.dev", resource: "jobsinks"},
	{verb: "list", group: "sinks.knative.dev", resource: "integrationsinks"},
	{verb: "list", group: "eventing.knative.dev", resource: "eventtransforms"},
	{verb: "list", group: "eventing.knative.dev", resource: "requestreplies"},
	{verb: "list", group: "eventing.knative.dev", resource: "eventpolicies"},
	{verb: "list", group: "eventing.knative.dev", resource: "eventpolicies", namespace: "shop"},
	// The default authorization mode: one ConfigMap, by name.
	{verb: "get", resource: "configmaps", namespace: "knative-eventing", name: "config-features"},
}

// forbiddenToAll is what none of the identities may do.
var forbiddenToAll = []access{
	{verb: "get", resource: "secrets", namespace: "knative-eventing", name: "eventmesh-reader-token"},
	{verb: "list", resource: "secrets"},
	{verb: "list", resource: "configmaps"},
	{verb: "list", resource: "pods"},
	{verb: "create", resource: "serviceaccounts/token", namespace: "knative-eventing", name: "eventmesh"},
	{verb: "impersonate", resource: "users"},
	{verb: "create", group: "eventing.knative.dev", resource: "brokers", namespace: "shop"},
	{verb: "update", group: "eventing.knative.dev", resource: "triggers", namespace: "shop"},
	{verb: "patch", group: "eventing.knative.dev", resource: "eventtypes", namespace: "shop"},
	{verb: "delete", group: "messaging.knative.dev", resource: "subscriptions", namespace: "shop"},
	{verb: "update", group: "messaging.knative.dev", resource: "channels/finalizers", namespace: "shop"},
	{verb: "delete", group: "sources.knative.dev", resource: "pingsources", namespace: "shop"},
	{verb: "create", group: "apiextensions.k8s.io", resource: "customresourcedefinitions"},
	{verb: "update", group: "serving.knative.dev", resource: "services", namespace: "shop"},
	{verb: "create", group: "rbac.authorization.k8s.io", resource: "clusterrolebindings"},
	{verb: "create", resource: "configmaps", namespace: "knative-eventing"},
	{verb: "delete", resource: "configmaps", namespace: "knative-eventing", name: "eventmesh-state"},
	{verb: "update", resource: "configmaps", namespace: "knative-eventing", name: "config-features"},
	// config-features is read by name, in knative-eventing only.
	{verb: "list", resource: "configmaps", namespace: "knative-eventing"},
	{verb: "watch", resource: "configmaps", namespace: "knative-eventing", name: "config-features"},
	{verb: "get", resource: "configmaps", namespace: "knative-eventing", name: "config-logging"},
	{verb: "get", resource: "configmaps", namespace: "shop", name: "config-features"},
	{verb: "get", resource: "configmaps", name: "config-features"},
	{verb: "create", group: "eventing.knative.dev", resource: "eventpolicies", namespace: "shop"},
	{verb: "update", group: "sinks.knative.dev", resource: "jobsinks", namespace: "shop"},
	{verb: "delete", group: "flows.knative.dev", resource: "sequences", namespace: "shop"},
	{verb: "update", resource: "configmaps", namespace: "shop", name: "eventmesh-state"},
}

// TestPermissions checks the permission matrix of rbac/ with the API
// server's own RBAC: the reader and the function may read what the mesh
// needs and nothing more; only the function may write, and only its state
// ConfigMap; the watcher may watch what push listens to.
func TestPermissions(t *testing.T) {
	state := []access{
		{verb: "get", resource: "configmaps", namespace: "knative-eventing", name: "eventmesh-state"},
		{verb: "update", resource: "configmaps", namespace: "knative-eventing", name: "eventmesh-state"},
	}
	// The intake verifies notifications' tokens and reads the push
	// sources' OIDC identities.
	intake := []access{
		{verb: "create", group: "authentication.k8s.io", resource: "tokenreviews"},
		{verb: "get", group: "sources.knative.dev", resource: "apiserversources", namespace: "knative-eventing", name: "eventmesh-changes"},
		{verb: "get", group: "sources.knative.dev", resource: "pingsources", namespace: "knative-eventing", name: "eventmesh-resync"},
	}
	tokenReviews := []access{{verb: "create", group: "authentication.k8s.io", resource: "tokenreviews"}}
	watches := []access{
		{verb: "watch", group: "eventing.knative.dev", resource: "brokers"},
		{verb: "watch", group: "eventing.knative.dev", resource: "triggers"},
		{verb: "watch", group: "eventing.knative.dev", resource: "eventtypes"},
		{verb: "watch", group: "messaging.knative.dev", resource: "subscriptions"},
		{verb: "watch", group: "messaging.knative.dev", resource: "inmemorychannels"},
		{verb: "watch", group: "sources.knative.dev", resource: "pingsources"},
		{verb: "watch", group: "eventing.knative.dev", resource: "eventpolicies"},
		{verb: "watch", group: "eventing.knative.dev", resource: "eventtransforms"},
		{verb: "watch", group: "eventing.knative.dev", resource: "requestreplies"},
		{verb: "watch", group: "flows.knative.dev", resource: "sequences"},
		{verb: "watch", group: "flows.knative.dev", resource: "parallels"},
		{verb: "watch", group: "sinks.knative.dev", resource: "jobsinks"},
		{verb: "watch", group: "sinks.knative.dev", resource: "integrationsinks"},
		{verb: "watch", resource: "namespaces"},
	}
	tests := []struct {
		user    string
		allow   []access
		forbid  []access
		comment string
	}{
		{user: reader, allow: meshReads, forbid: slices.Concat(forbiddenToAll, state, tokenReviews)},
		{user: function, allow: slices.Concat(meshReads, state, intake), forbid: forbiddenToAll},
		{user: watcher, allow: watches, forbid: slices.Concat(forbiddenToAll, state, tokenReviews)},
	}
	for _, tt := range tests {
		name := tt.user[strings.LastIndex(tt.user, ":")+1:]
		t.Run(name, func(t *testing.T) {
			for _, a := range tt.allow {
				if !allowed(t, tt.user, a) {
					t.Errorf("%s may not %s, but needs to", name, a)
				}
			}
			for _, a := range tt.forbid {
				if allowed(t, tt.user, a) {
					t.Errorf("%s may %s, and should not", name, a)
				}
			}
		})
	}
}

// TestNoWildcards checks that rbac/'s roles, aggregated, name resources,
// groups and verbs one by one.
func TestNoWildcards(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{"eventmesh-reader", "eventmesh-mesh-reader", "eventmesh-watcher", "eventmesh-intake"} {
		role, err := admin.RbacV1().ClusterRoles().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(role.Rules) == 0 {
			t.Errorf("ClusterRole %s has no rules", name)
		}
		for _, r := range role.Rules {
			for _, v := range slices.Concat(r.Verbs, r.Resources, r.APIGroups) {
				if strings.Contains(v, "*") {
					t.Errorf("ClusterRole %s has a wildcard rule: %+v", name, r)
				}
			}
		}
	}
}

// TestFeaturesRole checks that config-features is read through a Role of
// knative-eventing that names it, with get alone: no cluster-wide right.
func TestFeaturesRole(t *testing.T) {
	role, err := admin.RbacV1().Roles("knative-eventing").Get(context.Background(), "eventmesh-features-reader", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(role.Rules) != 1 {
		t.Fatalf("rules %+v, want one", role.Rules)
	}
	r := role.Rules[0]
	if !slices.Equal(r.APIGroups, []string{""}) || !slices.Equal(r.Resources, []string{"configmaps"}) ||
		!slices.Equal(r.ResourceNames, []string{"config-features"}) || !slices.Equal(r.Verbs, []string{"get"}) {
		t.Errorf("rule %+v, want get of configmaps named config-features", r)
	}
	for _, name := range []string{"eventmesh-reader", "eventmesh-mesh-reader"} {
		cr, err := admin.RbacV1().ClusterRoles().Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range cr.Rules {
			if slices.Contains(r.Resources, "configmaps") {
				t.Errorf("ClusterRole %s grants configmaps: %+v", name, r)
			}
		}
	}
}

// TestReaderBuildsTheWholeMesh checks that the reader's token, read from
// its Secret as the README says, builds the mesh with nothing left out.
func TestReaderBuildsTheWholeMesh(t *testing.T) {
	fn := functest.Start(t, map[string]string{"KUBECONFIG": adminKubeconfig, "LOG_LEVEL": "debug"})
	r := fn.Get(t, "/v1/getEventMesh", readerToken)
	if r.Status != http.StatusOK {
		t.Fatalf("status %d: %s", r.Status, r.Body)
	}
	if w := r.Header.Values("Warning"); len(w) > 0 {
		t.Errorf("parts of the mesh were left out for the reader: %q", w)
	}
	logs := fn.Logs.String()
	if strings.Contains(logs, "forbidden") {
		t.Errorf("the function met a 403 building the reader's mesh:\n%s", logs)
	}
	for _, want := range []string{`"kind":"PingSource"`, `"name":"order-created"`, `"consumedBy":["analytics","labeler","notifier","packer","shipping-service"]`, `"name":"audit"`,
		`"defaultAuthorizationMode":"allow-same-namespace"`, `"kind":"JobSink"`, `"kind":"Sequence"`, `"eventPolicies":["shop/orders-senders"]`} {
		if !strings.Contains(string(r.Body), strings.Trim(want, "`")) {
			t.Errorf("mesh lacks %s", want)
		}
	}
}
