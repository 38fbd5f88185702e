package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/knative-eventmesh/function/tests/catalog"
)

// startBackstage installs (once) and starts the Backstage backend of
// backstage/ on port, with one Knative Event Mesh provider, "local",
// reading the function at functionURL with the reader's token, and
// refreshed by the function's announcements. Its logs go to
// dir/backstage.log; the provider's lines are printed as [backstage] lines.
func startBackstage(ctx context.Context, port int, functionURL, token, secret, dir string) (*catalog.Backend, string, error) {
	fmt.Println("Installing the Backstage backend of backstage/ (npm ci; the first time takes a few minutes)...")
	took, err := catalog.Install(ctx)
	if err != nil {
		return nil, "", err
	}
	if took > 0 {
		fmt.Printf("Installed in %s.\n", took.Round(time.Second))
	}
	logPath := filepath.Join(dir, "backstage.log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, "", err
	}
	fmt.Println("Starting the Backstage backend...")
	b, err := catalog.Start(ctx, catalog.Options{
		Providers: map[string]catalog.Provider{"local": {BaseURL: functionURL, Token: token}},
		Port:      port,
		Secret:    secret,
		Logs:      &moduleLines{file: f},
		// Lets Ctrl-C stop the backend within seconds (see backstage/README.md).
		NotifyTimeout: 2 * time.Second,
		LocalEvents:   true,
	})
	if err != nil {
		return nil, "", fmt.Errorf("%w (its log: %s)", err, logPath)
	}
	return b, logPath, nil
}

// moduleLines writes the backend's JSON log lines to file, and prints the
// Knative Event Mesh provider's messages about announcements and reads.
type moduleLines struct {
	file    *os.File
	mu      sync.Mutex
	partial []byte
}

func (m *moduleLines) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.file.Write(p); err != nil {
		return 0, err
	}
	m.partial = append(m.partial, p...)
	for {
		i := bytes.IndexByte(m.partial, '\n')
		if i < 0 {
			break
		}
		var line struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(m.partial[:i], &line) == nil && isModuleMessage(line.Message) {
			fmt.Printf("[backstage] %s\n", line.Message)
		}
		m.partial = m.partial[i+1:]
	}
	return len(p), nil
}

func isModuleMessage(msg string) bool {
	for _, prefix := range []string{"Mesh change announced", "Read ", "Ignored", "Knative Event Mesh provider"} {
		if len(msg) >= len(prefix) && msg[:len(prefix)] == prefix {
			return true
		}
	}
	return false
}

// backstageHelp says how to list the catalog, and what to watch.
func backstageHelp(b *catalog.Backend, port int, logPath string) string {
	return fmt.Sprintf(`  A Backstage backend (catalog, events plugin, and backstage/'s Knative
  Event Mesh provider, polling every 60 minutes and reading again on each
  announcement) serves at %[1]s; push announces to %[2]s.
  Its log: %[3]s

  List the catalog's entities:
    curl -s -H "Authorization: Bearer %[4]s" '%[1]s/api/catalog/entities?fields=kind,metadata.namespace,metadata.name'

  Change the mesh with kubectl, watch the announcement refresh the catalog
  below ([backstage]), and list the entities again:`, b.URL, catalog.IngressURL(port), logPath, b.Token)
}

// pushSecret returns a random shared secret for the function's
// announcements to the Backstage backend.
func pushSecret() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("making the push secret: %w", err)
	}
	return hex.EncodeToString(b), nil
}
