package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"

	_ "modernc.org/sqlite"
)

// row is one accepted message.
type row struct {
	at         int64
	from, rcpt string
	body       []byte
	done       chan error
}

// groupCommitter is the least a server that keeps its mail in SQLite does
// before its 250: one committer takes every message waiting (up to
// maxGroup), inserts them in one transaction with one multi-row INSERT,
// and commits (WAL, synchronous=FULL: one fsync per group). SQLite
// checkpoints by itself (wal_autocheckpoint, 1000 pages).
type groupCommitter struct {
	db   *sql.DB
	reqs chan *row
	stop chan struct{} // closed by close: commit refuses, loop ends
	done chan struct{} // closed when loop has ended
}

var errClosed = errors.New("baseline: closed")

const maxGroup = 64

func openGroupCommitter(path string) (*groupCommitter, error) {
	q := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(FULL)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY,
		received_at INTEGER NOT NULL, mail_from TEXT NOT NULL, rcpt TEXT NOT NULL, body BLOB NOT NULL)`); err != nil {
		db.Close()
		return nil, fmt.Errorf("baseline: %s: %w", path, err)
	}
	g := &groupCommitter{db: db, reqs: make(chan *row, 4*maxGroup), stop: make(chan struct{}), done: make(chan struct{})}
	go g.loop()
	return g, nil
}

// commit returns once r is durable.
func (g *groupCommitter) commit(r *row) error {
	r.done = make(chan error, 1)
	select {
	case g.reqs <- r:
	case <-g.stop:
		return errClosed
	}
	select {
	case err := <-r.done:
		return err
	case <-g.done:
		return errClosed
	}
}

func (g *groupCommitter) close() {
	close(g.stop)
	<-g.done
	g.db.Close()
}

func (g *groupCommitter) loop() {
	defer close(g.done)
	stmts := map[int]string{}
	group := make([]*row, 0, maxGroup)
	for {
		var first *row
		select {
		case first = <-g.reqs:
		case <-g.stop:
			return
		}
		group = append(group[:0], first)
	gather:
		for len(group) < maxGroup {
			select {
			case r := <-g.reqs:
				group = append(group, r)
			default:
				break gather
			}
		}
		q, ok := stmts[len(group)]
		if !ok {
			q = "INSERT INTO messages (received_at, mail_from, rcpt, body) VALUES " +
				strings.TrimSuffix(strings.Repeat("(?,?,?,?),", len(group)), ",")
			stmts[len(group)] = q
		}
		args := make([]any, 0, 4*len(group))
		for _, r := range group {
			args = append(args, r.at, r.from, r.rcpt, r.body)
		}
		err := g.insert(q, args)
		for _, r := range group {
			r.done <- err
		}
	}
}

func (g *groupCommitter) insert(q string, args []any) error {
	tx, err := g.db.BeginTx(context.Background(), nil)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(q, args...); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}
