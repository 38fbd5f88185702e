package hostile

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
)

// window is the length of the parts of a token looked for in the logs:
// long enough that a random one never shows up by chance, short enough
// that a truncated or split token is still found.
const window = 12

// maxScanned bounds the prefix of a token whose windows are looked for.
// Only the tokens of the cases over MaxHeaderBytes, which net/http refuses
// before the function sees them, are longer.
const maxScanned = 64 << 10

// leakScanner finds parts of tokens in logs.
//
// A part of a token is any run of window bytes of it, except in a JWT's
// header segment: the header ({"alg":...,"kid":...}) is the same in every
// token an issuer signs and names none of them. So for a JWT the runs of
// its payload and signature segments count, including the runs that span
// the dot between them. A token shorter than window cannot be looked for
// without matching ordinary text, and is refused.
type leakScanner struct {
	parts  map[string]string // run of window bytes → names of the tokens it is part of
	tokens map[string]bool
}

func newLeakScanner() *leakScanner {
	return &leakScanner{parts: map[string]string{}, tokens: map[string]bool{}}
}

// add registers a token under a name for messages. Adding a token again
// does nothing.
func (s *leakScanner) add(name, tok string) error {
	if s.tokens[tok] {
		return nil
	}
	secret := tok
	if i := strings.IndexByte(tok, '.'); i > 0 && isJWTHeader(tok[:i]) {
		secret = tok[i+1:]
	}
	if len(secret) < window {
		return fmt.Errorf("token %s: %d bytes to look for, fewer than %d", name, len(secret), window)
	}
	secret = secret[:min(len(secret), maxScanned)]
	for i := 0; i+window <= len(secret); i++ {
		part := secret[i : i+window]
		switch names := s.parts[part]; {
		case names == "":
			s.parts[part] = name
		case !strings.HasSuffix(names, ", "+name) && names != name:
			// Tokens of one issuer share runs of their claims.
			s.parts[part] = names + ", " + name
		}
	}
	s.tokens[tok] = true
	return nil
}

// isJWTHeader reports whether seg is a JWT's header segment: base64url of
// a JSON object that names an algorithm.
func isJWTHeader(seg string) bool {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return false
	}
	var h struct {
		Alg string `json:"alg"`
	}
	return json.Unmarshal(b, &h) == nil && h.Alg != ""
}

// leak is a line of the logs that holds a part of a token.
type leak struct {
	token string
	line  string
}

// scan returns the lines of logs that hold a part of a token. A line is
// searched as written and, as logs are JSON, in each string of it decoded
// (a token with a quote or a control character is escaped in JSON), and
// each of those percent-decoded too (a token in a URL).
func (s *leakScanner) scan(logs string) []leak {
	var leaks []leak
	for line := range strings.SplitSeq(logs, "\n") {
		texts := []string{line}
		var v any
		if json.Unmarshal([]byte(line), &v) == nil {
			texts = appendStrings(texts, v)
		}
		for _, text := range texts {
			if u, err := url.PathUnescape(text); err == nil && u != text {
				texts = append(texts, u)
			}
		}
		if name, ok := s.find(texts); ok {
			leaks = append(leaks, leak{token: name, line: line})
		}
	}
	return leaks
}

// find returns the name of a token a part of which is in one of texts.
func (s *leakScanner) find(texts []string) (string, bool) {
	for _, text := range texts {
		for i := 0; i+window <= len(text); i++ {
			if name, ok := s.parts[text[i:i+window]]; ok {
				return name, true
			}
		}
	}
	return "", false
}

// appendStrings appends the strings of a decoded JSON value, keys
// included.
func appendStrings(out []string, v any) []string {
	switch v := v.(type) {
	case string:
		out = append(out, v)
	case []any:
		for _, e := range v {
			out = appendStrings(out, e)
		}
	case map[string]any:
		for k, e := range v {
			out = appendStrings(append(out, k), e)
		}
	}
	return out
}

// TestLeakScanner shows that the scanner finds a part of a token however
// the logs write it, and only a part of a token.
func TestLeakScanner(t *testing.T) {
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"ES256","kid":"k"}`))
	payload := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"system:serviceaccount:a:b","jti":"` + randomToken(16) + `"}`))
	signature := randomToken(86)
	jwt := header + "." + payload + "." + signature
	odd := `abc"def` + randomToken(20)      // needs JSON escaping
	slashy := "Ab/Cd+Ef/" + randomToken(20) // changes when percent-encoded

	s := newLeakScanner()
	for name, tok := range map[string]string{"jwt": jwt, "odd": odd, "slashy": slashy} {
		if err := s.add(name, tok); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.add("short", "0123456789a"); err == nil {
		t.Error("a token of 11 bytes was accepted")
	}
	if err := s.add("short JWT", header+".abc.def"); err == nil {
		t.Error("a JWT of 7 bytes after its header was accepted")
	}

	logLine := func(msg string, args ...any) string {
		var b bytes.Buffer
		slog.New(slog.NewJSONHandler(&b, nil)).Info(msg, args...)
		return strings.TrimSuffix(b.String(), "\n")
	}
	tests := []struct {
		name string
		line string
		want string // the token found, or ""
	}{
		{"signature window in an error", logLine("mesh request failed", "error", "token "+signature[40:52]+" refused"), "jwt"},
		{"payload window", logLine("x", "claims", payload[5:17]), "jwt"},
		{"window across payload and signature", logLine("x", "v", payload[len(payload)-6:]+"."+signature[:5]), "jwt"},
		{"whole token in a klog line", "I0101 client.go:1] Authorization: Bearer " + jwt, "jwt"},
		{"token in an attribute name", logLine("x", "tok-"+jwt, 1), "jwt"},
		{"JSON-escaped window", logLine("x", "value", odd[1:13]), "odd"},
		{"percent-encoded window", logLine("GET", "url", "/x?t="+url.QueryEscape(slashy[:12])), "slashy"},
		{"the header segment", logLine("x", "v", header+"."), ""},
		{"eleven bytes", logLine("x", "v", signature[40:51]), ""},
		{"a window with one byte changed", logLine("x", "v", signature[40:51]+"!"), ""},
		{"ordinary logs", logLine("mesh served", "status", 200, "path", "/v1/getEventMesh"), ""},
	}
	for _, tt := range tests {
		got := ""
		if leaks := s.scan(tt.line); len(leaks) > 0 {
			got = leaks[0].token
		}
		if got != tt.want {
			t.Errorf("%s: scanning %q found token %q, want %q", tt.name, tt.line, got, tt.want)
		}
	}
}

// TestNoTokenInLogs runs a whole session against one function with push
// on and debug logs: mesh requests with tokens that are valid, forbidden,
// scoped, rejected by the API server and refused by the function, every
// hostile request of TestHostileRequests, and CloudEvents that make it
// announce. Then no part of any token may be in its logs.
func TestNoTokenInLogs(t *testing.T) {
	ctx := context.Background()
	admin, err := kubernetes.NewForConfig(testCluster.Config())
	if err != nil {
		t.Fatal(err)
	}
	resetState(t, admin)
	sink := startSink(t)
	fn := startFunction(t, "K_SINK", sink.URL, "K_SERVICE", "eventmesh", "PUSH_DEBOUNCE", "200ms", "PUSH_CLAIM_TTL", "3s")

	scanner := newLeakScanner()
	use := func(name, tok string) string {
		t.Helper()
		if err := scanner.add(name, tok); err != nil {
			t.Fatal(err)
		}
		return tok
	}
	use("the function's own token", ownToken)
	reader := use("reader", readerToken)
	legacy := use("reader's Secret token", secretToken(t, admin, eventing, "eventmesh-reader-token"))
	fresh := use("re-signed reader token", freshToken)
	nobody := use("token without permissions", mustToken(t, "hostile-leak", "nobody"))
	scopedToken, err := testCluster.NamespaceReaderToken(ctx, "shop", "team")
	if err != nil {
		t.Fatal(err)
	}
	scoped := use("token of namespace shop", scopedToken)
	expired := use("expired token", expiredToken)
	foreign := use("another cluster's token", foreignToken)
	forgedReader := use("reader token, forged signature", forged(readerToken))
	garbage := use("garbage", randomToken(40))
	jwtGarbage := use("JWT-looking garbage", garbageJWT())
	atLimit := use("garbage of 16 KiB", randomToken(maxToken))
	tooLong := use("garbage over 16 KiB", randomToken(maxToken+1))

	// Mesh requests, each with its expected status.
	meshes := []struct {
		path, token string
		status      int
	}{
		{meshPath, reader, 200},
		{meshPath, legacy, 200},
		{meshPath, fresh, 200},
		{meshPath, ownToken, 200},
		{"/namespaces/shop" + meshPath, scoped, 200},
		{meshPath, scoped, 403},
		{"/namespaces/finance" + meshPath, scoped, 403},
		{meshPath, nobody, 403},
		{"/namespaces/shop,finance" + meshPath, nobody, 403},
		{meshPath, expired, 401},
		{meshPath, foreign, 401},
		{meshPath, forgedReader, 401},
		{meshPath, garbage, 401},
		{meshPath, jwtGarbage, 401},
		{meshPath, atLimit, 401},
		{meshPath, tooLong, 401},
	}
	for _, m := range meshes {
		if r := send(t, fn.URL, get(m.path, m.token)); r.status != m.status {
			t.Errorf("GET %s: status %d, want %d: %s", m.path, r.status, m.status, quote(r.body))
		}
	}
	// The same tokens in every other place a request can carry them.
	for _, tok := range []string{reader, garbage} {
		for _, r := range []request{
			{method: http.MethodGet, target: meshPath + "?access_token=" + tok},
			{method: http.MethodGet, target: meshPath, header: [][2]string{{"Proxy-Authorization", "Bearer " + tok}}},
			{method: http.MethodGet, target: meshPath, header: [][2]string{{"Authorization", "Bearer " + tok}, {"Authorization", "Bearer " + tok}}},
			{method: http.MethodGet, target: meshPath, header: [][2]string{{"Authorization", "bearer " + tok}}},
			{method: http.MethodGet, target: meshPath, header: [][2]string{{"Authorization", tok}}},
			{method: http.MethodGet, target: meshPath, header: [][2]string{{"Authorization", "Bearer " + tok + "\t\"é%00"}}},
			{method: http.MethodPost, target: meshPath, header: [][2]string{{"Authorization", "Bearer " + tok}}},
			{method: http.MethodGet, target: "/nowhere", header: [][2]string{{"Authorization", "Bearer " + tok}}},
			binaryEvent([]byte(`{}`), [2]string{"Authorization", "Bearer " + tok}),
		} {
			send(t, fn.URL, r)
		}
	}
	// Concurrent identical requests share one build.
	concurrently(t, 8, func() error {
		r, err := httpGet(fn.URL+meshPath, reader)
		if err == nil && r != http.StatusOK {
			err = fmt.Errorf("status %d", r)
		}
		return err
	})
	// Every hostile request, and every token in their Authorization
	// headers.
	for _, c := range hostileCases() {
		if c.pushOff {
			continue
		}
		for _, h := range c.req.header {
			if tok := headerToken(h); h[0] == "Authorization" && len(tok) >= window {
				use(c.name, tok)
			}
		}
		send(t, fn.URL, c.req)
	}

	// Push: the first notification announces the whole mesh; a change and
	// a burst of notifications announce once more.
	for i := range 2 {
		if i == 1 {
			if err := testCluster.Apply(ctx, []byte(leakBroker)); err != nil {
				t.Fatal(err)
			}
		}
		for range 3 {
			if r := send(t, fn.URL, binaryEvent([]byte(`{}`))); r.status != http.StatusAccepted {
				t.Fatalf("notification: status %d: %s", r.status, quote(r.body))
			}
		}
		select {
		case <-sink.arrived:
		case <-time.After(15 * time.Second):
			t.Fatalf("announcement %d did not arrive", i+1)
		}
	}

	logs := fn.Logs.String()
	// The session went through every path that logs.
	for _, msg := range []string{"function started", "push is on", "mesh served", "mesh request refused", "mesh request failed",
		"change notification", "announced mesh change"} {
		if !strings.Contains(logs, `"msg":"`+msg+`"`) {
			t.Errorf("the logs have no %q line: the session missed a path", msg)
		}
	}
	leaks := scanner.scan(logs)
	for _, l := range leaks {
		t.Errorf("a part of %s is in the logs: %.500s", l.token, l.line)
	}
	t.Logf("looked for %d parts of %d tokens in %d bytes, %d lines of logs; %d leaks",
		len(scanner.parts), len(scanner.tokens), len(logs), strings.Count(logs, "\n"), len(leaks))
}

// headerToken returns the token of an Authorization header value: the
// value without its scheme.
func headerToken(h [2]string) string {
	v := strings.TrimSpace(h[1])
	if scheme, rest, ok := strings.Cut(v, " "); ok && strings.EqualFold(scheme, "Bearer") {
		v = strings.TrimSpace(rest)
	}
	return v
}

// leakBroker changes the mesh.
const leakBroker = `
apiVersion: v1
kind: Namespace
metadata:
  name: hostile-leak
---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: leak
  namespace: hostile-leak
`

// mustToken returns a token of ServiceAccount ns/name.
func mustToken(t *testing.T, ns, name string) string {
	t.Helper()
	tok, err := testCluster.Token(context.Background(), ns, name, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// secretToken waits until the controller manager has filled the
// ServiceAccount token Secret ns/name and returns its token.
func secretToken(t *testing.T, admin kubernetes.Interface, ns, name string) string {
	t.Helper()
	var tok string
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		s, err := admin.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		tok = string(s.Data[corev1.ServiceAccountTokenKey])
		return tok != "", nil
	})
	if err != nil {
		t.Fatalf("waiting for the token of Secret %s/%s: %v", ns, name, err)
	}
	return tok
}

// resetState empties push's state ConfigMap, so that no claim of an
// earlier function holds up the announcements.
func resetState(t *testing.T, admin kubernetes.Interface) {
	t.Helper()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "eventmesh-state", Namespace: eventing}}
	if _, err := admin.CoreV1().ConfigMaps(eventing).Update(context.Background(), cm, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("resetting the push state: %v", err)
	}
}

// sink accepts announcements.
type sink struct {
	URL     string
	arrived chan struct{}
}

func startSink(t *testing.T) *sink {
	t.Helper()
	s := &sink{arrived: make(chan struct{}, 100)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := cehttp.NewEventFromHTTPRequest(r); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.arrived <- struct{}{}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// httpGet gets url with a Bearer token and returns the status.
func httpGet(url, tok string) (int, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// concurrently runs f n times at once and fails on its errors.
func concurrently(t *testing.T, n int, f func() error) {
	t.Helper()
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { errs <- f() })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}
