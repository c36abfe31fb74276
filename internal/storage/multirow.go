package storage

import (
	"strings"
	"sync"
)

// ChunkRows is how many of n rows the next multi-row statement writes:
// the largest power of two up to n and max. A statement's text depends on
// its size, and storage.DB (on SQLite) and pgx (on PostgreSQL) cache one
// prepared statement per text on every pooled connection; with sizes of
// any value from 1 to 500 the live tail's commits of varying size filled
// SQLite's cache with hundreds of multi-row INSERTs, 809 MiB of SQLite's
// memory against a Go heap of 10 MiB (txlogstore's
// BenchmarkWriteBatchSQLiteRSS). Powers of two keep it to a handful of
// texts per statement kind, for at most one more statement per batch.
func ChunkRows(n, max int) int {
	size := max
	for size > n {
		size /= 2
	}
	return size
}

type multiRowKey struct {
	head, one, tail string
	rows            int
}

var multiRowTexts sync.Map // multiRowKey → string

// MultiRowInsert is the text of a multi-row INSERT, made once per
// arguments: head ("INSERT INTO t (a, b) VALUES "), rows copies of one
// ("(?,?)") separated by commas, then tail (an ON CONFLICT clause, or "").
func MultiRowInsert(head, one string, rows int, tail string) string {
	k := multiRowKey{head, one, tail, rows}
	if q, ok := multiRowTexts.Load(k); ok {
		return q.(string)
	}
	var sb strings.Builder
	sb.Grow(len(head) + rows*(len(one)+1) + len(tail))
	sb.WriteString(head)
	for i := range rows {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(one)
	}
	sb.WriteString(tail)
	q, _ := multiRowTexts.LoadOrStore(k, sb.String())
	return q.(string)
}
