package storage

import (
	"context"
	"fmt"
	"hash/fnv"
)

// LockKey derives an advisory-lock key from a name (a job name, say).
func LockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("postvakt:" + name))
	return int64(h.Sum64())
}

// TryLock takes the advisory lock key without waiting. On PostgreSQL it is a
// session-level pg_try_advisory_lock held on one pooled connection until
// unlock is called, so it excludes every replica sharing the database; on
// SQLite it is an in-process lock. ok is false when someone else holds it.
func (db *DB) TryLock(ctx context.Context, key int64) (unlock func(), ok bool, err error) {
	if db.dialect != Postgres {
		db.mu.Lock()
		defer db.mu.Unlock()
		if db.locks[key] {
			return nil, false, nil
		}
		db.locks[key] = true
		return func() {
			db.mu.Lock()
			delete(db.locks, key)
			db.mu.Unlock()
		}, true, nil
	}
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("advisory lock: %w", err)
	}
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&ok); err != nil {
		conn.Release()
		return nil, false, fmt.Errorf("advisory lock: %w", err)
	}
	if !ok {
		conn.Release()
		return nil, false, nil
	}
	return func() {
		// A fresh context: unlocking must happen even when ctx is done.
		if _, err := conn.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", key); err != nil {
			// The session is suspect; closing it drops the lock.
			_ = conn.Conn().Close(context.Background())
		}
		conn.Release()
	}, true, nil
}
