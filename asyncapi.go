package function

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/knative-eventmesh/function/asyncapi"
	"github.com/knative-eventmesh/function/mesh"
	"github.com/knative-eventmesh/function/respond"
)

// asyncAPIPath serves the mesh as an AsyncAPI 3.0.0 document.
const asyncAPIPath = "/v1/asyncapi"

// notFound is an error for a 404: the request names something the mesh
// does not hold.
type notFound struct{ msg string }

func (e *notFound) Error() string { return e.msg }

// asyncAPIView returns the view of an AsyncAPI request: the whole mesh;
// with the query eventType=<namespace>/<name>, that EventType's own
// document; with by=eventType, the documents of all EventTypes, in a JSON
// object by "<namespace>/<name>".
func asyncAPIView(r *http.Request) (view, error) {
	q := r.URL.Query()
	for key := range q {
		if key != "eventType" && key != "by" || len(q) > 1 {
			return view{}, fmt.Errorf("unknown query %q: %s takes eventType=<namespace>/<name> or by=eventType", truncate(r.URL.RawQuery, 128), asyncAPIPath)
		}
	}
	if q.Has("by") {
		if len(q["by"]) > 1 || q.Get("by") != "eventType" {
			return view{}, fmt.Errorf("bad by %q: %s takes by=eventType", truncate(q.Get("by"), 64), asyncAPIPath)
		}
		return view{name: "asyncapi by eventType", receivers: true, encode: func(m *mesh.Mesh) ([]byte, error) {
			b, err := json.Marshal(asyncapi.ByEventType(m))
			if err != nil {
				return nil, fmt.Errorf("encoding the AsyncAPI documents: %w", err)
			}
			return b, nil
		}}, nil
	}
	if !q.Has("eventType") {
		return view{name: "asyncapi", receivers: true, encode: func(m *mesh.Mesh) ([]byte, error) {
			return asyncapi.Encode(asyncapi.New(m))
		}}, nil
	}
	value := q.Get("eventType")
	ns, name, ok := strings.Cut(value, "/")
	if len(q["eventType"]) > 1 || !ok || len(validation.IsDNS1123Label(ns)) > 0 || len(validation.IsDNS1123Subdomain(name)) > 0 {
		return view{}, fmt.Errorf("bad eventType %q: write eventType=<namespace>/<name> of one EventType", truncate(value, 128))
	}
	return view{name: "asyncapi " + ns + "/" + name, receivers: true, encode: func(m *mesh.Mesh) ([]byte, error) {
		d, ok := asyncapi.ForEventType(m, ns, name)
		if !ok {
			return nil, &notFound{fmt.Sprintf("no EventType %s/%s in the mesh the token may read: GET %s lists them", ns, name, meshPath)}
		}
		return asyncapi.Encode(d)
	}}, nil
}

// serveAsyncAPI answers GET and HEAD of the AsyncAPI document of the mesh
// of namespaces (nil: the whole cluster), as serveMesh does the mesh.
func (f *Function) serveAsyncAPI(w http.ResponseWriter, r *http.Request, namespaces []string) {
	v, err := asyncAPIView(r)
	if err != nil {
		respond.Error(w, http.StatusBadRequest, err.Error())
		return
	}
	f.serveMesh(w, r, namespaces, v)
}
