package push

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/knative-eventmesh/function/announce"
)

// sink is a CloudEvents receiver that records what it accepts. It can be
// down (its port closed), failing (answering 503 or another status) or
// slow.
type sink struct {
	t    *testing.T
	addr string

	mu       sync.Mutex
	srv      *http.Server
	fail     int // the status answered instead of accepting, or 0
	delay    time.Duration
	accepted []cloudevents.Event
	attempts int
	tried    []string // the id of every event received, accepted or not
	arrived  chan struct{}
}

// startSink starts a sink on a free port of the loopback interface.
func startSink(t *testing.T) *sink {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &sink{t: t, addr: l.Addr().String(), arrived: make(chan struct{}, 100)}
	s.serve(l)
	t.Cleanup(s.down)
	return s
}

// URL is the sink's address, for K_SINK.
func (s *sink) URL() string { return "http://" + s.addr }

func (s *sink) serve(l net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(s.handle)}
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
	go func() { _ = srv.Serve(l) }()
}

func (s *sink) handle(w http.ResponseWriter, r *http.Request) {
	ev, err := cehttp.NewEventFromHTTPRequest(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.attempts++
	s.tried = append(s.tried, ev.ID())
	fail, delay := s.fail, s.delay
	s.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
		}
	}
	if r.Context().Err() != nil {
		return // the sender gave up or died: nothing was accepted
	}
	if fail != 0 {
		http.Error(w, "sink failing on purpose", fail)
		return
	}
	s.mu.Lock()
	s.accepted = append(s.accepted, *ev)
	s.mu.Unlock()
	s.arrived <- struct{}{}
	w.WriteHeader(http.StatusAccepted)
}

// down closes the sink's port.
func (s *sink) down() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}
}

// up opens the sink's port again.
func (s *sink) up() {
	s.t.Helper()
	l, err := net.Listen("tcp", s.addr)
	if err != nil {
		s.t.Fatalf("reopening the sink on %s: %v", s.addr, err)
	}
	s.serve(l)
}

// setFail makes the sink answer 503 to every event, or accept them again.
func (s *sink) setFail(fail bool) {
	s.answer(map[bool]int{true: http.StatusServiceUnavailable}[fail])
}

// answer makes the sink answer status to every event instead of accepting
// it; 0 accepts again.
func (s *sink) answer(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = status
}

func (s *sink) setDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// triedIDs returns the ids of the events received so far.
func (s *sink) triedIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.tried)
}

func (s *sink) attemptCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts
}

// next waits for the next accepted announcement and returns it with its
// data.
func (s *sink) next(timeout time.Duration) (cloudevents.Event, announce.Announcement) {
	s.t.Helper()
	select {
	case <-s.arrived:
	case <-time.After(timeout):
		s.t.Fatalf("no announcement within %s", timeout)
	}
	s.mu.Lock()
	ev := s.accepted[len(s.accepted)-1]
	s.mu.Unlock()
	var a announce.Announcement
	if err := json.Unmarshal(ev.Data(), &a); err != nil {
		s.t.Fatalf("announcement data: %v: %s", err, ev.Data())
	}
	return ev, a
}

// none checks that no announcement arrives within d.
func (s *sink) none(d time.Duration) {
	s.t.Helper()
	select {
	case <-s.arrived:
		s.mu.Lock()
		ev := s.accepted[len(s.accepted)-1]
		s.mu.Unlock()
		s.t.Fatalf("unexpected announcement: %s", ev.Data())
	case <-time.After(d):
	}
}
