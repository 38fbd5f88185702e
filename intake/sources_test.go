package intake

import (
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestParseSources(t *testing.T) {
	for _, tt := range []struct {
		list    string
		want    []string // Source.String() of each
		wantErr bool
	}{
		{list: "", want: nil},
		{list: DefaultSources, want: []string{"fn/apiserversource/eventmesh-changes", "fn/pingsource/eventmesh-resync"}},
		{list: " ops/containersource/tick , sinkbinding/sb ,", want: []string{"ops/containersource/tick", "fn/sinkbinding/sb"}},
		{list: "broker/default", wantErr: true},
		{list: "pingsource", wantErr: true},
		{list: "pingsource/", wantErr: true},
		{list: "/pingsource/x", wantErr: true},
		{list: "a/b/pingsource/x", wantErr: true},
		{list: "PingSource/x", wantErr: true},
	} {
		got, err := ParseSources(tt.list, "fn")
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseSources(%q): error %v, want error %v", tt.list, err, tt.wantErr)
			continue
		}
		var names []string
		for _, s := range got {
			names = append(names, s.String())
			if s.Resource.Group != "sources.knative.dev" || s.Resource.Version != "v1" || !strings.HasSuffix(s.Resource.Resource, "sources") && s.Resource.Resource != "sinkbindings" {
				t.Errorf("ParseSources(%q): resource %v", tt.list, s.Resource)
			}
		}
		if !slices.Equal(names, tt.want) {
			t.Errorf("ParseSources(%q) = %v, want %v", tt.list, names, tt.want)
		}
	}
}

func TestParseSubjects(t *testing.T) {
	got := ParseSubjects(" system:serviceaccount:a:b,, system:serviceaccount:c:d ")
	if want := []string{"system:serviceaccount:a:b", "system:serviceaccount:c:d"}; !slices.Equal(got, want) {
		t.Errorf("ParseSubjects = %q, want %q", got, want)
	}
	if got := ParseSubjects(""); got != nil {
		t.Errorf("ParseSubjects(\"\") = %q, want none", got)
	}
}

// TestAudience checks the audience against the form Eventing writes for
// its own kinds (eventing.knative.dev/broker/<ns>/<name>).
func TestAudience(t *testing.T) {
	if got, want := Audience("Knative-Eventing", "EventMesh"), "serving.knative.dev/service/knative-eventing/eventmesh"; got != want {
		t.Errorf("Audience = %q, want %q", got, want)
	}
}

func TestServiceAccountUsers(t *testing.T) {
	for _, tt := range []struct {
		name string
		auth map[string]any
		want []string
	}{
		{"no auth", nil, nil},
		{"one", map[string]any{"serviceAccountName": "s-oidc"}, []string{"system:serviceaccount:ns:s-oidc"}},
		{"several, one twice", map[string]any{"serviceAccountName": "a", "serviceAccountNames": []any{"a", "b", ""}},
			[]string{"system:serviceaccount:ns:a", "system:serviceaccount:ns:b"}},
		{"wrong types", map[string]any{"serviceAccountName": 3, "serviceAccountNames": "a"}, nil},
	} {
		obj := &unstructured.Unstructured{Object: map[string]any{"metadata": map[string]any{"namespace": "ns", "name": "s"}}}
		if tt.auth != nil {
			obj.Object["status"] = map[string]any{"auth": tt.auth}
		}
		if got := ServiceAccountUsers(obj); !slices.Equal(got, tt.want) {
			t.Errorf("%s: ServiceAccountUsers = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// FuzzParseSources checks that any list parses or fails without a panic,
// and that what parses names a source kind, a namespace and a name.
func FuzzParseSources(f *testing.F) {
	for _, s := range []string{DefaultSources, "ops/pingsource/x", "broker/x", ",,", "a/b/c/d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, list string) {
		got, err := ParseSources(list, "fn")
		if err != nil {
			return
		}
		for _, s := range got {
			if s.Namespace == "" || s.Name == "" || !sourceKinds[strings.TrimSuffix(s.Resource.Resource, "s")] || strings.Contains(s.Name, "/") {
				t.Errorf("ParseSources(%q) gave %+v", list, s)
			}
		}
	})
}
