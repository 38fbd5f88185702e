package hostile

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// request is an HTTP/1.1 request written byte for byte, so that it can
// carry what net/http's client refuses to send: control characters,
// repeated headers, unclean paths.
type request struct {
	method string
	target string      // the request target, sent as is
	header [][2]string // in order; repeats allowed
	body   []byte
	// chunked sends the body in chunks of 32 KiB, without a
	// Content-Length.
	chunked bool
}

// response is an answer read off the wire.
type response struct {
	status int
	header http.Header
	body   []byte
}

// send writes r to the server at base ("http://host:port") on a new
// connection and reads the answer. The body is written while the answer
// is read, as a server may answer before it has read all of it.
func send(t *testing.T, base string, r request) *response {
	t.Helper()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), 5*time.Second)
	if err != nil {
		t.Fatalf("dialing %s: %v", base, err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Minute))

	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: function\r\nConnection: close\r\n", r.method, r.target)
	for _, h := range r.header {
		fmt.Fprintf(&b, "%s: %s\r\n", h[0], h[1])
	}
	switch {
	case r.chunked:
		b.WriteString("Transfer-Encoding: chunked\r\n\r\n")
		for rest := r.body; len(rest) > 0; {
			n := min(len(rest), 32<<10)
			fmt.Fprintf(&b, "%x\r\n%s\r\n", n, rest[:n])
			rest = rest[n:]
		}
		b.WriteString("0\r\n\r\n")
	case r.body != nil:
		fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n", len(r.body))
		b.Write(r.body)
	default:
		b.WriteString("\r\n")
	}
	// A write error is expected when the server answers early and closes.
	go func() { _, _ = conn.Write(b.Bytes()) }()

	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%s %.80s: reading the answer: %v", r.method, r.target, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		t.Fatalf("%s %.80s: reading the body: %v", r.method, r.target, err)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: body}
}

// get is a GET of target with an Authorization header of "Bearer tok".
func get(target, tok string) request {
	return request{method: http.MethodGet, target: target, header: [][2]string{{"Authorization", "Bearer " + tok}}}
}

// jsonError returns the message of a JSON error answer, or an error saying
// how the answer is not one: Content-Type application/json, and a body
// that is exactly {"error": "<non-empty message>"}.
func jsonError(r *response) (string, error) {
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		return "", fmt.Errorf("Content-Type %q, want application/json", ct)
	}
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	var e struct {
		Error string `json:"error"`
	}
	if err := dec.Decode(&e); err != nil {
		return "", fmt.Errorf("not a JSON error: %v", err)
	}
	if e.Error == "" || dec.More() {
		return "", fmt.Errorf("want exactly one non-empty error message")
	}
	return e.Error, nil
}

// quote shortens a body for a message.
func quote(b []byte) string {
	const max = 300
	if len(b) > max {
		return strconv.Quote(string(b[:max])) + "..."
	}
	return strconv.Quote(string(b))
}
