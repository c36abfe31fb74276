package webauth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/storage"
)

// User is a local user of the web interface. PasswordHash is a PHC-format
// argon2id hash; it never leaves the server.
type User struct {
	ID           int64
	Name         string
	DisplayName  string
	Role         auth.Role
	PasswordHash string
	Disabled     bool
	FailedCount  int
	FailedSince  time.Time
	LockedUntil  time.Time
	CreatedAt    time.Time
	LastLoginAt  time.Time
}

// Session is a signed-in session as stored: the cookie's secret is kept
// only as its SHA-256 hash.
type Session struct {
	UserID    int64
	CSRF      string // the synchronizer token of the session's forms
	CreatedAt time.Time
	LastSeen  time.Time
	ExpiresAt time.Time
	Remote    string
	Via       string // "password" or "sso"
}

// Store keeps users and sessions.
type Store interface {
	CreateUser(ctx context.Context, u User) (User, error)
	UserByName(ctx context.Context, name string) (User, error)
	ListUsers(ctx context.Context) ([]User, error)
	// UpdateUser writes role, display name, password hash and disabled of
	// u.ID; it leaves the sign-in state alone (see LoginStore).
	UpdateUser(ctx context.Context, u User) error
	LoginStore
	CreateSession(ctx context.Context, hash string, s Session) error
	// SessionByHash returns the session and its user.
	SessionByHash(ctx context.Context, hash string) (Session, User, error)
	TouchSession(ctx context.Context, hash string, at time.Time) error
	DeleteSession(ctx context.Context, hash string) error
	DeleteUserSessions(ctx context.Context, userID int64) error
	// PruneSessions deletes sessions expired at now or unused since idleSince.
	PruneSessions(ctx context.Context, now, idleSince time.Time) (int64, error)
}

// Errors of the service. ErrNoUser and ErrNoSession are also wrapped by
// the store.
var (
	ErrNoUser         = errors.New("no such user")
	ErrNoSession      = errors.New("no such session")
	ErrBadCredentials = errors.New("wrong user name or password")
	ErrThrottled      = errors.New("too many failed sign-ins; try again later")
	ErrInvalid        = errors.New("invalid user")
	// ErrBusy reports that no password could be checked in time: every
	// slot of the hash gate stayed taken (HashGate). Nothing was counted.
	ErrBusy = errors.New("too many sign-ins at once; try again shortly")
)

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._@-]{0,99}$`)

// MinPasswordLength is the shortest password accepted.
const MinPasswordLength = 10

// Options configure a Service.
type Options struct {
	Config Config
	Store  Store
	Logger *slog.Logger
	Now    func() time.Time
	// Hash overrides the argon2id parameters (tests use cheaper ones).
	Hash directory.HashParams
	// Hashes bounds the password hashes that run at once (each argon2id
	// holds Hash.MemoryKiB while it runs); nil: a gate of
	// DefaultConcurrentHashes for this service alone. A process that also
	// hashes for SMTP AUTH passes the one gate they share
	// (docs/resources.md).
	Hashes HashGate
	// HashWait is the longest a sign-in waits for a slot of Hashes before
	// it fails with ErrBusy; default 10s.
	HashWait time.Duration
	// Hasher is the process's one gate for password hashes, shared with
	// SMTP AUTH (engine.Resources.Hasher, docs/resources.md); when set it
	// is used instead of Hashes. A sign-in that cannot hash in time fails
	// with ErrBusy.
	Hasher *directory.Hasher
}

// Service signs users in and out and answers who a session belongs to.
type Service struct {
	o     Options
	dummy string // a hash verified for unknown users, so timing does not tell
}

// New returns a Service.
func New(o Options) (*Service, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Hash.MemoryKiB == 0 {
		o.Hash = directory.DefaultHashParams()
	}
	if o.Hashes == nil {
		o.Hashes = NewHashGate(DefaultConcurrentHashes)
	}
	if o.HashWait <= 0 {
		o.HashWait = 10 * time.Second
	}
	// One hash at start, outside the gate (which may be a shared one
	// still filling up).
	d, err := directory.HashPassword("postvakt-dummy-password", o.Hash)
	if err != nil {
		return nil, err
	}
	return &Service{o: o, dummy: d}, nil
}

// Config returns the service's configuration.
func (s *Service) Config() Config { return s.o.Config }

// NormalizeName lower-cases and trims a user name.
func NormalizeName(n string) string { return strings.ToLower(strings.TrimSpace(n)) }

// CheckPassword enforces the password rules.
func CheckPassword(pw string) error {
	if len([]rune(pw)) < MinPasswordLength {
		return fmt.Errorf("%w: the password must have at least %d characters", ErrInvalid, MinPasswordLength)
	}
	if len(pw) > 1024 {
		return fmt.Errorf("%w: the password is too long", ErrInvalid)
	}
	return nil
}

// AddUser creates a user. An empty password makes an SSO-only user, who
// cannot sign in with a password.
func (s *Service) AddUser(ctx context.Context, name, display, role, password string) (User, error) {
	name = NormalizeName(name)
	if !nameRE.MatchString(name) {
		return User{}, fmt.Errorf("%w: user name %q: lower-case letters, digits, . _ @ - (at most 100)", ErrInvalid, name)
	}
	r, err := auth.ParseRole(role)
	if err != nil {
		return User{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	u := User{Name: name, DisplayName: strings.TrimSpace(display), Role: r, CreatedAt: s.o.Now()}
	if password != "" {
		if u.PasswordHash, err = s.hash(password); err != nil {
			return User{}, err
		}
	}
	return s.o.Store.CreateUser(ctx, u)
}

func (s *Service) hash(pw string) (string, error) {
	if err := CheckPassword(pw); err != nil {
		return "", err
	}
	return s.hashPassword(context.Background(), pw)
}

// Update changes a user: fn edits its role, display name, password hash or
// disabled (the sign-in state is the store's to count). Changing the role,
// the password or disabling ends the user's sessions.
func (s *Service) Update(ctx context.Context, name string, fn func(u *User) error) (User, error) {
	u, err := s.o.Store.UserByName(ctx, NormalizeName(name))
	if err != nil {
		return User{}, err
	}
	before := u
	if err := fn(&u); err != nil {
		return User{}, err
	}
	if err := s.o.Store.UpdateUser(ctx, u); err != nil {
		return User{}, err
	}
	if u.Role != before.Role || u.PasswordHash != before.PasswordHash || (u.Disabled && !before.Disabled) {
		if err := s.o.Store.DeleteUserSessions(ctx, u.ID); err != nil {
			return User{}, err
		}
	}
	return u, nil
}

// SetPassword sets a user's password and clears a lockout.
func (s *Service) SetPassword(ctx context.Context, name, password string) (User, error) {
	h, err := s.hash(password)
	if err != nil {
		return User{}, err
	}
	u, err := s.Update(ctx, name, func(u *User) error {
		u.PasswordHash = h
		return nil
	})
	if err != nil {
		return u, err
	}
	if err := s.o.Store.ResetLogin(ctx, u.ID); err != nil {
		return u, err
	}
	u.FailedCount, u.FailedSince, u.LockedUntil = 0, time.Time{}, time.Time{}
	return u, nil
}

// Unlock lifts a user's sign-in lockout and forgets their failures.
func (s *Service) Unlock(ctx context.Context, name string) (User, error) {
	u, err := s.o.Store.UserByName(ctx, NormalizeName(name))
	if err != nil {
		return User{}, err
	}
	if err := s.o.Store.ResetLogin(ctx, u.ID); err != nil {
		return User{}, err
	}
	u.FailedCount, u.FailedSince, u.LockedUntil = 0, time.Time{}, time.Time{}
	return u, nil
}

// SetRole changes a user's role.
func (s *Service) SetRole(ctx context.Context, name, role string) (User, error) {
	r, err := auth.ParseRole(role)
	if err != nil {
		return User{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return s.Update(ctx, name, func(u *User) error { u.Role = r; return nil })
}

// SetDisabled disables or enables a user.
func (s *Service) SetDisabled(ctx context.Context, name string, disabled bool) (User, error) {
	return s.Update(ctx, name, func(u *User) error { u.Disabled = disabled; return nil })
}

// Users lists the users.
func (s *Service) Users(ctx context.Context) ([]User, error) { return s.o.Store.ListUsers(ctx) }

// LoginResult says what Login did, for the audit log.
type LoginResult struct {
	User      User
	LockedNow bool // this failure locked the user out
}

// Login checks a password and, when it is right and neither the user nor
// the address is throttled, starts a session. It returns ErrThrottled,
// ErrBadCredentials (never which of user or password was wrong) or
// ErrBusy.
//
// The throttles hold under parallel requests and across replicas because
// every attempt is counted in the database before its password is hashed
// (see LoginStore): the address's attempt, then the user's. An attempt
// that finds the address or the user at its limit is refused without a
// hash. A right password signs in only when no other attempt for the user
// is still being checked and the user was not locked meanwhile; otherwise
// it is answered as a failure, so that a burst of guesses is judged as if
// they came one after another and the answer tells no guess apart.
//
// A database too busy to count the attempt in time (SQLite's write lock
// held past its busy timeout) is ErrBusy, a temporary answer, like a full
// hash gate.
func (s *Service) Login(ctx context.Context, name, password, addr string) (LoginResult, string, Session, error) {
	res, secret, sess, err := s.login(ctx, name, password, addr)
	if err != nil && storage.IsBusy(err) {
		err = fmt.Errorf("%w: %v", ErrBusy, err)
	}
	return res, secret, sess, err
}

func (s *Service) login(ctx context.Context, name, password, addr string) (LoginResult, string, Session, error) {
	lim := s.limits()
	ok, err := s.o.Store.ReserveAddress(ctx, addr, lim)
	if err != nil {
		return LoginResult{}, "", Session{}, err
	}
	if !ok {
		return LoginResult{}, "", Session{}, ErrThrottled
	}
	u, err := s.o.Store.UserByName(ctx, NormalizeName(name))
	if errors.Is(err, ErrNoUser) {
		if _, err := s.verify(ctx, s.dummy, password); err != nil {
			s.refundAddress(ctx, addr)
			return LoginResult{}, "", Session{}, err
		}
		return LoginResult{}, "", Session{}, ErrBadCredentials
	}
	if err != nil {
		return LoginResult{}, "", Session{}, err
	}
	res := LoginResult{User: u}
	if ok, err = s.o.Store.ReserveLogin(ctx, u.ID, lim); err != nil {
		return res, "", Session{}, err
	} else if !ok {
		return res, "", Session{}, ErrThrottled
	}
	hash := u.PasswordHash
	if hash == "" {
		hash = s.dummy // an SSO-only user: spend the same time, never match
	}
	good, err := s.verify(ctx, hash, password)
	if err != nil {
		// Nothing was checked: take the attempt back.
		if rerr := s.o.Store.ReleaseLogin(ctx, u.ID); rerr != nil {
			err = errors.Join(err, rerr)
		}
		s.refundAddress(ctx, addr)
		return res, "", Session{}, err
	}
	if good && u.PasswordHash != "" && !u.Disabled {
		granted, err := s.o.Store.FinishLogin(ctx, u.ID, lim)
		if err != nil {
			return res, "", Session{}, err
		}
		if granted {
			s.refundAddress(ctx, addr)
			u.FailedCount, u.FailedSince, u.LockedUntil, u.LastLoginAt = 0, time.Time{}, time.Time{}, lim.Now
			res.User = u
			secret, sess, err := s.StartSession(ctx, u, addr, "password")
			return res, secret, sess, err
		}
	}
	locked, err := s.o.Store.FailLogin(ctx, u.ID, lim)
	if err != nil {
		return res, "", Session{}, err
	}
	if locked {
		res.LockedNow = true
		res.User.LockedUntil = lim.LockUntil
		s.o.Logger.Warn("web: user locked out after failed sign-ins", "user", u.Name, "until", lim.LockUntil)
		return res, "", Session{}, ErrThrottled
	}
	return res, "", Session{}, ErrBadCredentials
}

// limits are the sign-in limits at this instant.
func (s *Service) limits() LoginLimits {
	now := s.o.Now()
	l := s.o.Config.Login
	return LoginLimits{Now: now, WindowStart: now.Add(-l.Window), MaxFailures: l.MaxFailures,
		MaxPerAddress: l.MaxPerAddress, LockUntil: now.Add(l.Lockout), StaleBefore: now.Add(-staleAttempt)}
}

// refundAddress takes back an address's attempt that did not fail (a
// success, or one that was never checked). A failure to do so is logged:
// it only makes the address's throttle stricter.
func (s *Service) refundAddress(ctx context.Context, addr string) {
	if err := s.o.Store.RefundAddress(ctx, addr); err != nil {
		s.o.Logger.Warn("web: sign-in throttle: refund address attempt", "err", err)
	}
}

// StartSession creates a fresh session for u (a new secret and CSRF token
// every time: sessions rotate at sign-in) and returns the cookie secret.
func (s *Service) StartSession(ctx context.Context, u User, addr, via string) (string, Session, error) {
	secret, err := randomToken()
	if err != nil {
		return "", Session{}, err
	}
	csrf, err := randomToken()
	if err != nil {
		return "", Session{}, err
	}
	now := s.o.Now()
	sess := Session{UserID: u.ID, CSRF: csrf, CreatedAt: now, LastSeen: now,
		ExpiresAt: now.Add(s.o.Config.SessionLifetime), Remote: addr, Via: via}
	if err := s.o.Store.CreateSession(ctx, hashSecret(secret), sess); err != nil {
		return "", Session{}, err
	}
	return secret, sess, nil
}

// Lookup returns the live session of a cookie secret and its user; it
// fails with ErrNoSession for an unknown, expired or idle session or a
// disabled user. It records use at most once a minute.
func (s *Service) Lookup(ctx context.Context, secret string) (Session, User, error) {
	if len(secret) != 43 {
		return Session{}, User{}, ErrNoSession
	}
	h := hashSecret(secret)
	sess, u, err := s.o.Store.SessionByHash(ctx, h)
	if err != nil {
		return Session{}, User{}, err
	}
	now := s.o.Now()
	if !now.Before(sess.ExpiresAt) || now.Sub(sess.LastSeen) > s.o.Config.IdleTimeout || u.Disabled {
		_ = s.o.Store.DeleteSession(ctx, h)
		return Session{}, User{}, ErrNoSession
	}
	if now.Sub(sess.LastSeen) > time.Minute {
		if err := s.o.Store.TouchSession(ctx, h, now); err != nil {
			s.o.Logger.Warn("web: record session use", "err", err)
		}
	}
	return sess, u, nil
}

// Logout ends the session of a cookie secret.
func (s *Service) Logout(ctx context.Context, secret string) error {
	return s.o.Store.DeleteSession(ctx, hashSecret(secret))
}

// SSOUser returns the enabled local user a trusted proxy named.
func (s *Service) SSOUser(ctx context.Context, name string) (User, error) {
	u, err := s.o.Store.UserByName(ctx, NormalizeName(name))
	if err != nil {
		return User{}, err
	}
	if u.Disabled {
		return User{}, ErrNoUser
	}
	return u, nil
}

// Prune deletes sessions that expired before now, and the sign-in counts
// of addresses whose window has passed.
func (s *Service) Prune(ctx context.Context) (int64, error) {
	now := s.o.Now()
	if err := s.o.Store.PruneAddresses(ctx, now.Add(-s.o.Config.Login.Window)); err != nil {
		return 0, err
	}
	return s.o.Store.PruneSessions(ctx, now, now.Add(-s.o.Config.IdleTimeout))
}

// ValidCSRF compares a submitted token with the session's in constant time.
func ValidCSRF(sess Session, token string) bool {
	return sess.CSRF != "" && subtle.ConstantTimeCompare([]byte(sess.CSRF), []byte(token)) == 1
}

// EqualToken compares two tokens in constant time.
func EqualToken(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// randomToken returns 256 random bits, URL-safe base64 (43 characters).
func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// RandomToken returns a fresh random token (for the login form's
// double-submit cookie).
func RandomToken() (string, error) { return randomToken() }

func hashSecret(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
