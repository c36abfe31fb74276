package txlogstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strconv"

	"github.com/uni-mail/postvakt/internal/storage"
)

// bulkTables are the logs an import writes; bulkOwner marks their indexes
// deferred by a bulk load (storage_deferred_indexes.owner).
var bulkTables = []string{"mail_tx", "mail_messages", "mail_logins", "mail_sessions", "mail_warnings"}

const bulkOwner = "import"

// bulkPragmas set up a bulk load's connection on SQLite, and
// bulkPragmasOff put it back as the pool's others are.
//
//   - synchronous=NORMAL: see BeginBulkLoad.
//   - threads: the index builds' sorts may use a second thread.
//
// bulkMmap is the mmap_size of the connection while it builds the
// indexes (FinishBulkLoad): each build reads its whole table, and mapped
// the pages are not copied by a pread each (0.5 of some 7 CPU-s per
// million lines). Only while building: with the mapping on for the whole
// load, the mapped pages counted as the import's resident memory all
// along, growing with the database (docs/performance.md).
var (
	bulkPragmas    = []string{"PRAGMA synchronous=NORMAL", "PRAGMA threads=2"}
	bulkPragmasOff = []string{"PRAGMA synchronous=FULL", "PRAGMA threads=0", "PRAGMA mmap_size=0"}
)

const bulkMmap = 2 << 30

// BulkLoad says how an import writes (BeginBulkLoad).
type BulkLoad struct {
	// On: the logs were empty (or held only what an unfinished bulk load
	// wrote): their indexes are dropped until FinishBulkLoad.
	On bool
	// StartedOver: an earlier bulk load had not finished; its rows were
	// deleted.
	StartedOver bool
	// Indexes are the indexes dropped.
	Indexes []string
}

// BeginBulkLoad prepares a backfill. When the collectors' logs are empty
// (an import into a new database, before the first start of serve), it
// drops their indexes (storage.DB.DeferIndexes) so that the import only
// appends rows, each commit a few pages at the tables' ends instead of a
// leaf in each of some twenty growing B-trees; FinishBulkLoad builds the
// indexes from the loaded rows. When an earlier bulk load did not finish
// (the process was killed: its indexes are still recorded as deferred by
// the import), the logs hold only what that load wrote: they are emptied
// and the load starts over, so re-running an import that was cut short
// gives what one run gives. Otherwise (logs with rows) the import writes
// as serve does, into the indexes.
func (s *Store) BeginBulkLoad(ctx context.Context) (BulkLoad, error) {
	var bl BulkLoad
	defs, err := s.db.DeferredIndexes(ctx)
	if err != nil {
		return bl, err
	}
	for _, d := range defs {
		if d.Owner == bulkOwner {
			bl.StartedOver = true
		}
	}
	if bl.StartedOver {
		for _, t := range bulkTables {
			q := "DELETE FROM " + t
			if s.db.Dialect() == storage.Postgres {
				q = "TRUNCATE " + t
			}
			if _, err := s.db.Exec(ctx, q); err != nil {
				return bl, fmt.Errorf("start the unfinished import over: %w", err)
			}
		}
	} else {
		for _, t := range bulkTables {
			var n int
			err := s.db.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM `+t+` LIMIT 1) x`).Scan(&n)
			if err != nil {
				return bl, fmt.Errorf("bulk load: %w", err)
			}
			if n > 0 {
				return bl, nil
			}
		}
	}
	names, err := s.db.DeferIndexes(ctx, bulkOwner, bulkTables...)
	if err != nil {
		return bl, err
	}
	bl.On = true
	bl.Indexes = names
	for _, d := range defs {
		if d.Owner == bulkOwner {
			bl.Indexes = append(bl.Indexes, d.Name)
		}
	}
	if s.db.Dialect() == storage.SQLite {
		// The load's commits need not be durable one by one: a load cut
		// short is started over. synchronous=NORMAL in WAL mode keeps the
		// database consistent (a crash loses only the last commits) and
		// skips the sync of every commit; FinishBulkLoad's checkpoint
		// syncs it all.
		c, err := s.db.SQL.Conn(ctx)
		if err != nil {
			return bl, fmt.Errorf("bulk load: %w", err)
		}
		for _, p := range bulkPragmas {
			if _, err := c.ExecContext(ctx, p); err != nil {
				closeBulkConn(c)
				return bl, fmt.Errorf("bulk load: %s: %w", p, err)
			}
		}
		ck, err := startBulkCheckpoints(ctx, s.db.SQL, c)
		if err != nil {
			closeBulkConn(c)
			return bl, err
		}
		s.bulkConn, s.bulkCkpt = c, ck
	}
	s.bulk.Store(true)
	return bl, nil
}

// FinishBulkLoad ends the bulk load: it builds the indexes BeginBulkLoad
// dropped (and any other deferred index) and, on SQLite, checkpoints the
// WAL with a full sync; once it returns, the load is durable.
func (s *Store) FinishBulkLoad(ctx context.Context) error {
	c, err := s.endBulkWrites()
	if c != nil {
		defer closeBulkConn(c)
	}
	if err != nil {
		return err
	}
	// on SQLite, on the load's connection (its cache holds the tables'
	// last pages), now with synchronous=FULL: the indexes' commit and the
	// checkpoint after it are synced
	if c != nil {
		if _, err := c.ExecContext(ctx, "PRAGMA mmap_size="+strconv.Itoa(bulkMmap)); err != nil {
			return fmt.Errorf("bulk load: %w", err)
		}
	}
	_, err = s.db.RestoreIndexesOn(ctx, c)
	return err
}

// EndBulkWrites ends the bulk load's writing without building the indexes
// (an import that failed: run again, it starts over): the load's
// connection goes back to the pool with synchronous=FULL.
func (s *Store) EndBulkWrites() {
	if c, _ := s.endBulkWrites(); c != nil {
		closeBulkConn(c)
	}
}

// closeBulkConn hands the bulk load's connection back to the pool with
// the pool's settings, or drops it.
func closeBulkConn(c *sql.Conn) {
	for _, p := range bulkPragmasOff {
		if _, err := c.ExecContext(context.Background(), p); err != nil {
			_ = c.Raw(func(any) error { return driver.ErrBadConn })
			break
		}
	}
	_ = c.Close()
}

// endBulkWrites ends the bulk load's writing and hands back its connection
// (nil on PostgreSQL), set back to synchronous=FULL; if that fails, the
// connection is dropped and an error returned.
func (s *Store) endBulkWrites() (*sql.Conn, error) {
	s.bulkMu.Lock()
	defer s.bulkMu.Unlock()
	s.bulk.Store(false)
	c := s.bulkConn
	s.bulkConn = nil
	if c == nil {
		return nil, nil
	}
	s.closeBulkStmts(c)
	if ck := s.bulkCkpt; ck != nil {
		s.bulkCkpt = nil
		if err := ck.stop(c); err != nil {
			_ = c.Raw(func(any) error { return driver.ErrBadConn })
			return c, fmt.Errorf("end bulk load: %w", err)
		}
	}
	if _, err := c.ExecContext(context.Background(), bulkPragmasOff[0]); err != nil {
		_ = c.Raw(func(any) error { return driver.ErrBadConn })
		return c, fmt.Errorf("end bulk load: %w", err)
	}
	return c, nil
}

// bulkCheckpoints copy the bulk load's commits from the WAL into the
// database on a connection of their own, while the load writes on:
// SQLite's automatic checkpoint runs inside the commit that fills the WAL,
// so the load's one writer waited for a copy of some 40 MB and two syncs
// (the WAL's, the database's) every 10,000 pages. The load's connection
// does not checkpoint (wal_autocheckpoint=0); after every
// bulkCheckpointEvery commits it asks for a PASSIVE checkpoint, which
// copies what is committed without waiting for the writer or holding it
// up. A checkpoint that fails leaves its pages to the next one, and to
// FinishBulkLoad's full checkpoint after the index build.
type bulkCheckpoints struct {
	kick    chan struct{}
	done    chan struct{}
	auto    int64 // the load's connection's wal_autocheckpoint before
	commits int
}

const bulkCheckpointEvery = 8

// The checkpoints' connection is held for the whole load: with fewer than
// two connections of the pool free besides the load's (database.max_conns
// 1 or 2) there are none, and the load's connection checkpoints itself as
// before (nil).
func startBulkCheckpoints(ctx context.Context, db *sql.DB, load *sql.Conn) (*bulkCheckpoints, error) {
	if st := db.Stats(); st.MaxOpenConnections > 0 && st.MaxOpenConnections-st.InUse < 2 {
		return nil, nil
	}
	ck := &bulkCheckpoints{kick: make(chan struct{}, 1), done: make(chan struct{})}
	if err := load.QueryRowContext(ctx, "PRAGMA wal_autocheckpoint").Scan(&ck.auto); err != nil {
		return nil, fmt.Errorf("bulk load: %w", err)
	}
	c, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("bulk load: %w", err)
	}
	if _, err := load.ExecContext(ctx, "PRAGMA wal_autocheckpoint=0"); err != nil {
		c.Close()
		return nil, fmt.Errorf("bulk load: %w", err)
	}
	go func() {
		defer close(ck.done)
		defer c.Close()
		for range ck.kick {
			_, _ = c.ExecContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)")
		}
	}()
	return ck, nil
}

// committed counts a commit of the load and asks for a checkpoint every
// bulkCheckpointEvery commits. The caller holds bulkMu.
func (ck *bulkCheckpoints) committed() {
	ck.commits++
	if ck.commits%bulkCheckpointEvery != 0 {
		return
	}
	select {
	case ck.kick <- struct{}{}:
	default: // one is asked for already
	}
}

// stop waits for the checkpoint under way and sets the load's connection
// back to checkpointing itself.
func (ck *bulkCheckpoints) stop(load *sql.Conn) error {
	close(ck.kick)
	<-ck.done
	_, err := load.ExecContext(context.Background(), "PRAGMA wal_autocheckpoint="+strconv.FormatInt(ck.auto, 10))
	return err
}
