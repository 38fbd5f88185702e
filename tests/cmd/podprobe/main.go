// Command podprobe runs inside make knative's pods, as a static binary in
// an image of its own:
//
//	podprobe pause       sleep until SIGTERM (the pods' sandbox image)
//	podprobe get URL     GET URL, with the bearer token in $TOKEN if set,
//	                     and print one JSON line: status, elapsed time, body
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: podprobe pause | podprobe get URL")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "pause":
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
		defer stop()
		<-ctx.Done()
	case "get":
		if len(os.Args) != 3 {
			fmt.Fprintln(os.Stderr, "usage: podprobe get URL")
			os.Exit(2)
		}
		if err := get(os.Args[2], os.Getenv("TOKEN")); err != nil {
			fmt.Fprintln(os.Stderr, "podprobe:", err)
			os.Exit(1)
		}
	default:
		fmt.Fprintf(os.Stderr, "podprobe: unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
}

// result is what get prints.
type result struct {
	Status  int     `json:"status"`
	Seconds float64 `json:"seconds"`
	Body    string  `json:"body"`
}

// get makes one request, which may wait for a cold start: up to a minute.
func get(url, token string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
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
