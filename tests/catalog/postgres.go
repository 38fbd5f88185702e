package catalog

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/knative-eventmesh/function/tests/child"
)

// Postgres is a PostgreSQL server of the tests' own, in a temporary
// folder, listening on a loopback port, its superuser trusted without a
// password.
type Postgres struct {
	Port int
	User string

	dir  string
	proc *child.Process
}

// postgresBinaries finds initdb and postgres: on PATH (/usr/local/bin),
// else in Debian's postgresql package (/usr/lib/postgresql/<version>/bin).
func postgresBinaries() (initdb, postgres string, err error) {
	if i, err := exec.LookPath("initdb"); err == nil {
		if p, err := exec.LookPath("postgres"); err == nil {
			return i, p, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	for i := len(dirs) - 1; i >= 0; i-- {
		initdb, postgres = filepath.Join(dirs[i], "initdb"), filepath.Join(dirs[i], "postgres")
		if _, err := os.Stat(initdb); err == nil {
			if _, err := os.Stat(postgres); err == nil {
				return initdb, postgres, nil
			}
		}
	}
	return "", "", errors.New("no PostgreSQL found (initdb and postgres on PATH or in /usr/lib/postgresql/*/bin): install Debian's postgresql package")
}

// StartPostgres initialises a database cluster in a temporary folder and
// starts PostgreSQL on a free loopback port. PostgreSQL refuses to run as
// root: as root, it runs as the user postgres (or nobody).
func StartPostgres(ctx context.Context) (*Postgres, error) {
	initdb, postgres, err := postgresBinaries()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "eventmesh-postgres-")
	if err != nil {
		return nil, err
	}
	cred, err := unprivileged(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	data := filepath.Join(dir, "data")
	cmd := exec.CommandContext(ctx, initdb, "-D", data, "-U", "backstage", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	port, err := FreePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	p := &Postgres{Port: port, User: "backstage", dir: dir}
	log, err := os.Create(filepath.Join(dir, "postgres.log"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	defer log.Close()
	// fsync off and a socket folder of its own: a throwaway server.
	cmd = exec.Command(postgres, "-D", data, "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-k", dir,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=200")
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if p.proc, err = child.Start(cmd); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			return p, nil
		}
		select {
		case <-p.proc.Done():
			b, _ := os.ReadFile(filepath.Join(dir, "postgres.log"))
			os.RemoveAll(dir)
			return nil, fmt.Errorf("PostgreSQL exited at start:\n%s", b)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.Stop()
			return nil, fmt.Errorf("PostgreSQL did not listen on port %d within 30 s", port)
		}
	}
}

// unprivileged returns the credential PostgreSQL runs with: none (this
// user) unless this user is root; then postgres's or nobody's, given the
// folder.
func unprivileged(dir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, errors.New("running as root, and there is no user postgres nor nobody to run PostgreSQL as")
}

// Stop stops PostgreSQL (a fast shutdown, then a kill after 10 s) and
// removes its folder.
func (p *Postgres) Stop() {
	defer os.RemoveAll(p.dir)
	_, _ = p.proc.StopWith(syscall.SIGINT, 10*time.Second)
}
