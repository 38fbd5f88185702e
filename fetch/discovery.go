package fetch

import (
	"context"
	"fmt"
	"mime"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/json"
)

// discoveryAccept asks for aggregated discovery, every group with its
// versions and resources in one document (Kubernetes 1.30 and later),
// preferably in protobuf, which is a fifth of its JSON; else for the plain
// list of groups.
const discoveryAccept = runtime.ContentTypeProtobuf + ";g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList," +
	discovery.AcceptV2 + "," + discovery.AcceptV1

// apis is what API discovery says the API server serves.
type apis struct {
	// groups are the API groups by name, each with its versions and the
	// preferred one.
	groups map[string]*metav1.APIGroup
	// resources are the resources of each version, when the API server
	// aggregates discovery; nil when each version must be read apart.
	resources map[schema.GroupVersion]*metav1.APIResourceList
}

// readAPIs reads the API groups the API server serves, and with them,
// where discovery is aggregated, their resources.
func (r *reader) readAPIs(ctx context.Context) (*apis, error) {
	var a *apis
	err := r.get(ctx, what("discover", "APIs", ""), []string{"/apis"}, discoveryAccept, func(raw []byte, contentType string) (err error) {
		a, err = decodeAPIs(raw, contentType)
		return err
	})
	return a, err
}

// decodeAPIs decodes the answer to GET /apis: aggregated discovery, in
// protobuf or JSON, or a plain APIGroupList.
func decodeAPIs(raw []byte, contentType string) (*apis, error) {
	a := &apis{groups: map[string]*metav1.APIGroup{}}
	list := &metav1.APIGroupList{}
	if aggregated(contentType) {
		var agg apidiscoveryv2.APIGroupDiscoveryList
		if _, _, err := discoveryCodecs.UniversalDeserializer().Decode(raw, nil, &agg); err != nil {
			return nil, fmt.Errorf("decoding aggregated discovery: %w", err)
		}
		// Versions whose discovery is stale are left out of both.
		list, a.resources, _ = discovery.SplitGroupsAndResources(agg)
	} else if err := json.UnmarshalCaseSensitivePreserveInts(raw, list); err != nil {
		return nil, err
	}
	for i := range list.Groups {
		a.groups[list.Groups[i].Name] = &list.Groups[i]
	}
	return a, nil
}

// discoveryCodecs decode aggregated discovery. They are set up once, as
// client-go's scheme.Codecs are, and never changed.
var discoveryCodecs = serializer.NewCodecFactory(discoveryScheme())

func discoveryScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(apidiscoveryv2.AddToScheme(s))
	return s
}

// aggregated reports whether contentType is that of aggregated discovery.
func aggregated(contentType string) bool {
	base, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return (base == runtime.ContentTypeJSON || base == runtime.ContentTypeProtobuf) &&
		params["g"] == "apidiscovery.k8s.io" && params["v"] == "v2" && params["as"] == "APIGroupDiscoveryList"
}
