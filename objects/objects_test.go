package objects

import (
	"testing"
)

func TestSubscriberRef(t *testing.T) {
	tests := []struct {
		name string
		ref  *Reference
		want Ref
		ok   bool
	}{
		{"nil", nil, Ref{}, false},
		{"knative service", &Reference{APIVersion: "serving.knative.dev/v1", Kind: "Service", Name: "s"},
			Ref{Group: "serving.knative.dev", Kind: "Service", Namespace: "own", Name: "s"}, true},
		{"core service elsewhere", &Reference{APIVersion: "v1", Kind: "Service", Name: "s", Namespace: "other"},
			Ref{Kind: "Service", Namespace: "other", Name: "s"}, true},
		{"no kind", &Reference{APIVersion: "v1", Name: "s"}, Ref{}, false},
		{"no name", &Reference{APIVersion: "v1", Kind: "Service"}, Ref{}, false},
		{"bad apiVersion", &Reference{APIVersion: "a/b/c", Kind: "Service", Name: "s"}, Ref{}, false},
	}
	for _, tt := range tests {
		got, ok := SubscriberRef(tt.ref, "own")
		if ok != tt.ok || got != tt.want {
			t.Errorf("%s: SubscriberRef = %+v, %v; want %+v, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzSubscriberRef(f *testing.F) {
	f.Add("serving.knative.dev/v1", "Service", "s", "", "own")
	f.Add("v1", "Service", "s", "other", "own")
	f.Add("a/b/c", "K", "n", "", "")
	f.Add("", "", "", "", "")
	f.Fuzz(func(t *testing.T, apiVersion, kind, name, namespace, own string) {
		ref := &Reference{APIVersion: apiVersion, Kind: kind, Name: name, Namespace: namespace}
		got, ok := SubscriberRef(ref, own)
		if !ok {
			if got != (Ref{}) {
				t.Fatalf("not ok, but %+v", got)
			}
			return
		}
		if got.Kind != kind || got.Name != name || kind == "" || name == "" {
			t.Fatalf("%+v from kind %q name %q", got, kind, name)
		}
		if wantNS := map[bool]string{true: namespace, false: own}[namespace != ""]; got.Namespace != wantNS {
			t.Fatalf("namespace %q, want %q", got.Namespace, wantNS)
		}
	})
}
