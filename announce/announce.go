// Package announce pushes mesh-changed CloudEvents: when told that the
// cluster changed, it rebuilds the mesh and, when it differs from the last
// one announced, sends one dev.knative.eventmesh.changed event to the sink.
//
// Announcing is at least once, and exactly once in the common case:
//   - bursts of notifications are debounced into one rebuild;
//   - the last announced mesh is kept in a ConfigMap (State), so an
//     unchanged mesh announces nothing, also after a restart;
//   - an instance writes a Claim into that ConfigMap (an update guarded by
//     its resourceVersion) before it sends, so that two instances never
//     both announce one change;
//   - the state advances only once the sink has accepted the event; a sink
//     that fails is retried with backoff;
//   - an instance that dies after the sink accepted but before it recorded
//     so leaves the change to be announced again, with the same event id,
//     which the consumer can use to drop the duplicate.
package announce

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/knative-eventmesh/function/mesh"
)

// EventType is the type of the announcements.
const EventType = "dev.knative.eventmesh.changed"

// Config configures an Announcer.
type Config struct {
	// Sink is where announcements go (K_SINK).
	Sink string
	// Source is the CloudEvent source of announcements: the function's own
	// URI reference.
	Source string
	// Subject is the cluster's name, or "".
	Subject string
	// DataRef is the URL of GET /v1/getEventMesh.
	DataRef string
	// Debounce is how long the cluster must stay quiet before the mesh is
	// rebuilt; MaxDelay bounds how long a stream of changes can put it off.
	Debounce, MaxDelay time.Duration
	// Holder names this instance in claims.
	Holder string
	// ClaimTTL is how long a claim holds. It must exceed one attempt to
	// send an event.
	ClaimTTL time.Duration
	// RetryMin and RetryMax bound the backoff between failed attempts.
	RetryMin, RetryMax time.Duration
	// SyncTimeout bounds one attempt: rebuilding the mesh, claiming,
	// sending and recording.
	SyncTimeout time.Duration
}

// BuildFunc builds the mesh to announce.
type BuildFunc func(ctx context.Context) (*mesh.Mesh, error)

// Announcer announces mesh changes. Notify it of changes; Run does the
// work.
type Announcer struct {
	cfg    Config
	build  BuildFunc
	store  *Store
	client cloudevents.Client
	log    *slog.Logger
	notify chan struct{}
	now    func() time.Time
}

// New returns an Announcer.
func New(cfg Config, build BuildFunc, store *Store, log *slog.Logger) (*Announcer, error) {
	client, err := cloudevents.NewClientHTTP()
	if err != nil {
		return nil, fmt.Errorf("creating CloudEvents client: %w", err)
	}
	return &Announcer{cfg: cfg, build: build, store: store, client: client, log: log,
		notify: make(chan struct{}, 1), now: time.Now}, nil
}

// Notify tells the Announcer that the cluster may have changed. It never
// blocks.
func (a *Announcer) Notify() {
	select {
	case a.notify <- struct{}{}:
	default:
	}
}

// Run announces changes until ctx ends: it waits for a notification,
// debounces, and syncs until the sync succeeds.
func (a *Announcer) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.notify:
		}
		if !a.debounce(ctx) {
			return
		}
		a.syncUntilDone(ctx)
	}
}

// debounce waits until no notification came for Debounce, or MaxDelay has
// passed. It returns false when ctx ended.
func (a *Announcer) debounce(ctx context.Context) bool {
	deadline := time.NewTimer(a.cfg.MaxDelay)
	defer deadline.Stop()
	quiet := time.NewTimer(a.cfg.Debounce)
	defer quiet.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-deadline.C:
			return true
		case <-quiet.C:
			return true
		case <-a.notify:
			quiet.Reset(a.cfg.Debounce)
		}
	}
}

// syncUntilDone syncs, retrying with exponential backoff, until a sync
// succeeds or ctx ends. A sync under way when ctx ends runs to its end
// (within its own deadline): stopping between the sink's acceptance and
// the state's update would announce the change twice.
func (a *Announcer) syncUntilDone(ctx context.Context) {
	wait := a.cfg.RetryMin
	for {
		syncCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.cfg.SyncTimeout)
		err := a.sync(syncCtx)
		cancel()
		if err == nil || ctx.Err() != nil {
			return
		}
		var claimed *claimedError
		if errors.As(err, &claimed) {
			// Another instance announces; check again when its claim ends.
			a.log.Info("another instance is announcing", "holder", claimed.claim.Holder, "until", claimed.claim.Expires)
			if !sleep(ctx, claimed.claim.Expires.Sub(a.now())+a.cfg.RetryMin) {
				return
			}
			continue
		}
		if errors.Is(err, ErrConflict) {
			continue // the state moved: look again at once
		}
		a.log.Warn("announcing failed; retrying", "error", err.Error(), "in", wait.String())
		if !sleep(ctx, wait) {
			return
		}
		wait = min(2*wait, a.cfg.RetryMax)
	}
}

// claimedError means another instance holds an active claim.
type claimedError struct{ claim *Claim }

func (e *claimedError) Error() string { return "claimed by " + e.claim.Holder }

// sync rebuilds the mesh and announces it if it differs from the last
// announced one.
func (a *Announcer) sync(ctx context.Context) error {
	m, err := a.build(ctx)
	if err != nil {
		return fmt.Errorf("building the mesh: %w", err)
	}
	body, err := mesh.Encode(m)
	if err != nil {
		return err
	}
	digest := Digest(body)
	st, err := a.store.Load(ctx)
	if err != nil {
		return err
	}
	if st.Digest == digest {
		a.log.Debug("mesh unchanged; nothing to announce", "digest", digest)
		return nil
	}
	if c := st.Claim; c.Active(a.now()) && c.Holder != a.cfg.Holder {
		return &claimedError{claim: c}
	}
	idx, err := IndexOf(m)
	if err != nil {
		return err
	}
	ev, err := a.event(m, digest, st, Diff(st.Index, idx))
	if err != nil {
		return err
	}
	st.Claim = &Claim{Holder: a.cfg.Holder, Digest: digest, ID: ev.ID(), Expires: a.now().Add(a.cfg.ClaimTTL)}
	if err := a.store.Save(ctx, st); err != nil {
		return err
	}
	if err := a.send(ctx, ev); err != nil {
		return err
	}
	st.Digest, st.Index, st.Sequence, st.Claim = digest, idx, st.Sequence+1, nil
	if err := a.store.Save(ctx, st); err != nil {
		// Our claim was overtaken: the other instance announces again,
		// with the same id.
		return fmt.Errorf("recording announcement %s: %w", ev.ID(), err)
	}
	a.log.Info("announced mesh change", "id", ev.ID(), "digest", digest, "sink", a.cfg.Sink)
	return nil
}

// send sends ev to the sink and waits for it to be accepted.
func (a *Announcer) send(ctx context.Context, ev cloudevents.Event) error {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.ClaimTTL/2)
	defer cancel()
	res := a.client.Send(cloudevents.ContextWithTarget(ctx, a.cfg.Sink), ev)
	if !cloudevents.IsACK(res) {
		return fmt.Errorf("sending %s to %s: %w", ev.ID(), a.cfg.Sink, res)
	}
	return nil
}

// Digest returns the digest of an encoded mesh.
func Digest(body []byte) string {
	sum := sha256.Sum256(body)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// eventID identifies the announcement of the change from the state st to
// the mesh of digest: the same change gets the same id, also when it is
// sent again after a crash.
func eventID(st *State, digest string) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s\x00%s\x00%d", st.Digest, digest, st.Sequence))
	return hex.EncodeToString(sum[:16])
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(max(d, 0))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
