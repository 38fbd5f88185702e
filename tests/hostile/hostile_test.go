package hostile

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/knative-eventmesh/function/mesh"
	"github.com/knative-eventmesh/function/tests/functest"
)

const meshPath = "/v1/getEventMesh"

// Sizes around the limits: the function's 16 KiB for a token and 1 MiB
// for a CloudEvent, and net/http's MaxHeaderBytes (1 MiB, which func-go
// sets), of which the server reads up to 4 KiB more before it refuses.
const (
	maxToken       = 16 << 10
	maxEvent       = 1 << 20
	overMaxHeaders = 1<<20 + 64<<10
)

// startFunction starts the function with its own ServiceAccount (rbac/'s
// eventmesh) and env.
func startFunction(t *testing.T, env ...string) *functest.Function {
	t.Helper()
	m := map[string]string{"KUBECONFIG": ownKubeconfig, "LOG_LEVEL": "debug"}
	for i := 0; i+1 < len(env); i += 2 {
		m[env[i]] = env[i+1]
	}
	return functest.Start(t, m)
}

// randomToken returns n random characters of a bearer token's alphabet.
func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}

// garbageJWT looks like a ServiceAccount token: a JWT header, random
// claims and a random signature.
func garbageJWT() string {
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","kid":"` + randomToken(43) + `"}`))
	return header + ".eyJ" + randomToken(400) + "." + randomToken(342)
}

// forged is tok with its signature changed.
func forged(tok string) string {
	i := strings.LastIndex(tok, ".")
	return tok[:i+1] + randomToken(len(tok)-i-1)
}

// An answer of net/http's server itself, or of func-go's ServeMux (a 307
// to the cleaned path): the request never reaches the function, so the
// answer is not the function's JSON.
const (
	byServer = iota + 1
	byMux
)

// hostileCase is a request and the answer it must get.
type hostileCase struct {
	name    string
	pushOff bool // send it to the function without push
	req     request
	status  int
	says    string // part of the JSON error message; for a mux redirect, the Location
	from    int    // 0: the function answers; else byServer or byMux
}

// binaryEvent returns a binary-mode CloudEvent POST with body, of a type
// push takes as a change notification.
func binaryEvent(body []byte, header ...[2]string) request {
	h := [][2]string{{"Ce-Specversion", "1.0"}, {"Ce-Id", "1"}, {"Ce-Source", "/hostile"}, {"Ce-Type", "dev.knative.apiserver.ref.update"}, {"Content-Type", "application/json"}}
	return request{method: http.MethodPost, target: "/", header: append(h, header...), body: body}
}

// chunked returns r with its body sent in chunks.
func chunked(r request) request {
	r.chunked = true
	return r
}

// structuredEvent returns a structured-mode CloudEvent POST of body.
func structuredEvent(body []byte) request {
	return request{method: http.MethodPost, target: "/", header: [][2]string{{"Content-Type", "application/cloudevents+json"}}, body: body}
}

// hostileCases are the cases of TestHostileRequests.
func hostileCases() []hostileCase {
	auth := func(value string) request {
		return request{method: http.MethodGet, target: meshPath, header: [][2]string{{"Authorization", value}}}
	}
	garbage := randomToken(40)
	big := make([]byte, 2<<20)
	overEvent := []byte(`{"specversion":"1.0","id":"1","source":"/hostile","type":"dev.knative.sources.ping","data":"` + strings.Repeat("x", maxEvent) + `"}`)
	namespaces := func(n int) string {
		nss := make([]string, n)
		for i := range nss {
			nss[i] = fmt.Sprintf("ns-%d", i)
		}
		return "/namespaces/" + strings.Join(nss, ",") + meshPath
	}

	cases := []hostileCase{
		// The Authorization header.
		{name: "token over 16 KiB", req: get(meshPath, randomToken(maxToken+1)), status: 401, says: "too long"},
		{name: "token of exactly 16 KiB", req: get(meshPath, randomToken(maxToken)), status: 401, says: "rejected the token"},
		{name: "control character in token", req: auth("Bearer " + garbage + "\x01x"), status: 400, from: byServer},
		{name: "NUL in token", req: auth("Bearer " + garbage + "\x00x"), status: 400, from: byServer},
		{name: "bare CR in token", req: auth("Bearer " + garbage + "\rx"), status: 400, from: byServer},
		{name: "DEL in token", req: auth("Bearer " + garbage + "\x7fx"), status: 400, from: byServer},
		{name: "tab in token", req: auth("Bearer " + garbage + "\tx"), status: 401, says: "malformed"},
		{name: "space in token", req: auth("Bearer " + garbage + " x"), status: 401, says: "malformed"},
		{name: "unicode in token", req: auth("Bearer " + garbage + "é€😀"), status: 401, says: "malformed"},
		{name: "Latin-1 byte in token", req: auth("Bearer " + garbage + "\xe9"), status: 401, says: "malformed"},
		{name: "quoted token", req: auth(`Bearer "` + garbage + `"`), status: 401, says: "malformed"},
		{name: "percent-encoded NUL in token", req: auth("Bearer " + garbage + "%00"), status: 401, says: "malformed"},
		{name: "padding inside token", req: auth("Bearer " + garbage + "=x"), status: 401, says: "malformed"},
		{name: "two Authorization headers", req: request{method: http.MethodGet, target: meshPath,
			header: [][2]string{{"Authorization", "Bearer " + readerToken}, {"Authorization", "Bearer " + readerToken}}}, status: 401, says: "several"},
		{name: "no Authorization header", req: request{method: http.MethodGet, target: meshPath}, status: 401, says: "Authorization: Bearer <token>"},
		{name: "empty Authorization header", req: auth(""), status: 401, says: "Authorization: Bearer <token>"},
		{name: "Bearer without a token", req: auth("Bearer"), status: 401, says: "Authorization: Bearer <token>"},
		{name: "Bearer and spaces", req: auth("Bearer      "), status: 401, says: "Authorization: Bearer <token>"},
		{name: "Basic credentials", req: auth("Basic ZXZlbnRtZXNoOnNlY3JldA=="), status: 401, says: "Bearer <token>"},
		{name: "lower-case bearer, reader token", req: auth("bearer " + readerToken), status: 200},
		{name: "lower-case bearer, garbage token", req: auth("bearer " + garbage), status: 401, says: "rejected the token"},
		{name: "bare reader token", req: auth(readerToken), status: 200},
		{name: "bare garbage token", req: auth(garbage), status: 401, says: "rejected the token"},
		{name: "JWT-looking garbage", req: get(meshPath, garbageJWT()), status: 401, says: "rejected the token"},
		{name: "reader token with a forged signature", req: get(meshPath, forged(readerToken)), status: 401, says: "rejected the token"},
		{name: "expired token", req: get(meshPath, expiredToken), status: 401, says: "rejected the token"},
		{name: "expired token's control: same claims, exp ahead", req: get(meshPath, freshToken), status: 200},
		{name: "token of another cluster", req: get(meshPath, foreignToken), status: 401, says: "rejected the token"},
		{name: "token in the query only", req: request{method: http.MethodGet, target: meshPath + "?access_token=" + readerToken}, status: 401, says: "no token"},
		{name: "token in Proxy-Authorization only", req: request{method: http.MethodGet, target: meshPath,
			header: [][2]string{{"Proxy-Authorization", "Bearer " + readerToken}}}, status: 401, says: "no token"},
		{name: "lower-case header name", req: request{method: http.MethodGet, target: meshPath,
			header: [][2]string{{"authorization", "Bearer " + readerToken}}}, status: 200},

		// Headers over net/http's MaxHeaderBytes.
		{name: "Authorization over MaxHeaderBytes", req: get(meshPath, randomToken(overMaxHeaders)), status: 431, from: byServer},
		{name: "other header over MaxHeaderBytes", req: request{method: http.MethodGet, target: meshPath,
			header: [][2]string{{"Authorization", "Bearer " + readerToken}, {"X-Padding", randomToken(overMaxHeaders)}}}, status: 431, from: byServer},
		{name: "many headers over MaxHeaderBytes", req: request{method: http.MethodGet, target: meshPath,
			header: manyHeaders(overMaxHeaders)}, status: 431, from: byServer},
		{name: "path over MaxHeaderBytes", req: get(meshPath+"?q="+randomToken(overMaxHeaders), readerToken), status: 431, from: byServer},

		// Bodies.
		{name: "GET mesh with a 2 MiB body", req: request{method: http.MethodGet, target: meshPath,
			header: [][2]string{{"Authorization", "Bearer " + readerToken}}, body: big}, status: 200},
		{name: "GET mesh with a 2 MiB body, garbage token", req: request{method: http.MethodGet, target: meshPath,
			header: [][2]string{{"Authorization", "Bearer " + garbage}}, body: big}, status: 401, says: "rejected the token"},
		{name: "binary CloudEvent over 1 MiB", req: binaryEvent(big), status: 413, says: "too large"},
		{name: "binary CloudEvent of exactly 1 MiB", req: binaryEvent(big[:maxEvent]), status: 202},
		{name: "chunked CloudEvent over 1 MiB", req: chunked(binaryEvent(big)), status: 413, says: "too large"},
		{name: "chunked CloudEvent of exactly 1 MiB", req: chunked(binaryEvent(big[:maxEvent])), status: 202},
		{name: "structured CloudEvent over 1 MiB", req: structuredEvent(overEvent), status: 413, says: "too large"},
		{name: "CloudEvent over 1 MiB, push off", pushOff: true, req: binaryEvent(big), status: 409, says: "push is off"},

		// CloudEvents that are not.
		{name: "a CloudEvent", req: binaryEvent([]byte(`{}`)), status: 202},
		{name: "a CloudEvent of another type", req: request{method: http.MethodPost, target: "/",
			header: [][2]string{{"Ce-Specversion", "1.0"}, {"Ce-Id", "1"}, {"Ce-Source", "/hostile"}, {"Ce-Type", "com.example.order.created"}}, body: []byte{}},
			status: 400, says: "type not taken"},
		{name: "an announcement sent back", req: structuredEvent([]byte(`{"specversion":"1.0","id":"1","source":"/s","type":"dev.knative.eventmesh.changed"}`)),
			status: 400, says: "type not taken"},
		{name: "plain JSON", req: request{method: http.MethodPost, target: "/", header: [][2]string{{"Content-Type", "application/json"}},
			body: []byte(`{"kind":"Broker"}`)}, status: 400, says: "not a CloudEvent"},
		{name: "no body, no headers", req: request{method: http.MethodPost, target: "/", body: []byte{}}, status: 400, says: "not a CloudEvent"},
		{name: "broken structured JSON", req: structuredEvent([]byte(`{"specversion":"1.0","id":`)), status: 400, says: "not a CloudEvent"},
		{name: "structured, not an object", req: structuredEvent([]byte(`[1,2,3]`)), status: 400, says: "not a CloudEvent"},
		{name: "structured without type", req: structuredEvent([]byte(`{"specversion":"1.0","id":"1","source":"/s"}`)), status: 400, says: "type"},
		{name: "structured, unknown specversion", req: structuredEvent([]byte(`{"specversion":"9.9","id":"1","source":"/s","type":"t"}`)), status: 400, says: "CloudEvent"},
		{name: "binary without id", req: request{method: http.MethodPost, target: "/",
			header: [][2]string{{"Ce-Specversion", "1.0"}, {"Ce-Source", "/s"}, {"Ce-Type", "t"}}, body: []byte{}}, status: 400, says: "id"},
		{name: "batch", req: request{method: http.MethodPost, target: "/", header: [][2]string{{"Content-Type", "application/cloudevents-batch+json"}},
			body: []byte(`[{"specversion":"1.0","id":"1","source":"/s","type":"t"}]`)}, status: 400, says: "not a CloudEvent"},
		{name: "a CloudEvent, push off", pushOff: true, req: binaryEvent([]byte(`{}`)), status: 409, says: "push is off"},
		{name: "junk, push off", pushOff: true, req: structuredEvent([]byte(`{"specversion":`)), status: 409, says: "push is off"},

		// Paths.
		{name: "unknown path", req: get("/v2/getEventMesh", readerToken), status: 404, says: meshPath},
		{name: "trailing slash", req: get(meshPath+"/", readerToken), status: 404, says: meshPath},
		{name: "upper case", req: get("/V1/GETEVENTMESH", readerToken), status: 404, says: meshPath},
		{name: "GET /", req: get("/", readerToken), status: 405, says: meshPath},
		{name: "PUT /", req: request{method: http.MethodPut, target: "/", body: []byte(`{}`)}, status: 405, says: meshPath},
		{name: "NUL in path", req: get(meshPath+"%00", readerToken), status: 404, says: meshPath},
		{name: "path of 100 KiB", req: get("/"+strings.Repeat("a", 100<<10), readerToken), status: 404, says: meshPath},
		{name: "query string on /", req: get("/?path="+meshPath, readerToken), status: 405, says: meshPath},
		{name: "query strings on the mesh", req: get(meshPath+"?namespace=finance&x=%00&x=%zz", readerToken), status: 200},
		{name: "query of 512 KiB on the mesh", req: get(meshPath+"?q="+randomToken(512<<10), readerToken), status: 200},
		{name: "bad escape in path", req: get("/v1/%zz", readerToken), status: 400, from: byServer},
		{name: "dot-dot", req: get("/v1/../v1/getEventMesh", readerToken), status: 307, says: meshPath, from: byMux},
		{name: "dot-dot above the root", req: get("/../../etc/passwd", readerToken), status: 307, says: "/etc/passwd", from: byMux},
		{name: "double slash", req: get("/"+meshPath, readerToken), status: 307, says: meshPath, from: byMux},
		{name: "encoded slash", req: get("/v1%2FgetEventMesh", readerToken), status: 404, says: meshPath},
		{name: "encoded slashes, scoped", req: get("/namespaces%2Fshop%2Fv1%2FgetEventMesh", readerToken), status: 404, says: meshPath},
		{name: "encoded slash in a namespace", req: get("/namespaces/shop%2Ffinance"+meshPath, readerToken), status: 400, says: "bad namespace"},
		{name: "encoded dot-dot", req: get("/namespaces/shop/..%2F..%2F"+meshPath, readerToken), status: 400, says: "bad namespace"},

		// Namespaces.
		{name: "empty namespace", req: get("/namespaces//v1/getEventMesh", readerToken), status: 307, says: "/namespaces/v1/getEventMesh", from: byMux},
		{name: "empty namespace, after the redirect", req: get("/namespaces/v1/getEventMesh", readerToken), status: 400, says: "bad namespace"},
		{name: "empty namespace in a list", req: get("/namespaces/shop,"+meshPath, readerToken), status: 400, says: "bad namespace"},
		{name: "only a comma", req: get("/namespaces/,"+meshPath, readerToken), status: 400, says: "bad namespace"},
		{name: "upper-case namespace", req: get("/namespaces/Shop"+meshPath, readerToken), status: 400, says: "Shop"},
		{name: "namespace of 64 characters", req: get("/namespaces/"+strings.Repeat("a", 64)+meshPath, readerToken), status: 400, says: "bad namespace"},
		{name: "namespace of 63 characters", req: get("/namespaces/"+strings.Repeat("a", 63)+meshPath, readerToken), status: 200},
		{name: "dotted namespace", req: get("/namespaces/shop.finance"+meshPath, readerToken), status: 400, says: "bad namespace"},
		{name: "namespace with a leading dash", req: get("/namespaces/-shop"+meshPath, readerToken), status: 400, says: "bad namespace"},
		{name: "non-ASCII namespace", req: get("/namespaces/%C3%A9"+meshPath, readerToken), status: 400, says: "bad namespace"},
		{name: "101 namespaces", req: get(namespaces(101), readerToken), status: 400, says: "too many namespaces"},
		{name: "100 namespaces", req: get(namespaces(100), readerToken), status: 200},
		{name: "20000 namespaces", req: get(namespaces(20000), readerToken), status: 400, says: "too many namespaces"},
		{name: "101 namespaces, 100 distinct", req: get("/namespaces/ns-0,"+strings.TrimPrefix(namespaces(100), "/namespaces/"), readerToken), status: 200},
	}

	// Other methods on the mesh paths.
	for _, path := range []string{meshPath, "/namespaces/shop" + meshPath} {
		for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions, http.MethodTrace, "PROPFIND"} {
			r := get(path, readerToken)
			r.method = m
			cases = append(cases, hostileCase{name: m + " " + path, req: r, status: 405, says: "GET"})
		}
	}
	return cases
}

// manyHeaders returns headers of 1 KiB each, size bytes in all.
func manyHeaders(size int) [][2]string {
	var h [][2]string
	for i := 0; i*1024 < size; i++ {
		h = append(h, [2]string{fmt.Sprintf("X-Padding-%d", i), randomToken(1000)})
	}
	return h
}

// TestHostileRequests sends each hostile request to the function and checks
// its answer: the documented status with a JSON error from the function,
// or, for what net/http or func-go's ServeMux answer before the function
// sees the request, exactly their status. After each, the function must
// still serve the mesh.
func TestHostileRequests(t *testing.T) {
	// Push on, with a sink nobody listens at: the notifications queue up
	// and their announcements fail, which does not concern the requests.
	on := startFunction(t, "K_SINK", "http://127.0.0.1:1")
	off := startFunction(t)
	for _, tt := range hostileCases() {
		t.Run(tt.name, func(t *testing.T) {
			fn := on
			if tt.pushOff {
				fn = off
			}
			before := strings.Count(fn.Logs.String(), `"msg":"mesh `)
			r := send(t, fn.URL, tt.req)
			after := strings.Count(fn.Logs.String(), `"msg":"mesh `)
			good := send(t, fn.URL, get(meshPath, readerToken))
			if good.status != http.StatusOK {
				t.Errorf("after it, a good request gets %d: %s", good.status, quote(good.body))
			}
			if tt.from != 0 && after != before {
				t.Errorf("the function logged a mesh request for a request it should never have seen")
			}
			checkAnswer(t, tt, r)
		})
	}
}

// checkAnswer checks the answer r to a hostile case.
func checkAnswer(t *testing.T, tt hostileCase, r *response) {
	t.Helper()
	t.Logf("%d %s", r.status, quote(r.body))
	if r.status != tt.status {
		t.Fatalf("status %d, want %d: %s", r.status, tt.status, quote(r.body))
	}
	switch {
	case tt.from == byMux:
		if loc := r.header.Get("Location"); loc != tt.says {
			t.Errorf("redirect to %q, want %q", loc, tt.says)
		}
	case tt.from == byServer:
		if _, err := jsonError(r); err == nil {
			t.Errorf("a JSON error from a request the function should never have seen: %s", quote(r.body))
		}
	case r.status == http.StatusOK:
		var m mesh.Mesh
		if err := json.Unmarshal(r.body, &m); err != nil || m.EventTypes == nil || m.EventPolicies == nil || m.DefaultAuthorizationMode == "" ||
			r.header.Get("Content-Type") != "application/json" {
			t.Errorf("not a mesh (%v): %s", err, quote(r.body))
		}
	case r.status == http.StatusAccepted:
		if len(r.body) != 0 {
			t.Errorf("202 with a body: %s", quote(r.body))
		}
	default:
		msg, err := jsonError(r)
		if err != nil {
			t.Fatalf("%v: %s", err, quote(r.body))
		}
		if !strings.Contains(msg, tt.says) {
			t.Errorf("error %q does not say %q", msg, tt.says)
		}
		want := "GET, HEAD"
		if tt.req.target == "/" || strings.HasPrefix(tt.req.target, "/?") {
			want = "POST" // / takes CloudEvents
		}
		if r.status == http.StatusMethodNotAllowed && r.header.Get("Allow") != want {
			t.Errorf("Allow %q, want %s", r.header.Get("Allow"), want)
		}
	}
}
