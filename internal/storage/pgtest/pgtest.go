// Package pgtest gives tests a real PostgreSQL: a throwaway cluster started
// from the server binaries under /usr/lib/postgresql/*/bin (as the postgres
// user when the tests run as root, since initdb refuses root), or the server
// named by POSTVAKT_TEST_PG_URL. Each test gets a fresh database.
//
// Without PostgreSQL the tests that ask for it skip with a clear message;
// with POSTVAKT_REQUIRE_PG=1 (set by .ci/run) such a skip is a failure.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL names a PostgreSQL server to use instead of a throwaway cluster:
// postgres://user:pass@host:port/db with the right to create databases.
const EnvURL = "POSTVAKT_TEST_PG_URL"

// EnvRequire makes a missing PostgreSQL a test failure rather than a skip.
const EnvRequire = "POSTVAKT_REQUIRE_PG"

type cluster struct {
	baseURL string // superuser URL to the "postgres" database
	dir     string
	bin     string
	cred    *syscall.Credential // the postgres user when the tests run as root
	port    int
	cmd     *exec.Cmd
	err     error
}

var (
	once    sync.Once
	shared  *cluster
	counter atomic.Int64
)

// Main runs the package's tests and then stops the throwaway cluster, if one
// was started. Call it from TestMain: func TestMain(m *testing.M) { pgtest.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	Stop()
	os.Exit(code)
}

// Stop stops the throwaway cluster and removes its files.
func Stop() {
	if shared == nil || shared.cmd == nil || shared.cmd.Process == nil {
		return
	}
	shared.stop() // fast shutdown
	_ = os.RemoveAll(shared.dir)
}

// NewDatabase returns the URL of a fresh, empty database for t, dropped when
// t ends. It skips t (or fails it under POSTVAKT_REQUIRE_PG=1) when no
// PostgreSQL is available.
func NewDatabase(t testing.TB) string {
	t.Helper()
	once.Do(func() { shared = start() })
	if shared.err != nil {
		if os.Getenv(EnvRequire) == "1" {
			t.Fatalf("PostgreSQL required (%s=1) but unavailable: %v", EnvRequire, shared.err)
		}
		t.Skipf("PostgreSQL unavailable, skipping (install postgresql or set %s): %v", EnvURL, shared.err)
	}
	name := fmt.Sprintf("pvtest_%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6, counter.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := adminExec(ctx, shared.baseURL, `CREATE DATABASE `+name); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := adminExec(ctx, shared.baseURL, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			t.Logf("pgtest: drop database %s: %v", name, err)
		}
	})
	u, _ := url.Parse(shared.baseURL)
	u.Path = "/" + name
	return u.String()
}

func adminExec(ctx context.Context, baseURL, sql string) error {
	conn, err := pgx.Connect(ctx, baseURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

func start() *cluster {
	if u := os.Getenv(EnvURL); u != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := adminExec(ctx, u, "SELECT 1"); err != nil {
			return &cluster{err: fmt.Errorf("%s: %w", EnvURL, err)}
		}
		return &cluster{baseURL: u}
	}
	c, err := initCluster()
	if err != nil {
		return &cluster{err: err}
	}
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			return &cluster{err: err}
		}
		if err := c.run(port); err == nil {
			return c
		}
	}
	log, _ := os.ReadFile(filepath.Join(c.dir, "postgres.log"))
	return &cluster{err: fmt.Errorf("postgres did not start: %s", log)}
}

// initCluster makes a fresh data directory with initdb.
func initCluster() (*cluster, error) {
	bin, err := findBin()
	if err != nil {
		return nil, err
	}
	c := &cluster{bin: bin}
	c.dir, err = os.MkdirTemp("", "postvakt-pg-")
	if err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root and no postgres user to run initdb as: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(c.dir, uid, gid); err != nil {
			return nil, err
		}
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", filepath.Join(c.dir, "data"), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync", "--locale=C")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	return c, nil
}

// run starts the server of c on port and waits until it answers.
func (c *cluster) run(port int) error {
	cmd := exec.Command(filepath.Join(c.bin, "postgres"), "-D", filepath.Join(c.dir, "data"), "-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="+c.dir,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=300", "-c", "shared_buffers=64MB")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred, Setpgid: true, Pdeathsig: syscall.SIGKILL}
	logf, _ := os.OpenFile(filepath.Join(c.dir, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if c.cred != nil && logf != nil {
		_ = logf.Chown(int(c.cred.Uid), int(c.cred.Gid))
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	c.cmd, c.port = cmd, port
	c.baseURL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	if err := waitReady(c.baseURL, cmd, 30*time.Second); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		c.cmd = nil
		return err
	}
	return nil
}

// stop stops the server of c (a fast shutdown) and waits for it.
func (c *cluster) stop() {
	if c.cmd == nil || c.cmd.Process == nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGINT)
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
	}
	c.cmd = nil
}

// Cluster is a throwaway PostgreSQL of one test's own, which the test may
// stop and start again on the same port: a database outage as postvakt
// sees one (connections refused, then back).
type Cluster struct {
	c   *cluster
	url string
}

// NewCluster starts a private cluster with one empty database for t,
// removed when t ends. It skips t (or fails it under POSTVAKT_REQUIRE_PG=1)
// without the PostgreSQL server binaries.
func NewCluster(t testing.TB) *Cluster {
	t.Helper()
	c, err := initCluster()
	if err == nil {
		err = errors.New("no free port")
		for attempt := 0; attempt < 5 && err != nil; attempt++ {
			var port int
			if port, err = freePort(); err == nil {
				err = c.run(port)
			}
		}
	}
	if err != nil {
		if c != nil {
			_ = os.RemoveAll(c.dir)
		}
		if os.Getenv(EnvRequire) == "1" {
			t.Fatalf("PostgreSQL required (%s=1) but unavailable: %v", EnvRequire, err)
		}
		t.Skipf("PostgreSQL unavailable, skipping: %v", err)
	}
	t.Cleanup(func() { c.stop(); _ = os.RemoveAll(c.dir) })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := adminExec(ctx, c.baseURL, `CREATE DATABASE postvakt`); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	u, _ := url.Parse(c.baseURL)
	u.Path = "/postvakt"
	return &Cluster{c: c, url: u.String()}
}

// URL is the URL of the cluster's database.
func (c *Cluster) URL() string { return c.url }

// Stop stops the server; connections to it are refused until Start.
func (c *Cluster) Stop() { c.c.stop() }

// Start starts the stopped server again on its port.
func (c *Cluster) Start() error {
	if c.c.cmd != nil {
		return nil
	}
	return c.c.run(c.c.port)
}

func waitReady(u string, cmd *exec.Cmd, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := adminExec(ctx, u, "SELECT 1")
		cancel()
		if err == nil {
			return nil
		}
		if cmd.ProcessState != nil {
			return errors.New("postgres exited")
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.New("timeout waiting for postgres")
}

func findBin() (string, error) {
	if b := os.Getenv("POSTVAKT_PG_BIN"); b != "" {
		return b, nil
	}
	m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(m) == 0 {
		if p, err := exec.LookPath("initdb"); err == nil {
			return filepath.Dir(p), nil
		}
		return "", errors.New("no PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb)")
	}
	sort.Slice(m, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(m[i]))))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(m[j]))))
		return vi > vj
	})
	return filepath.Dir(m[0]), nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
