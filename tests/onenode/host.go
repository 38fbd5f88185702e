package onenode

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// HostState is what a cluster could change on the host, as it was: the
// writable sysctls, the nftables ruleset, the mount points, the network
// links and the named network namespaces. make knative's cluster runs in
// namespaces of its own and changes none of them; a HostState taken
// before is compared with the host after, to report what else changed.
// Nothing reverts the host to a HostState: what changed meanwhile may be
// someone else's.
type HostState struct {
	Sysctls      map[string]string `json:"sysctls"`
	Ruleset      string            `json:"ruleset"`
	Mounts       []string          `json:"mounts"`
	Links        []string          `json:"links"`
	NetNS        []string          `json:"netns"`
	NetNSDir     bool              `json:"netnsDir"` // whether /run/netns existed
	NftAvailable bool              `json:"nftAvailable"`
}

// sysctlRoot is where the kernel's sysctls are.
const sysctlRoot = "/proc/sys"

// volatileSysctls change on their own; they are neither saved nor restored.
var volatileSysctls = []string{"kernel/ns_last_pid", "kernel/random/", "fs/", "net/netfilter/nf_conntrack_count"}

// SnapshotHost reads the host's state.
func SnapshotHost() (*HostState, error) {
	s := &HostState{}
	var err error
	if s.Sysctls, err = readSysctls(); err != nil {
		return nil, err
	}
	if _, err := exec.LookPath("nft"); err == nil {
		s.NftAvailable = true
		if s.Ruleset, err = run("nft", "list", "ruleset"); err != nil {
			return nil, err
		}
	}
	if s.Mounts, err = MountPoints(); err != nil {
		return nil, err
	}
	if s.Links, err = linkNames(); err != nil {
		return nil, err
	}
	s.NetNS = netnsNames()
	s.NetNSDir = exists(netnsDir)
	return s, nil
}

// readSysctls reads every writable sysctl but the volatile ones.
func readSysctls() (map[string]string, error) {
	values := map[string]string{}
	err := filepath.WalkDir(sysctlRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // a vanished or unreadable entry: skip it
		}
		key := strings.TrimPrefix(path, sysctlRoot+"/")
		if d.IsDir() || volatile(key) {
			return nil
		}
		info, err := d.Info()
		if err != nil || info.Mode().Perm()&0o200 == 0 || info.Mode().Perm()&0o400 == 0 {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		values[key] = string(data)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading sysctls: %w", err)
	}
	return values, nil
}

func volatile(key string) bool {
	for _, v := range volatileSysctls {
		if key == v || (strings.HasSuffix(v, "/") && strings.HasPrefix(key, v)) {
			return true
		}
	}
	return false
}

// MountPoints lists the mount points, in mount order.
func MountPoints() ([]string, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("reading mounts: %w", err)
	}
	var points []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) > 4 {
			points = append(points, unescapeMount(f[4]))
		}
	}
	return points, nil
}

// unescapeMount undoes mountinfo's octal escapes of spaces and tabs.
func unescapeMount(s string) string {
	return strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`).Replace(s)
}

// linkNames lists the network links.
func linkNames() ([]string, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("listing network links: %w", err)
	}
	var names []string
	for _, i := range ifaces {
		names = append(names, i.Name)
	}
	sort.Strings(names)
	return names, nil
}

// netnsDir holds the named network namespaces.
const netnsDir = "/run/netns"

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// netnsNames lists the named network namespaces of /run/netns.
func netnsNames() []string {
	entries, _ := os.ReadDir(netnsDir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// Diff describes how the host now differs from s: one line a difference.
func (s *HostState) Diff() ([]string, error) {
	now, err := SnapshotHost()
	if err != nil {
		return nil, err
	}
	var diffs []string
	for _, key := range sortedKeys(s.Sysctls) {
		if v, ok := now.Sysctls[key]; ok && v != s.Sysctls[key] {
			diffs = append(diffs, fmt.Sprintf("sysctl %s: %q, was %q", key, strings.TrimSpace(v), strings.TrimSpace(s.Sysctls[key])))
		}
	}
	if now.Ruleset != s.Ruleset {
		diffs = append(diffs, "the nftables ruleset differs")
	}
	diffs = append(diffs, listDiff("mount", s.Mounts, now.Mounts)...)
	diffs = append(diffs, listDiff("network link", s.Links, now.Links)...)
	diffs = append(diffs, listDiff("network namespace", s.NetNS, now.NetNS)...)
	if now.NetNSDir && !s.NetNSDir {
		diffs = append(diffs, "new folder "+netnsDir)
	}
	return diffs, nil
}

// listDiff describes the items of now that before lacks, and the reverse.
func listDiff(kind string, before, now []string) []string {
	var diffs []string
	for _, x := range now {
		if !slices.Contains(before, x) {
			diffs = append(diffs, fmt.Sprintf("new %s %s", kind, x))
		}
	}
	for _, x := range before {
		if !slices.Contains(now, x) {
			diffs = append(diffs, fmt.Sprintf("%s %s is gone", kind, x))
		}
	}
	return diffs
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Save writes s to path as JSON.
func (s *HostState) Save(path string) error {
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("saving the host's state: %w", err)
	}
	return nil
}

// LoadHostState reads a HostState that Save wrote.
func LoadHostState(path string) (*HostState, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the host's saved state: %w", err)
	}
	s := &HostState{}
	if err := json.Unmarshal(data, s); err != nil {
		return nil, fmt.Errorf("reading the host's saved state %s: %w", path, err)
	}
	return s, nil
}

// run runs a command and returns its standard output; its error includes
// what it wrote to standard error.
func run(name string, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}
