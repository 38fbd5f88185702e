package announce

import (
	"errors"
	"net/http"
	"strings"

	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
)

// MaxEventBytes bounds the body of an incoming CloudEvent. Change
// notifications carry at most one object; the function reads none of it.
const MaxEventBytes = 1 << 20

// The types of the notifications rbac/push.yaml sends: those of an
// ApiServerSource (reference mode there; resource mode too) and of a
// PingSource, as knative.dev/eventing/pkg/apis/sources defines them.
// Another type starts no rebuild.
var notificationTypes = map[string]bool{
	"dev.knative.apiserver.ref.add":         true,
	"dev.knative.apiserver.ref.update":      true,
	"dev.knative.apiserver.ref.delete":      true,
	"dev.knative.apiserver.resource.add":    true,
	"dev.knative.apiserver.resource.update": true,
	"dev.knative.apiserver.resource.delete": true,
	"dev.knative.sources.ping":              true,
}

// Rejection is why an incoming request was not taken as a change
// notification, with the HTTP status to answer.
type Rejection struct {
	Status int
	Reason string
}

func (r *Rejection) Error() string { return r.Reason }

// Take reads a CloudEvent, in binary or structured mode, from r as a
// notice that the cluster may have changed. It returns nil when the notice
// was taken, else a *Rejection: a CloudEvent of a type that push's
// sources do not send is one. It never returns mesh data: the rebuild
// happens later, with the function's own identity.
func (a *Announcer) Take(r *http.Request) error {
	r.Body = http.MaxBytesReader(nil, r.Body, MaxEventBytes)
	ev, err := cehttp.NewEventFromHTTPRequest(r)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &Rejection{http.StatusRequestEntityTooLarge, "CloudEvent too large: at most 1 MiB"}
		}
		return &Rejection{http.StatusBadRequest, "not a CloudEvent: " + oneLine(err) + "; POST a CloudEvent (binary or structured mode) to tell the function the cluster changed"}
	}
	if err := ev.Validate(); err != nil {
		return &Rejection{http.StatusBadRequest, "invalid CloudEvent: " + oneLine(err)}
	}
	if !notificationTypes[ev.Type()] {
		a.log.Debug("CloudEvent of another type ignored", "type", ev.Type(), "source", ev.Source(), "id", ev.ID())
		return &Rejection{http.StatusBadRequest, "CloudEvent type not taken: the function takes only change notifications, " +
			"of types dev.knative.apiserver.ref.*, dev.knative.apiserver.resource.* (an ApiServerSource) and dev.knative.sources.ping (a PingSource)"}
	}
	a.log.Debug("change notification", "type", ev.Type(), "source", ev.Source(), "subject", ev.Subject(), "id", ev.ID())
	a.Notify()
	return nil
}

// oneLine returns an error's message on one line: the SDK's messages list
// their problems on several.
func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
}
