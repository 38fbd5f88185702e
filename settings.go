package function

import (
	"cmp"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/knative-eventmesh/function/announce"
	"github.com/knative-eventmesh/function/intake"
)

// Settings are read from the environment (and func's static cfg file) at
// Start.
type Settings struct {
	// Timeout is the deadline of one mesh request (MESH_TIMEOUT). It stays
	// below the 30 s write timeout of func-go's HTTP server, so a slow API
	// server gives a 504 rather than a dropped connection.
	Timeout time.Duration
	// PageSize is the limit of each LIST request (MESH_PAGE_SIZE).
	PageSize int64
	// LogLevel is debug, info, warn or error (LOG_LEVEL).
	LogLevel slog.Level
	// MaxBuilds bounds the mesh builds under way at once
	// (MESH_MAX_BUILDS); 0 derives it from the memory limit at Start.
	MaxBuilds int
	// Push configures mesh-changed announcements.
	Push PushSettings
}

// PushSettings configure push. Push is on when Sink is set.
type PushSettings struct {
	// Sink is where announcements go (K_SINK, set by a SinkBinding or by
	// Knative).
	Sink string
	// ClusterName becomes the subject of announcements (CLUSTER_NAME).
	ClusterName string
	// Debounce is the least time between two rebuilds (PUSH_DEBOUNCE): a
	// change after a quiet Debounce is rebuilt at once, the rest of a
	// burst when Debounce has passed.
	Debounce time.Duration
	// ClaimTTL is how long a claim to announce holds (PUSH_CLAIM_TTL).
	ClaimTTL time.Duration
	// StateNamespace and StateConfigMap name the state ConfigMap
	// (PUSH_STATE_NAMESPACE, default the function's own namespace;
	// PUSH_STATE_CONFIGMAP).
	StateNamespace, StateConfigMap string
	// Source is the CloudEvent source of announcements (PUSH_SOURCE;
	// default the Knative Service's URI reference).
	Source string
	// MeshURL is the base URL callers reach the function at (MESH_URL),
	// for the dataref of announcements; default the ksvc's cluster-local
	// address.
	MeshURL string
	// MaxIndexBytes bounds the compressed index of the last announced mesh
	// kept in the state ConfigMap (PUSH_INDEX_MAX_BYTES): a larger one is
	// not kept, and its announcement carries no delta.
	MaxIndexBytes int
	// Secret, when set (PUSH_SECRET, from a Secret), is sent with every
	// announcement in the X-Eventmesh-Secret header, for a sink that takes
	// announcements only from the function. It is never logged.
	Secret string
	// TokenFile holds a token sent as Authorization: Bearer with every
	// announcement, read at each send (PUSH_TOKEN_FILE; default where a
	// SinkBinding mounts its OIDC token). A missing file sends none.
	TokenFile string
	// CACerts holds PEM certificates the sink's TLS certificate may chain
	// to, besides the system's (K_CA_CERTS, set by a SinkBinding when
	// Eventing's transport-encryption gives the sink an https address).
	CACerts string
	// Intake configures who may notify the function of changes.
	Intake IntakeSettings
}

// IntakeSettings configure the check of incoming notifications. It
// applies when a source reports an OIDC identity or Subjects is set.
type IntakeSettings struct {
	// Audience is the function's OIDC audience (INTAKE_AUDIENCE; default
	// the Knative Service's, serving.knative.dev/service/<ns>/<name>).
	Audience string
	// Sources lists the push sources whose OIDC identities may notify
	// (INTAKE_SOURCES, "[namespace/]kind/name" separated by commas;
	// default those of rbac/push.yaml).
	Sources string
	// Subjects lists further users that may notify (INTAKE_SUBJECTS,
	// separated by commas).
	Subjects string
}

// Defaults of Settings.
const (
	DefaultTimeout  = 20 * time.Second
	DefaultPageSize = 2000
	DefaultDebounce = time.Second
	DefaultClaimTTL = 30 * time.Second
	// DefaultTokenFile is where a SinkBinding mounts the OIDC token of the
	// sink's audience, when Knative's authentication-oidc is on.
	DefaultTokenFile = "/oidc/token"
	DefaultStateCM   = "eventmesh-state"
	// maxConfigMapBytes is what a ConfigMap may hold in all.
	maxConfigMapBytes = 1 << 20
)

// readSettings reads Settings from env, which func-go fills with the
// environment.
func readSettings(env map[string]string) (Settings, error) {
	s := Settings{Timeout: DefaultTimeout, PageSize: DefaultPageSize, LogLevel: slog.LevelInfo}
	if v := env["MESH_TIMEOUT"]; v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > 29*time.Second {
			return s, fmt.Errorf("MESH_TIMEOUT=%q: want a duration from 1ms to 29s, such as 20s", v)
		}
		s.Timeout = d
	}
	if v := env["MESH_PAGE_SIZE"]; v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 || n > 100000 {
			return s, fmt.Errorf("MESH_PAGE_SIZE=%q: want a number of objects from 1 to 100000", v)
		}
		s.PageSize = n
	}
	if v := env["MESH_MAX_BUILDS"]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return s, fmt.Errorf("MESH_MAX_BUILDS=%q: want a number of builds from 1 to 1000", v)
		}
		s.MaxBuilds = n
	}
	if v := env["LOG_LEVEL"]; v != "" {
		if err := s.LogLevel.UnmarshalText([]byte(v)); err != nil {
			return s, fmt.Errorf("LOG_LEVEL=%q: want debug, info, warn or error", v)
		}
	}
	var err error
	s.Push, err = readPushSettings(env)
	return s, err
}

// readPushSettings reads PushSettings; the namespace and URL defaults that
// depend on where the function runs are filled in at Start.
func readPushSettings(env map[string]string) (PushSettings, error) {
	p := PushSettings{
		Sink:           env["K_SINK"],
		ClusterName:    env["CLUSTER_NAME"],
		Debounce:       DefaultDebounce,
		ClaimTTL:       DefaultClaimTTL,
		StateNamespace: env["PUSH_STATE_NAMESPACE"],
		StateConfigMap: cmp.Or(env["PUSH_STATE_CONFIGMAP"], DefaultStateCM),
		Source:         env["PUSH_SOURCE"],
		MeshURL:        strings.TrimSuffix(env["MESH_URL"], "/"),
		MaxIndexBytes:  announce.DefaultMaxIndexBytes,
		Secret:         env["PUSH_SECRET"],
		TokenFile:      cmp.Or(env["PUSH_TOKEN_FILE"], DefaultTokenFile),
		CACerts:        env["K_CA_CERTS"],
		Intake: IntakeSettings{
			Audience: env["INTAKE_AUDIENCE"],
			Sources:  cmp.Or(env["INTAKE_SOURCES"], intake.DefaultSources),
			Subjects: env["INTAKE_SUBJECTS"],
		},
	}
	// The namespace is known at Start; any one checks the form here.
	if _, err := intake.ParseSources(p.Intake.Sources, "default"); err != nil {
		return p, fmt.Errorf("INTAKE_SOURCES=%q: %w", p.Intake.Sources, err)
	}
	if p.Sink != "" {
		if u, err := url.Parse(p.Sink); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return p, fmt.Errorf("K_SINK=%q: want an http(s) URL", p.Sink)
		}
	}
	for _, d := range []struct {
		name     string
		to       *time.Duration
		min, max time.Duration
	}{
		{"PUSH_DEBOUNCE", &p.Debounce, time.Millisecond, 10 * time.Minute},
		{"PUSH_CLAIM_TTL", &p.ClaimTTL, time.Second, time.Hour},
	} {
		v := env[d.name]
		if v == "" {
			continue
		}
		t, err := time.ParseDuration(v)
		if err != nil || t < d.min || t > d.max {
			return p, fmt.Errorf("%s=%q: want a duration from %s to %s", d.name, v, d.min, d.max)
		}
		*d.to = t
	}
	if v := env["PUSH_INDEX_MAX_BYTES"]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxConfigMapBytes {
			return p, fmt.Errorf("PUSH_INDEX_MAX_BYTES=%q: want a number of bytes from 1 to %d (a ConfigMap holds at most 1 MiB)", v, maxConfigMapBytes)
		}
		p.MaxIndexBytes = n
	}
	return p, nil
}
