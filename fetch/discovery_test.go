package fetch

import (
	"testing"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"sigs.k8s.io/json"
)

const (
	plainGroups = `{"kind":"APIGroupList","apiVersion":"v1","groups":[{"name":"sources.knative.dev",` +
		`"versions":[{"groupVersion":"sources.knative.dev/v1","version":"v1"}],"preferredVersion":{"groupVersion":"sources.knative.dev/v1","version":"v1"}}]}`
	aggregatedGroups = `{"kind":"APIGroupDiscoveryList","apiVersion":"apidiscovery.k8s.io/v2","items":[{"metadata":{"name":"sources.knative.dev"},` +
		`"versions":[{"version":"v1","resources":[{"resource":"pingsources","responseKind":{"group":"sources.knative.dev","version":"v1","kind":"PingSource"},` +
		`"scope":"Namespaced","singularResource":"pingsource","verbs":["list"],"categories":["all","knative","sources"]}],"freshness":"Current"},` +
		`{"version":"v1beta1","resources":[],"freshness":"Stale"}]}]}`
	aggregatedJSON     = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
	aggregatedProtobuf = "application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
)

// aggregatedGroupsProtobuf is aggregatedGroups in protobuf, as an API
// server sends it to a client that asks for it.
func aggregatedGroupsProtobuf(t *testing.T) string {
	t.Helper()
	var list apidiscoveryv2.APIGroupDiscoveryList
	if err := json.UnmarshalCaseSensitivePreserveInts([]byte(aggregatedGroups), &list); err != nil {
		t.Fatal(err)
	}
	raw, err := runtime.Encode(protobuf.NewSerializer(discoveryScheme(), discoveryScheme()), &list)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

func TestDecodeAPIs(t *testing.T) {
	for _, tt := range []struct {
		name, body, contentType string
		aggregated              bool
		inSources               []string
	}{
		{"plain", plainGroups, "application/json", false, nil},
		{"aggregated", aggregatedGroups, aggregatedJSON, true, []string{"pingsources"}},
		{"aggregated in protobuf", aggregatedGroupsProtobuf(t), aggregatedProtobuf, true, []string{"pingsources"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a, err := decodeAPIs([]byte(tt.body), tt.contentType)
			if err != nil {
				t.Fatal(err)
			}
			g := a.groups["sources.knative.dev"]
			if g == nil || g.PreferredVersion.Version != "v1" || len(g.Versions) != 1 {
				t.Fatalf("group %+v, want sources.knative.dev with v1 alone (a stale version is left out)", g)
			}
			if (a.resources != nil) != tt.aggregated {
				t.Errorf("resources %v, want them only from aggregated discovery", a.resources)
			}
			var names []string
			for _, k := range a.inCategory(SourceCategory) {
				names = append(names, k.Resource+"@"+k.Version+":"+k.Kind)
			}
			if len(names) != len(tt.inSources) || (len(names) == 1 && names[0] != "pingsources@v1:PingSource") {
				t.Errorf("in category sources: %q, want %q at v1 as PingSource", names, tt.inSources)
			}
		})
	}
	if _, err := decodeAPIs([]byte(`{"items":`), aggregatedJSON); err == nil {
		t.Error("a cut aggregated answer decoded without error")
	}
}
