// Package control is the running service's local control socket: a Unix
// socket in the data directory through which a command on the same host
// asks `postvakt serve` to do a piece of work on its open, warm database
// connections instead of opening its own (as postqueue asks Postfix's
// master, or doveadm asks Dovecot). A new PostgreSQL connection plans its
// first search over every daily partition of the transaction log from a
// cold catalog cache; the service's connections have done that long ago.
//
// The socket is the service user's own: it is made with mode 0600 in the
// data directory, and a connection whose peer (SO_PEERCRED) is neither
// that user nor root is closed unanswered. A caller that can use it could
// as well open the database the configuration names. Requests are HTTP
// over the socket; a body is at most MaxBody bytes.
//
// Commands fall back to their own database connection when no service
// answers on the socket, when it serves another database (the request
// carries DatabaseID of the caller's database URL), or when it does not
// know the route (an older version): Do returns ErrUnavailable for each.
package control

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// SocketName is the socket's file name in the data directory.
const SocketName = "control.sock"

// MaxBody bounds a request's body and an answer's error text.
const MaxBody = 1 << 20

// maxPath is the longest path a Unix socket address takes on Linux
// (sun_path, 108 bytes with its NUL).
const maxPath = 107

// HeaderDatabase carries the caller's DatabaseID; a service on another
// database answers 409 Conflict.
const HeaderDatabase = "Postvakt-Database"

// ErrUnavailable is Do's answer when the work must be done without the
// service: no socket, nobody listening, another database, an unknown
// route, or a service shutting down.
var ErrUnavailable = errors.New("control: no service answers for this database")

// Path is the socket's path for a data directory.
func Path(dataDir string) string { return filepath.Join(dataDir, SocketName) }

// DatabaseID names a database URL without revealing it: the first 16 hex
// digits of its SHA-256.
func DatabaseID(url string) string {
	h := sha256.Sum256([]byte(url))
	return hex.EncodeToString(h[:8])
}

// Server serves the routes registered with Handle on the socket.
type Server struct {
	mux      *http.ServeMux
	database string
	logger   *slog.Logger
	// allowed says whether a peer's uid may use the socket; nil means the
	// process's own effective uid and root.
	allowed func(uid uint32) bool
}

// NewServer makes a server for the database whose URL is databaseURL.
func NewServer(databaseURL string, logger *slog.Logger) *Server {
	return &Server{mux: http.NewServeMux(), database: DatabaseID(databaseURL), logger: logger}
}

// Handle registers h for pattern (http.ServeMux patterns, "POST /v1/trace").
// The body h reads is bounded by MaxBody.
func (s *Server) Handle(pattern string, h http.HandlerFunc) { s.mux.HandleFunc(pattern, h) }

func (s *Server) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id := r.Header.Get(HeaderDatabase); id != s.database {
			http.Error(w, "this service serves another database", http.StatusConflict)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
		s.mux.ServeHTTP(w, r)
	})
}

// Serve listens on path until ctx is done, then removes the socket. A
// socket file nobody answers on (left by a killed service) is replaced;
// one another service answers on is left alone and Serve returns an
// error saying so.
func (s *Server) Serve(ctx context.Context, path string) error {
	if len(path) > maxPath {
		return fmt.Errorf("control socket %s: the path is longer than a Unix socket takes (%d bytes)", path, maxPath)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return fmt.Errorf("control socket %s: another service answers on it", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("control socket: %w", err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	// net.Listen made the file with the process's umask; nobody but the
	// service user (and root) may connect.
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return fmt.Errorf("control socket: %w", err)
	}
	allowed := s.allowed
	if allowed == nil {
		self := uint32(os.Geteuid())
		allowed = func(uid uint32) bool { return uid == self || uid == 0 }
	}
	srv := &http.Server{
		Handler:           s.handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      5 * time.Minute,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    16 << 10,
		ConnContext:       func(ctx context.Context, c net.Conn) context.Context { return context.WithValue(ctx, connKey{}, c) },
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelDebug),
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	err = srv.Serve(&peerListener{Listener: ln, allowed: allowed, logger: s.logger})
	wg.Wait()
	_ = os.Remove(path)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// peerListener closes the connections of peers that may not use the
// socket before anything is read from them.
type peerListener struct {
	net.Listener
	allowed func(uint32) bool
	logger  *slog.Logger
}

func (l *peerListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		uid, err := peerUID(c)
		if err == nil && l.allowed(uid) {
			return c, nil
		}
		l.logger.Warn("control socket: refused a connection", "uid", uid, "err", err)
		c.Close()
	}
}

// Do sends in as JSON to route (a path such as "/v1/trace") on the
// socket at path, for the database at databaseURL, and decodes the JSON
// answer into out. It returns ErrUnavailable (wrapped) when the caller
// must do the work itself, and the service's error text for any other
// refusal.
func Do(ctx context.Context, path, databaseURL, route string, in, out any) error {
	if len(path) > maxPath {
		return fmt.Errorf("%w: the socket path is too long", ErrUnavailable)
	}
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
		DisableKeepAlives: true,
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://postvakt"+route, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderDatabase, DatabaseID(databaseURL))
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return json.NewDecoder(resp.Body).Decode(out)
	case http.StatusConflict, http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusServiceUnavailable:
		return fmt.Errorf("%w: %s", ErrUnavailable, resp.Status)
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, MaxBody))
	return &Error{Status: resp.StatusCode, Text: string(bytes.TrimSpace(msg))}
}

// Error is a refusal from the service: a request it understood and would
// not or could not carry out.
type Error struct {
	Status int
	Text   string
}

func (e *Error) Error() string {
	if e.Text == "" {
		return fmt.Sprintf("service: %d %s", e.Status, http.StatusText(e.Status))
	}
	return "service: " + e.Text
}

// Peer is the uid of the connection a request came on, for the audit log
// ("control socket, uid 0"); -1 when it is unknown.
func Peer(r *http.Request) int {
	if c, ok := r.Context().Value(connKey{}).(net.Conn); ok {
		if uid, err := peerUID(c); err == nil {
			return int(uid)
		}
	}
	return -1
}

type connKey struct{}
