package intake

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// DefaultSources are the push sources of rbac/push.yaml, in the function's
// namespace.
const DefaultSources = "apiserversource/eventmesh-changes,pingsource/eventmesh-resync"

// sourceKinds are the kinds of sources.knative.dev/v1 whose status.auth
// names an OIDC identity that sends to a sink.
var sourceKinds = map[string]bool{"apiserversource": true, "pingsource": true, "containersource": true, "sinkbinding": true}

// ParseSources reads a list of sources separated by commas, each
// "[namespace/]kind/name" with a kind of sources.knative.dev/v1 in lower
// case, such as "pingsource/eventmesh-resync". A source without a
// namespace is in namespace.
func ParseSources(list, namespace string) ([]Source, error) {
	var out []Source
	for item := range strings.SplitSeq(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		parts := strings.Split(item, "/")
		if len(parts) == 2 {
			parts = append([]string{namespace}, parts...)
		}
		if len(parts) != 3 || parts[0] == "" || parts[2] == "" || !sourceKinds[parts[1]] {
			return nil, fmt.Errorf("source %q: want [namespace/]kind/name, kind one of apiserversource, containersource, pingsource, sinkbinding", item)
		}
		out = append(out, Source{
			Resource:  schema.GroupVersionResource{Group: "sources.knative.dev", Version: "v1", Resource: parts[1] + "s"},
			Namespace: parts[0],
			Name:      parts[2],
		})
	}
	return out, nil
}

// ParseSubjects reads a list of users separated by commas, such as
// "system:serviceaccount:ns:name".
func ParseSubjects(list string) []string {
	var out []string
	for s := range strings.SplitSeq(list, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Audience is the OIDC audience of a Knative Service, written as Knative
// Eventing writes its audiences: <group>/<kind>/<namespace>/<name>, in
// lower case (GetAudience in knative.dev/eventing/pkg/auth).
func Audience(namespace, service string) string {
	return strings.ToLower("serving.knative.dev/service/" + namespace + "/" + service)
}
