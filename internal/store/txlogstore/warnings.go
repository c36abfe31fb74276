package txlogstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/uni-mail/postvakt/collectors/txlog"
	"github.com/uni-mail/postvakt/internal/storage"
)

// mail_warnings is small (a Postfix writes few warnings) and not
// partitioned: plain INSERTs in the batch's transaction, retention by
// DELETE.
var warningColumns = []string{"ts", "node", "program", "severity", "text", "text_key"}

func warningValues(w *txlog.Warning) []any {
	return appendWarning(make([]any, 0, len(warningColumns)), w)
}

// appendWarning appends w's values in the order of warningColumns.
func appendWarning(dst []any, w *txlog.Warning) []any {
	key := w.Key
	if key == "" {
		key = txlog.WarningKey(w.Text)
	}
	return append(dst, storage.Micros(w.Time), w.Node, w.Program, w.Severity, w.Text, key)
}

// insertWarningsPG inserts warnings in a PostgreSQL transaction.
func insertWarningsPG(ctx context.Context, tx pgx.Tx, ws []txlog.Warning) error {
	const chunk = 200
	one := "(" + strings.TrimSuffix(strings.Repeat("?,", len(warningColumns)), ",") + ")"
	for start := 0; start < len(ws); start += chunk {
		end := min(start+chunk, len(ws))
		var sb strings.Builder
		sb.WriteString("INSERT INTO mail_warnings (" + strings.Join(warningColumns, ",") + ") VALUES ")
		args := make([]any, 0, (end-start)*len(warningColumns))
		for i := start; i < end; i++ {
			if i > start {
				sb.WriteByte(',')
			}
			sb.WriteString(one)
			args = append(args, warningValues(&ws[i])...)
		}
		if _, err := tx.Exec(ctx, storage.RebindDollar(sb.String()), args...); err != nil {
			return fmt.Errorf("insert into mail_warnings: %w", err)
		}
	}
	return nil
}
