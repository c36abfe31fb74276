// Package server owns postvakt's HTTP server: /healthz, /readyz, /metrics,
// the /api/v1 router with token authentication and role checks, JSON errors
// with stable codes, request logging and metrics, body size limits,
// timeouts and graceful shutdown. Capabilities register their API routes
// through Handle; the web UI mounts under / through Mount.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/telemetry"
)

// ReadyChecker answers /readyz: the database is reachable and its
// migrations are current.
type ReadyChecker interface {
	Ping(ctx context.Context) error
	MigrationsCurrent(ctx context.Context) (bool, error)
}

// Options configure a Server.
type Options struct {
	Config    config.HTTPConfig
	Logger    *slog.Logger
	Telemetry *telemetry.Telemetry
	Ready     ReadyChecker
	Tokens    auth.TokenStore
	Audit     auth.AuditLog
	Now       func() time.Time
	Version   string
}

// Server is postvakt's HTTP server.
type Server struct {
	opts     Options
	mux      *http.ServeMux
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec

	use []func(http.Handler) http.Handler // outer layers, e.g. the web UI's sessions

	mu      sync.Mutex
	touched map[int64]time.Time // when each token's last use was stored
	routes  []Route             // the API routes, for Routes
	addr    net.Addr
}

// New returns a Server with the built-in routes registered.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{
		opts:    opts,
		mux:     http.NewServeMux(),
		touched: map[int64]time.Time{},
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "postvakt_http_requests_total",
			Help: "HTTP requests served, by route pattern and status code class.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "postvakt_http_request_duration_seconds",
			Help:    "Time to serve HTTP requests, by route pattern.",
			Buckets: []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5},
		}, []string{"route"}),
	}
	if opts.Telemetry != nil {
		opts.Telemetry.Registry.MustRegister(s.requests, s.duration)
		s.mux.Handle("GET /metrics", opts.Telemetry.Handler())
	}
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, r, NotFound("no such API endpoint"))
	})
	return s
}

// Handler is the whole server handler with its middleware.
func (s *Server) Handler() http.Handler {
	h := http.Handler(s.mux)
	for i := len(s.use) - 1; i >= 0; i-- {
		h = s.use[i](h)
	}
	return s.recoverer(s.instrument(securityHeaders(checkQuery(s.limitBody(h)))))
}

// Use adds a layer around the router, inside logging and body limits, for
// every request (pages and API): the web UI puts the session's principal
// in the request context with it. Call it before Serve.
func (s *Server) Use(mw func(http.Handler) http.Handler) { s.use = append(s.use, mw) }

// Dispatch serves r on the router alone, without any layer: the web UI
// calls the API in-process with the principal already in r's context.
// Its query string is checked as a client's would be (CheckQuery): a page
// may build it from what the user typed.
func (s *Server) Dispatch(w http.ResponseWriter, r *http.Request) { checkQuery(s.mux).ServeHTTP(w, r) }

// Mount serves h for pattern (e.g. "/" for the web UI, "GET /runbooks/").
// A handler mounted under /api/ checks its own credentials and writes its
// own errors (in the envelope of WriteError); Routes lists it.
func (s *Server) Mount(pattern string, h http.Handler) {
	if i := strings.Index(pattern, "/"); i >= 0 && strings.HasPrefix(pattern[i:], "/api/") {
		s.route(Route{Pattern: pattern})
	}
	s.mux.Handle(pattern, h)
}

// Addr is the address the server listens on, once ListenAndServe has bound.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Serve listens on the configured address and serves until ctx is done,
// then shuts down gracefully within the configured timeout. ready is called
// once the listener is bound.
func (s *Server) Serve(ctx context.Context, ready func(net.Addr)) error {
	ln, err := net.Listen("tcp", s.opts.Config.Listen)
	if err != nil {
		return fmt.Errorf("http listen %s: %w", s.opts.Config.Listen, err)
	}
	s.mu.Lock()
	s.addr = ln.Addr()
	s.mu.Unlock()
	c := s.opts.Config
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: c.ReadHeaderTimeout,
		ReadTimeout:       c.ReadTimeout,
		WriteTimeout:      c.WriteTimeout,
		IdleTimeout:       c.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.opts.Logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	if ready != nil {
		ready(ln.Addr())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), c.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("http shutdown: %w", err)
	}
	return nil
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	status := http.StatusOK
	body := map[string]string{"status": "ok", "database": "ok", "migrations": "current"}
	if s.opts.Ready == nil {
		status, body["status"], body["database"] = http.StatusServiceUnavailable, "unavailable", "not configured"
	} else if err := s.opts.Ready.Ping(ctx); err != nil {
		s.opts.Logger.Warn("readyz: database unreachable", "err", err)
		status, body["status"], body["database"] = http.StatusServiceUnavailable, "unavailable", "unreachable"
		body["migrations"] = "unknown"
	} else if cur, err := s.opts.Ready.MigrationsCurrent(ctx); err != nil || !cur {
		status, body["status"], body["migrations"] = http.StatusServiceUnavailable, "unavailable", "pending"
	}
	writeJSON(w, status, body)
}

// instrument logs each request and counts it by route pattern (a closed set:
// the patterns registered on the mux).
func (s *Server) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		took := time.Since(start)
		s.requests.WithLabelValues(route, fmt.Sprintf("%dxx", rec.status/100)).Inc()
		s.duration.WithLabelValues(route).Observe(took.Seconds())
		level := slog.LevelDebug
		if rec.status >= 500 {
			level = slog.LevelError
		} else if r.URL.Path != "/metrics" && r.URL.Path != "/healthz" && r.URL.Path != "/readyz" {
			level = slog.LevelInfo
		}
		// The query string is not logged: it may carry a feed or ack secret.
		s.opts.Logger.Log(r.Context(), level, "http request", "method", r.Method, "path", r.URL.Path,
			"status", rec.status, "bytes", rec.bytes, "took_seconds", took.Seconds(), "remote", r.RemoteAddr)
	})
}

func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > s.opts.Config.MaxBodyBytes {
			WriteError(w, r, &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeTooLarge, Message: "request body too large"})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.opts.Config.MaxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.opts.Logger.Error("http handler panic", "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				WriteError(w, r, Internal())
			}
		}()
		next.ServeHTTP(w, r)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int
	wrote  bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	n, err := r.ResponseWriter.Write(b)
	r.bytes += n
	return n, err
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Flush lets streaming handlers (CSV export, server-sent events) flush.
func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// WriteJSON writes v as the JSON body of a successful response.
func WriteJSON(w http.ResponseWriter, status int, v any) { writeJSON(w, status, v) }

// ReadJSON decodes a JSON request body strictly (unknown fields are errors)
// into v, answering the client with a bad_request error on failure.
func ReadJSON(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return &Error{Status: http.StatusUnsupportedMediaType, Code: CodeBadRequest, Message: "Content-Type must be application/json"}
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeTooLarge, Message: "request body too large"}
		}
		return BadRequest("invalid JSON body: " + err.Error())
	}
	if dec.More() {
		return BadRequest("invalid JSON body: more than one value")
	}
	return nil
}
