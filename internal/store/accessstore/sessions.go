package accessstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/webauth"
)

// CreateSession stores a session under the hash of its cookie secret.
func (s *Store) CreateSession(ctx context.Context, hash string, sess webauth.Session) error {
	_, err := s.db.Exec(ctx, `INSERT INTO web_sessions (hash, user_id, csrf, created_at, last_seen_at, expires_at, remote, via)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, hash, sess.UserID, sess.CSRF, storage.Micros(sess.CreatedAt), storage.Micros(sess.LastSeen),
		storage.Micros(sess.ExpiresAt), sess.Remote, sess.Via)
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// SessionByHash returns a session and its user.
func (s *Store) SessionByHash(ctx context.Context, hash string) (webauth.Session, webauth.User, error) {
	var (
		sess                   webauth.Session
		created, seen, expires int64
	)
	u, err := scanUser(s.db.QueryRow(ctx, `SELECT `+userCols+`, s.user_id, s.csrf, s.created_at, s.last_seen_at, s.expires_at, s.remote, s.via
		FROM web_sessions s JOIN web_users u ON u.id = s.user_id WHERE s.hash = ?`, hash),
		&sess.UserID, &sess.CSRF, &created, &seen, &expires, &sess.Remote, &sess.Via)
	if errors.Is(err, sql.ErrNoRows) {
		return sess, u, storage.NotFound(webauth.ErrNoSession)
	}
	if err != nil {
		return sess, u, fmt.Errorf("session: %w", err)
	}
	sess.CreatedAt, sess.LastSeen, sess.ExpiresAt = storage.FromMicros(created), storage.FromMicros(seen), storage.FromMicros(expires)
	return sess, u, nil
}

// TouchSession records a session's last use.
func (s *Store) TouchSession(ctx context.Context, hash string, at time.Time) error {
	_, err := s.db.Exec(ctx, `UPDATE web_sessions SET last_seen_at = ? WHERE hash = ?`, storage.Micros(at), hash)
	return err
}

// DeleteSession ends one session.
func (s *Store) DeleteSession(ctx context.Context, hash string) error {
	_, err := s.db.Exec(ctx, `DELETE FROM web_sessions WHERE hash = ?`, hash)
	return err
}

// DeleteUserSessions ends every session of a user.
func (s *Store) DeleteUserSessions(ctx context.Context, userID int64) error {
	_, err := s.db.Exec(ctx, `DELETE FROM web_sessions WHERE user_id = ?`, userID)
	return err
}

// PruneSessions deletes sessions expired at now or unused since idleSince.
func (s *Store) PruneSessions(ctx context.Context, now, idleSince time.Time) (int64, error) {
	res, err := s.db.Exec(ctx, `DELETE FROM web_sessions WHERE expires_at <= ? OR last_seen_at < ?`, storage.Micros(now), storage.Micros(idleSince))
	if err != nil {
		return 0, fmt.Errorf("prune sessions: %w", err)
	}
	return res.RowsAffected()
}
