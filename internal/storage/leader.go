package storage

import (
	"context"
	"sync/atomic"
	"time"
)

// Leader holds an advisory lock for as long as it can: one replica of those
// sharing a PostgreSQL database holds it at a time, and when that replica's
// session ends (it stops, crashes or loses the database) the lock is free
// for the next one. On SQLite (one process) it is held at once.
type Leader struct {
	held atomic.Bool
}

// Held reports whether this process holds the lock now.
func (l *Leader) Held() bool { return l.held.Load() }

// HoldLock tries to take the advisory lock key every interval until it gets
// it, then checks every interval that the session holding it is alive
// (a session-level PostgreSQL advisory lock lasts as long as its
// connection), until ctx is done, when it releases the lock.
func (db *DB) HoldLock(ctx context.Context, key int64, interval time.Duration) *Leader {
	l := &Leader{}
	if db.dialect != Postgres {
		unlock, ok, _ := db.TryLock(ctx, key)
		if ok {
			l.held.Store(true)
			go func() { <-ctx.Done(); l.held.Store(false); unlock() }()
		}
		return l
	}
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			db.holdOnce(ctx, key, l, t.C)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return l
}

// holdOnce takes the lock on one connection and keeps it while the
// connection answers; it returns when the lock was not had, was lost, or
// ctx is done.
func (db *DB) holdOnce(ctx context.Context, key int64, l *Leader, tick <-chan time.Time) {
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		return
	}
	var ok bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&ok); err != nil || !ok {
		conn.Release()
		return
	}
	l.held.Store(true)
	defer func() {
		l.held.Store(false)
		uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, "SELECT pg_advisory_unlock($1)", key); err != nil {
			_ = conn.Conn().Close(uctx)
		}
		conn.Release()
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
		}
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := conn.Ping(pctx)
		cancel()
		if err != nil {
			// The session is gone or suspect: the lock went with it.
			return
		}
	}
}
