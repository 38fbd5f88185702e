package announce

import (
	"fmt"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/knative-eventmesh/function/mesh"
)

// Announcement is the data of a mesh-changed event.
type Announcement struct {
	// Digest is the digest of the new mesh (also the meshdigest extension).
	Digest string `json:"digest"`
	// PreviousDigest is the digest of the last announced mesh, "" for the
	// first announcement.
	PreviousDigest string `json:"previousDigest,omitempty"`
	// Counts are the numbers of entities of each kind in the new mesh.
	Counts Counts `json:"counts"`
	// DeltaOmitted says that the delta is left out: the index of the new
	// mesh is too large to keep in the state ConfigMap, or the index of
	// the last announced one was not kept. Fetch the mesh (dataref).
	DeltaOmitted bool `json:"deltaOmitted,omitempty"`
	// Delta is what changed since the last announced mesh; nil when
	// DeltaOmitted.
	*Delta
}

// Counts are the numbers of entities of each kind.
type Counts struct {
	EventTypes    int `json:"eventTypes"`
	Brokers       int `json:"brokers"`
	Subscribables int `json:"subscribables"`
	Sources       int `json:"sources"`
}

// event returns the announcement of mesh m, of digest digest, after state
// st, with delta d (nil when it is unknown).
func (a *Announcer) event(m *mesh.Mesh, digest string, st *State, d *Delta) (cloudevents.Event, error) {
	ev := cloudevents.NewEvent()
	ev.SetID(eventID(st, digest))
	ev.SetType(EventType)
	ev.SetSource(a.cfg.Source)
	ev.SetTime(a.clock.Now())
	if a.cfg.Subject != "" {
		ev.SetSubject(a.cfg.Subject)
	}
	ev.SetExtension("meshdigest", digest)
	ev.SetExtension("dataref", a.cfg.DataRef)
	data := Announcement{
		Digest:         digest,
		PreviousDigest: st.Digest,
		Counts:         Counts{len(m.EventTypes), len(m.Brokers), len(m.Subscribables), len(m.Sources)},
		DeltaOmitted:   d == nil,
		Delta:          d,
	}
	if err := ev.SetData(cloudevents.ApplicationJSON, data); err != nil {
		return ev, fmt.Errorf("encoding announcement: %w", err)
	}
	if err := ev.Validate(); err != nil {
		return ev, fmt.Errorf("announcement: %w", err)
	}
	return ev, nil
}
