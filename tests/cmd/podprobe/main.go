// Command podprobe runs inside make knative's pods, as a static binary in
// an image of its own:
//
//	podprobe pause       sleep until SIGTERM (the pods' sandbox image)
//	podprobe get URL     GET URL, with the bearer token in $TOKEN if set,
//	                     and print one JSON line: status, elapsed time, body
//	podprobe post URL    POST a CloudEvent of type $CE_TYPE to URL, with
//	                     the bearer token in $TOKEN or the file $TOKEN_FILE
//	                     if set, and print the same line
//	                     With INSECURE_SKIP_TLS_VERIFY=true, get and post
//	                     take any server certificate: for the kubelet's
//	                     self-signed one, where the test is who may call
//	podprobe serve       answer every request with 200 "ok" on port $PORT
//	                     (8080 by default), as a Knative Service, until
//	                     SIGTERM
package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: podprobe pause | podprobe get URL | podprobe post URL | podprobe serve")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "pause":
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
		defer stop()
		<-ctx.Done()
	case "get", "post":
		if len(os.Args) != 3 {
			fmt.Fprintf(os.Stderr, "usage: podprobe %s URL\n", os.Args[1])
			os.Exit(2)
		}
		if err := call(os.Args[1], os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, "podprobe:", err)
			os.Exit(1)
		}
	case "serve":
		if err := serve(); err != nil {
			fmt.Fprintln(os.Stderr, "podprobe:", err)
			os.Exit(1)
		}
	default:
		fmt.Fprintf(os.Stderr, "podprobe: unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
}

// serve answers every request with 200 "ok" on $PORT until SIGTERM.
func serve() error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	srv := &http.Server{
		Addr: ":" + cmp.Or(os.Getenv("PORT"), "8080"),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, "ok")
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		return err
	}
	return nil
}

// result is what get prints.
type result struct {
	Status  int     `json:"status"`
	Seconds float64 `json:"seconds"`
	Body    string  `json:"body"`
}

// call makes one request, which may wait for a cold start: up to a
// minute.
func call(method, url string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	token, err := bearer()
	if err != nil {
		return err
	}
	req, err := request(ctx, method, url)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	client := http.DefaultClient
	if os.Getenv("INSECURE_SKIP_TLS_VERIFY") == "true" {
		transport := http.DefaultTransport.(*http.Transport).Clone()
		transport.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
		client = &http.Client{Transport: transport}
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("reading the answer: %w", err)
	}
	return json.NewEncoder(os.Stdout).Encode(result{Status: resp.StatusCode, Seconds: time.Since(start).Seconds(), Body: string(body)})
}

// bearer returns the token of $TOKEN, else of the file $TOKEN_FILE, else "".
func bearer() (string, error) {
	if t := os.Getenv("TOKEN"); t != "" {
		return t, nil
	}
	file := os.Getenv("TOKEN_FILE")
	if file == "" {
		return "", nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("reading the token: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// request returns a GET, or a POST of a CloudEvent in binary mode.
func request(ctx context.Context, method, url string) (*http.Request, error) {
	if method == "get" {
		return http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	if err != nil {
		return nil, err
	}
	ev := cloudevents.NewEvent()
	ev.SetID(fmt.Sprintf("podprobe-%d", time.Now().UnixNano()))
	ev.SetSource("/podprobe")
	ev.SetType(cmp.Or(os.Getenv("CE_TYPE"), "dev.knative.eventmesh.probe"))
	if err := ev.SetData(cloudevents.ApplicationJSON, map[string]string{"probe": "podprobe"}); err != nil {
		return nil, err
	}
	if err := cehttp.WriteRequest(ctx, binding.ToMessage(&ev), req); err != nil {
		return nil, fmt.Errorf("writing the CloudEvent: %w", err)
	}
	return req, nil
}
