package announce

import (
	"errors"
	"net/http"
	"strings"

	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/knative-eventmesh/function/respond"
)

// MaxEventBytes bounds the body of an incoming CloudEvent. Change
// notifications carry at most one object; the function reads none of it.
const MaxEventBytes = 1 << 20

// ServeHTTP takes a CloudEvent, in binary or structured mode, as a notice
// that the cluster may have changed. It answers 202 at once and never
// returns mesh data: the rebuild happens later, with the function's own
// identity.
func (a *Announcer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxEventBytes)
	ev, err := cehttp.NewEventFromHTTPRequest(r)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			respond.Error(w, http.StatusRequestEntityTooLarge, "CloudEvent too large: at most 1 MiB")
			return
		}
		respond.Error(w, http.StatusBadRequest, "not a CloudEvent: "+oneLine(err)+"; POST a CloudEvent (binary or structured mode) to tell the function the cluster changed")
		return
	}
	if err := ev.Validate(); err != nil {
		respond.Error(w, http.StatusBadRequest, "invalid CloudEvent: "+oneLine(err))
		return
	}
	a.log.Debug("change notification", "type", ev.Type(), "source", ev.Source(), "subject", ev.Subject(), "id", ev.ID())
	a.Notify()
	w.WriteHeader(http.StatusAccepted)
}

// oneLine returns an error's message on one line: the SDK's messages list
// their problems on several.
func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
}
