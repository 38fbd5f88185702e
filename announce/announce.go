// Package announce pushes mesh-changed CloudEvents: when told that the
// cluster changed, it rebuilds the mesh and, when it differs from the last
// one announced, sends one dev.knative.eventmesh.changed event to the sink.
//
// Announcing is at least once, and exactly once in the common case:
//   - the first notification after a quiet period is rebuilt at once; the
//     rest of a burst is coalesced into one rebuild per Debounce;
//   - the last announced mesh is kept in a ConfigMap (State), so an
//     unchanged mesh announces nothing, also after a restart;
//   - an instance writes a Claim into that ConfigMap (an update guarded by
//     its resourceVersion) before it sends, so that two instances never
//     both announce one change;
//   - the state advances only once the sink has accepted the event; a sink
//     that fails is retried with backoff, a bounded number of times; a
//     sink that rejects the event (a 4xx Knative Eventing does not retry)
//     is not retried until the next notification;
//   - an instance that dies after the sink accepted but before it recorded
//     so leaves the change to be announced again, with the same event id,
//     which the consumer can use to drop the duplicate.
package announce

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"k8s.io/utils/clock"

	"github.com/knative-eventmesh/function/mesh"
)

// EventType is the type of the announcements.
const EventType = "dev.knative.eventmesh.changed"

// Defaults of Config.
const (
	// DefaultMaxIndexBytes leaves room, in a ConfigMap's 1 MiB, for the
	// other keys and for what `kubectl apply` writes into its metadata.
	DefaultMaxIndexBytes = 768 << 10
	DefaultMaxAttempts   = 12
	DefaultConflictDelay = 200 * time.Millisecond
	// maxConflicts bounds the attempts to write the state when other
	// instances keep changing it.
	maxConflicts = 5
)

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
	// Debounce is the least time between two syncs: a change after a
	// quiet Debounce is synced at once, the rest of a burst at the end of
	// the window.
	Debounce time.Duration
	// Holder names this instance in claims.
	Holder string
	// ClaimTTL is how long a claim holds. It must exceed one attempt to
	// send an event.
	ClaimTTL time.Duration
	// RetryMin and RetryMax bound the backoff between failed attempts.
	RetryMin, RetryMax time.Duration
	// MaxAttempts bounds the attempts to announce one change (default
	// DefaultMaxAttempts); after that, the next notification tries again.
	MaxAttempts int
	// ConflictDelay bounds the random delay before the state is read
	// again after another instance changed it (default
	// DefaultConflictDelay).
	ConflictDelay time.Duration
	// MaxIndexBytes bounds the compressed index kept in the state. A mesh
	// whose index is larger is announced without its delta, and only its
	// digest is kept. Zero means DefaultMaxIndexBytes; negative keeps no
	// index.
	MaxIndexBytes int
	// SyncTimeout bounds one attempt: rebuilding the mesh, claiming,
	// sending and recording.
	SyncTimeout time.Duration
	// Header holds headers sent with every announcement, such as a
	// shared secret the sink checks.
	Header http.Header
	// TokenFile, when set, is a file holding a token sent as
	// Authorization: Bearer with each announcement, read at each send (a
	// projected ServiceAccount token rotates). A missing file sends none.
	TokenFile string
	// RootCAs, when set, are the certificates a sink's TLS certificate
	// may chain to (the system's and K_CA_CERTS).
	RootCAs *x509.CertPool
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

	// Tests replace these.
	clock clock.Clock
	// sleep waits d, or until ctx ends (then it returns false).
	sleep func(ctx context.Context, d time.Duration) bool
	// randN returns a random duration in [0, n).
	randN func(n time.Duration) time.Duration
}

// New returns an Announcer.
func New(cfg Config, build BuildFunc, store *Store, log *slog.Logger) (*Announcer, error) {
	var opts []cehttp.Option
	for name, values := range cfg.Header {
		for _, v := range values {
			opts = append(opts, cehttp.WithHeader(name, v))
		}
	}
	if cfg.RootCAs != nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.TLSClientConfig = &tls.Config{RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12}
		opts = append(opts, cehttp.WithRoundTripper(t))
	}
	client, err := cloudevents.NewClientHTTP(opts...)
	if err != nil {
		return nil, fmt.Errorf("creating CloudEvents client: %w", err)
	}
	cfg.MaxAttempts = cmp.Or(cfg.MaxAttempts, DefaultMaxAttempts)
	cfg.ConflictDelay = cmp.Or(cfg.ConflictDelay, DefaultConflictDelay)
	cfg.MaxIndexBytes = cmp.Or(cfg.MaxIndexBytes, DefaultMaxIndexBytes)
	a := &Announcer{cfg: cfg, build: build, store: store, client: client, log: log,
		notify: make(chan struct{}, 1), clock: clock.RealClock{}, randN: rand.N[time.Duration]}
	a.sleep = a.clockSleep
	return a, nil
}

// Notify tells the Announcer that the cluster may have changed. It never
// blocks.
func (a *Announcer) Notify() {
	select {
	case a.notify <- struct{}{}:
	default:
	}
}

// Run announces changes until ctx ends, at most one sync per Debounce:
// the first notification after Debounce without a sync is synced at once
// (the leading edge); those that follow within Debounce of that sync are
// coalesced into one sync when Debounce has passed. However long a burst
// goes on, it syncs once per Debounce. Each sync runs until it succeeds,
// is rejected, or ran out of attempts.
func (a *Announcer) Run(ctx context.Context) {
	var last time.Time // when the last sync started
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.notify:
		}
		if !last.IsZero() {
			if !a.clockSleep(ctx, a.cfg.Debounce-a.clock.Since(last)) {
				return
			}
		}
		// This sync covers what was notified while it waited.
		select {
		case <-a.notify:
		default:
		}
		last = a.clock.Now()
		a.syncUntilDone(ctx)
	}
}

// syncUntilDone syncs, retrying with jittered exponential backoff, until
// a sync succeeds, the sink rejects the event, MaxAttempts attempts
// failed, or ctx ends. A sync under way when ctx ends runs to its end
// (within its own deadline): stopping between the sink's acceptance and
// the state's update would announce the change twice.
func (a *Announcer) syncUntilDone(ctx context.Context) {
	backoff := a.cfg.RetryMin
	for attempt := 1; ; attempt++ {
		syncCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.cfg.SyncTimeout)
		err := a.sync(syncCtx)
		cancel()
		if err == nil || ctx.Err() != nil {
			return
		}
		if a.gaveUp(err, attempt) {
			a.release(ctx)
			return
		}
		var wait time.Duration
		wait, backoff = a.nextWait(err, attempt, backoff)
		if !a.sleep(ctx, wait) {
			return
		}
	}
}

// gaveUp reports, and logs, whether the failed attempt of number attempt
// ends the attempts at this change: the sink rejected the event, or
// MaxAttempts attempts failed. The next notification tries again.
func (a *Announcer) gaveUp(err error, attempt int) bool {
	var rejected *RejectedError
	switch {
	case errors.As(err, &rejected):
		a.log.Error("the sink rejected the announcement; it is not retried until the next change or notification",
			"id", rejected.ID, "status", rejected.Status, "sink", a.cfg.Sink, "error", err.Error())
		return true
	case attempt >= a.cfg.MaxAttempts:
		a.log.Error("announcing failed; giving up until the next change or notification",
			"attempts", attempt, "error", err.Error())
		return true
	}
	return false
}

// nextWait returns how long to wait after the failed attempt err, and the
// backoff after that: until another instance's claim ends, else the
// backoff with jitter.
func (a *Announcer) nextWait(err error, attempt int, backoff time.Duration) (wait, next time.Duration) {
	var claimed *claimedError
	if errors.As(err, &claimed) {
		wait = min(claimed.claim.Expires.Sub(a.clock.Now()), a.cfg.ClaimTTL) + a.jitter(a.cfg.RetryMin)
		a.log.Info("another instance is announcing", "holder", claimed.claim.Holder, "until", claimed.claim.Expires)
		return wait, backoff
	}
	wait = backoff + a.jitter(backoff/2)
	a.log.Warn("announcing failed; retrying", "error", err.Error(), "in", wait.String(), "attempt", attempt)
	return wait, min(2*backoff, a.cfg.RetryMax)
}

// release drops this instance's claim once it gave up announcing, so that
// another instance need not wait for the claim to expire. It is best
// effort: a claim left behind expires.
func (a *Announcer) release(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.cfg.ClaimTTL)
	defer cancel()
	st, err := a.store.Load(ctx)
	if err != nil || st.Claim == nil || st.Claim.Holder != a.cfg.Holder {
		return
	}
	st.Claim = nil
	if err := a.store.Save(ctx, st); err != nil {
		a.log.Debug("releasing the claim failed; it expires", "error", err.Error())
	}
}

// jitter returns a random duration in [0, d], 0 when d <= 0.
func (a *Announcer) jitter(d time.Duration) time.Duration {
	return a.randN(max(d, 0) + 1)
}

// claimedError means another instance holds an active claim.
type claimedError struct{ claim *Claim }

func (e *claimedError) Error() string { return "claimed by " + e.claim.Holder }

// RejectedError means the sink answered with a status that Knative
// Eventing does not retry: the sink refused the event itself, and sending
// it again cannot help.
type RejectedError struct {
	ID     string
	Status int
	Err    error
}

func (e *RejectedError) Error() string {
	return fmt.Sprintf("the sink rejected announcement %s with status %d: %v", e.ID, e.Status, e.Err)
}

func (e *RejectedError) Unwrap() error { return e.Err }

// errUnchanged means the state already records the mesh.
var errUnchanged = errors.New("mesh unchanged")

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
	idx, err := IndexOf(m)
	if err != nil {
		return err
	}
	if idx, err = a.keepable(idx); err != nil {
		return err
	}
	st, ev, err := a.claim(ctx, m, digest, idx)
	if errors.Is(err, errUnchanged) {
		a.log.Debug("mesh unchanged; nothing to announce", "digest", digest)
		return nil
	}
	if err != nil {
		return err
	}
	if err := a.send(ctx, ev); err != nil {
		return err
	}
	if err := a.record(ctx, st, ev, digest, idx); err != nil {
		return err
	}
	a.log.Info("announced mesh change", "id", ev.ID(), "digest", digest, "sink", a.cfg.Sink)
	return nil
}

// keepable returns idx, or nil when it is too large to keep in the state.
func (a *Announcer) keepable(idx Index) (Index, error) {
	b, err := encodeIndex(idx)
	if err != nil {
		return nil, err
	}
	if len(b) > a.cfg.MaxIndexBytes {
		a.log.Warn("the mesh index is too large to keep in the state ConfigMap; announcing without the delta",
			"indexBytes", len(b), "maxIndexBytes", a.cfg.MaxIndexBytes, "entities", len(idx))
		return nil, nil
	}
	return idx, nil
}

// claim reads the state and, when the mesh of digest is not announced yet
// and no other instance holds a claim, claims its announcement. It returns
// the claimed state and the event to send, or errUnchanged.
func (a *Announcer) claim(ctx context.Context, m *mesh.Mesh, digest string, idx Index) (*State, cloudevents.Event, error) {
	var st *State
	var ev cloudevents.Event
	err := a.retryConflicts(ctx, func() error {
		var err error
		if st, err = a.store.Load(ctx); err != nil {
			return err
		}
		if st.Damaged != nil {
			a.log.Warn("the state ConfigMap does not read; announcing the whole mesh, which writes it anew", "error", st.Damaged.Error())
		}
		if st.Digest == digest {
			return errUnchanged
		}
		if c := st.Claim; c.Active(a.clock.Now()) && c.Holder != a.cfg.Holder {
			return &claimedError{claim: c}
		}
		if ev, err = a.event(m, digest, st, delta(st.Index, idx)); err != nil {
			return err
		}
		st.Claim = &Claim{Holder: a.cfg.Holder, Digest: digest, ID: ev.ID(), Expires: a.clock.Now().Add(a.cfg.ClaimTTL)}
		return a.store.Save(ctx, st)
	})
	return st, ev, err
}

// record advances the state to the mesh of digest once the sink accepted
// ev. When the state changed since the claim, it is read again: the
// announcement is recorded as long as the claim still holds there.
func (a *Announcer) record(ctx context.Context, st *State, ev cloudevents.Event, digest string, idx Index) error {
	first := true
	err := a.retryConflicts(ctx, func() error {
		if !first {
			var err error
			if st, err = a.store.Load(ctx); err != nil {
				return err
			}
			if c := st.Claim; c == nil || c.Holder != a.cfg.Holder || c.ID != ev.ID() {
				return errors.New("another instance took over the claim")
			}
		}
		first = false
		st.Digest, st.Index, st.Sequence, st.Claim = digest, idx, st.Sequence+1, nil
		return a.store.Save(ctx, st)
	})
	if err != nil {
		// The other instance announces again, with the same id.
		return fmt.Errorf("recording announcement %s: %w", ev.ID(), err)
	}
	return nil
}

// retryConflicts runs try until it returns anything but ErrConflict,
// waiting a short random delay between tries, at most maxConflicts times.
func (a *Announcer) retryConflicts(ctx context.Context, try func() error) error {
	for n := 1; ; n++ {
		err := try()
		if !errors.Is(err, ErrConflict) || n == maxConflicts {
			return err
		}
		a.log.Debug("the state changed since it was read; reading it again", "try", n)
		if !a.sleep(ctx, a.cfg.ConflictDelay/2+a.jitter(a.cfg.ConflictDelay/2)) {
			return err
		}
	}
}

// delta is the delta from the old index to the new, or nil when either is
// unknown (not kept in the state).
func delta(old, new Index) *Delta {
	if old == nil || new == nil {
		return nil
	}
	d := Diff(old, new)
	return &d
}

// send sends ev to the sink, in structured mode, and waits for it to be
// accepted. A status that Knative Eventing would not retry is a
// *RejectedError.
func (a *Announcer) send(ctx context.Context, ev cloudevents.Event) error {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.ClaimTTL/2)
	defer cancel()
	token, err := readToken(a.cfg.TokenFile)
	if err != nil {
		return err
	}
	if token != "" {
		ctx = cehttp.WithCustomHeader(ctx, http.Header{"Authorization": {"Bearer " + token}})
	}
	// Structured mode: the attributes travel in the body, which survives
	// what keeps only a body (Backstage's events bus, for one).
	ctx = cloudevents.WithEncodingStructured(ctx)
	res := a.client.Send(cloudevents.ContextWithTarget(ctx, a.cfg.Sink), ev)
	if cloudevents.IsACK(res) {
		return nil
	}
	err = fmt.Errorf("sending %s to %s: %w", ev.ID(), a.cfg.Sink, res)
	status, ok := statusOf(res)
	switch {
	case ok && (status == http.StatusUnauthorized || status == http.StatusForbidden):
		// Retried, a bounded number of times: the token rotates, and the
		// sink's configuration may be fixed meanwhile.
		return fmt.Errorf("%w: %s", err, authHint(status, a.cfg.TokenFile, token != "", a.cfg.Header))
	case ok && !retryable(status):
		return &RejectedError{ID: ev.ID(), Status: status, Err: err}
	}
	return err
}

// readToken returns the token in file, "" when file is "" or missing.
func readToken(file string) (string, error) {
	if file == "" {
		return "", nil
	}
	b, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading the token file %s: %w", file, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// authHint says the likely cause of a sink's 401 or 403.
func authHint(status int, tokenFile string, sentToken bool, header http.Header) string {
	switch {
	case sentToken && status == http.StatusForbidden:
		return "the sink verified the function's token from " + tokenFile + " but refuses its subject: " +
			"an EventPolicy on the sink does not allow the function's OIDC identity (the SinkBinding's status.auth.serviceAccountName), " +
			"or Backstage's ingress does not list it in serviceAccount.subjects"
	case sentToken:
		return "the sink did not accept the function's token from " + tokenFile +
			": it expired, or it is for another audience than the sink's (a SinkBinding mounts a token for its sink's audience; " +
			"Backstage's ingress checks serviceAccount.audience)"
	case len(header) > 0:
		return "the sink refused the shared secret: set the same value in PUSH_SECRET and in Backstage's ingress secret"
	}
	return "the function sent no credentials: no token at " + tokenFile +
		" (with Knative's authentication-oidc on, the SinkBinding mounts one for the sink's audience) and no PUSH_SECRET"
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

// clockSleep waits d on the Announcer's clock, or until ctx ends.
func (a *Announcer) clockSleep(ctx context.Context, d time.Duration) bool {
	t := a.clock.NewTimer(max(d, 0))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C():
		return true
	}
}
