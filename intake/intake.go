// Package intake decides who may tell the function that the cluster
// changed. With Knative Eventing's OIDC on, the push sources send a token
// for the function's audience with each notification; a Guard has the API
// server verify it (a TokenReview, as kube-rbac-proxy does) and takes only
// the sources' own OIDC identities, which Eventing reports in their
// status.auth, and subjects the operator allows.
package intake

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	authenticationv1client "k8s.io/client-go/kubernetes/typed/authentication/v1"
	"k8s.io/utils/clock"

	"github.com/knative-eventmesh/function/token"
)

// Defaults of Config.
const (
	// DefaultRefresh is how long the sources' identities are kept before
	// they are read again.
	DefaultRefresh = 30 * time.Second
	// minRefresh is the least time between two reads of the identities
	// when a verified subject is not among them: a source recreated in
	// between has a new identity, a stranger does not make the function
	// read the sources at each request.
	minRefresh = 2 * time.Second
)

// Source is a push source whose OIDC identity may notify the function.
type Source struct {
	Resource        schema.GroupVersionResource
	Namespace, Name string
}

func (s Source) String() string {
	return s.Namespace + "/" + strings.TrimSuffix(s.Resource.Resource, "s") + "/" + s.Name
}

// Config configures a Guard.
type Config struct {
	// Audience is the function's: the audience its callers' tokens must
	// be issued for.
	Audience string
	// Sources are the push sources whose OIDC identities may notify.
	Sources []Source
	// Subjects are further users that may notify, as the API server names
	// them (system:serviceaccount:<namespace>:<name>).
	Subjects []string
	// Refresh is how long the sources' identities are kept (default
	// DefaultRefresh).
	Refresh time.Duration
}

// Guard checks the caller of each notification.
type Guard struct {
	cfg     Config
	reviews authenticationv1client.TokenReviewInterface
	dyn     dynamic.Interface
	log     *slog.Logger
	clock   clock.Clock

	mu     sync.Mutex
	ids    []string // the sources' identities
	readAt time.Time
}

// New returns a Guard that verifies tokens with reviews and reads the
// sources with dyn, both with the function's own identity.
func New(cfg Config, reviews authenticationv1client.TokenReviewInterface, dyn dynamic.Interface, log *slog.Logger) *Guard {
	if cfg.Refresh <= 0 {
		cfg.Refresh = DefaultRefresh
	}
	return &Guard{cfg: cfg, reviews: reviews, dyn: dyn, log: log, clock: clock.RealClock{}}
}

// Denial is why a caller may not notify, with the HTTP status to answer.
type Denial struct {
	Status int
	Reason string
}

func (d *Denial) Error() string { return d.Reason }

// Check returns nil when the caller of r may notify the function, else a
// *Denial. OIDC is in use when a push source reports an OIDC identity or
// Subjects is set: then a request needs a bearer token that verifies for
// Audience, of an allowed subject. Else every caller may notify, as
// without OIDC Eventing sends no token.
func (g *Guard) Check(ctx context.Context, r *http.Request) error {
	ids, err := g.identities(ctx, false)
	if err != nil {
		return g.deny(http.StatusServiceUnavailable, "cannot read the push sources' OIDC identities: %v; "+
			"check that the function's ServiceAccount may get %s", err, g.sourceList())
	}
	if len(ids) == 0 && len(g.cfg.Subjects) == 0 {
		return nil
	}
	tok, err := token.FromRequest(r)
	if err != nil {
		return g.deny(http.StatusUnauthorized, "%v; with Knative's OIDC on, a notification must carry a token "+
			"for the audience %q (set sink.audience to it on the push sources)", err, g.cfg.Audience)
	}
	user, err := g.review(ctx, tok)
	if err != nil {
		return err
	}
	if g.allowed(ids, user) {
		return nil
	}
	if ids, err = g.identities(ctx, true); err == nil && g.allowed(ids, user) {
		return nil
	}
	return g.deny(http.StatusForbidden, "%s may not notify the function: allowed are the OIDC identities of %s "+
		"and the subjects of INTAKE_SUBJECTS", user, g.sourceList())
}

// review has the API server verify tok for the function's audience, and
// returns its user.
func (g *Guard) review(ctx context.Context, tok string) (string, error) {
	tr, err := g.reviews.Create(ctx, &authenticationv1.TokenReview{
		Spec: authenticationv1.TokenReviewSpec{Token: tok, Audiences: []string{g.cfg.Audience}},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", g.deny(http.StatusServiceUnavailable, "cannot verify the token: %v; "+
			"check that the function's ServiceAccount may create tokenreviews", err)
	}
	s := tr.Status
	if !s.Authenticated || !slices.Contains(s.Audiences, g.cfg.Audience) {
		reason := "it is invalid, expired or issued for another audience"
		if s.Error != "" {
			reason += " (" + s.Error + ")"
		}
		return "", g.deny(http.StatusUnauthorized, "the token does not verify for the audience %q: %s", g.cfg.Audience, reason)
	}
	return s.User.Username, nil
}

// allowed reports whether user is one of ids or of the configured subjects.
func (g *Guard) allowed(ids []string, user string) bool {
	return slices.Contains(ids, user) || slices.Contains(g.cfg.Subjects, user)
}

// identities returns the sources' OIDC identities, read again when older
// than Refresh, or, when stale is set, than minRefresh.
func (g *Guard) identities(ctx context.Context, stale bool) ([]string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	age := g.clock.Since(g.readAt)
	if !g.readAt.IsZero() && age < g.cfg.Refresh && (!stale || age < minRefresh) {
		return g.ids, nil
	}
	var ids []string
	for _, s := range g.cfg.Sources {
		got, err := g.identitiesOf(ctx, s)
		if err != nil {
			return nil, err
		}
		ids = append(ids, got...)
	}
	g.ids, g.readAt = ids, g.clock.Now()
	return ids, nil
}

// identitiesOf returns the users of a source's OIDC ServiceAccounts, none
// when the source does not exist or has no OIDC identity.
func (g *Guard) identitiesOf(ctx context.Context, s Source) ([]string, error) {
	obj, err := g.dyn.Resource(s.Resource).Namespace(s.Namespace).Get(ctx, s.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("getting %s: %w", s, err)
	}
	return ServiceAccountUsers(obj), nil
}

// ServiceAccountUsers returns the users of the OIDC ServiceAccounts that a
// source's status.auth names, in the source's namespace.
func ServiceAccountUsers(obj *unstructured.Unstructured) []string {
	var names []string
	if n, _, _ := unstructured.NestedString(obj.Object, "status", "auth", "serviceAccountName"); n != "" {
		names = append(names, n)
	}
	more, _, _ := unstructured.NestedStringSlice(obj.Object, "status", "auth", "serviceAccountNames")
	var users []string
	for _, n := range append(names, more...) {
		if u := "system:serviceaccount:" + obj.GetNamespace() + ":" + n; n != "" && !slices.Contains(users, u) {
			users = append(users, u)
		}
	}
	return users
}

// deny logs and returns a Denial.
func (g *Guard) deny(status int, format string, args ...any) error {
	d := &Denial{Status: status, Reason: fmt.Sprintf(format, args...)}
	g.log.Warn("notification refused", "status", status, "reason", d.Reason)
	return d
}

// sourceList names the sources in messages.
func (g *Guard) sourceList() string {
	if len(g.cfg.Sources) == 0 {
		return "no push source (INTAKE_SOURCES is empty)"
	}
	names := make([]string, len(g.cfg.Sources))
	for i, s := range g.cfg.Sources {
		names[i] = s.String()
	}
	return strings.Join(names, ", ")
}
