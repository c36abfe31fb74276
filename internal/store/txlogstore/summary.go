package txlogstore

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/collectors/txlog"
	"github.com/uni-mail/postvakt/internal/storage"
)

func timeBounds(since, until time.Time) (int64, int64) {
	lo, hi := int64(0), int64(1<<62)
	if !since.IsZero() {
		lo = storage.Micros(since)
	}
	if !until.IsZero() {
		hi = storage.Micros(until)
	}
	return lo, hi
}

// TxSummary computes the grand totals over [since, until) from the stored
// logs (see txlog.Summary for the definitions).
func (s *Store) TxSummary(ctx context.Context, since, until time.Time) (txlog.Summary, error) {
	lo, hi := timeBounds(since, until)
	sum := txlog.Summary{Since: since, Until: until, DeliveredBy: map[string]int64{}, DeliveredByDir: map[string]int64{},
		AuthFailures: map[string]int64{}, Verdicts: map[string]int64{}, Rejected: []txlog.RejectCount{}, Logins: []txlog.LoginCount{}}
	// a refused record (correlate.StateRefused) entered with a queue ID
	// but was not received
	err := s.db.QueryRow(ctx, `SELECT COALESCE(SUM(CASE WHEN state = 'refused' THEN 0 ELSE received END), 0), COUNT(*),
		COALESCE(SUM(CASE WHEN received > 0 AND state <> 'refused' THEN size ELSE 0 END), 0),
		COUNT(DISTINCT CASE WHEN received > 0 AND state <> 'refused' THEN mail_from END),
		COALESCE(SUM(CASE WHEN state = 'refused' THEN 1 ELSE 0 END), 0)
		FROM mail_messages WHERE ts >= ? AND ts < ?`, lo, hi).Scan(&sum.Received, &sum.Messages, &sum.BytesReceived, &sum.Senders, &sum.Refused)
	if err != nil {
		return sum, fmt.Errorf("summary messages: %w", err)
	}
	rows, err := s.db.Query(ctx, `SELECT status, handoff, agent, direction, stage, code, av_verdict, COUNT(*), COALESCE(SUM(size), 0)
		FROM mail_tx WHERE ts >= ? AND ts < ?
		GROUP BY status, handoff, agent, direction, stage, code, av_verdict`, lo, hi)
	if err != nil {
		return sum, fmt.Errorf("summary rows: %w", err)
	}
	rejects := map[txlog.RejectCount]int64{}
	for rows.Next() {
		var status, agent, dir, stage, verdict string
		var handoff, code int
		var n, bytes int64
		if err := rows.Scan(&status, &handoff, &agent, &dir, &stage, &code, &verdict, &n, &bytes); err != nil {
			rows.Close()
			return sum, fmt.Errorf("summary rows: %w", err)
		}
		switch status {
		case txlog.StatusSent:
			sum.SentLines += n
			if handoff != 0 {
				sum.FilterHandoffs += n
				break
			}
			sum.Delivered += n
			sum.BytesDelivered += bytes
			sum.DeliveredBy[agent] += n
			sum.DeliveredByDir[dir] += n
			if dir == string(txlog.Relayed) {
				sum.Forwarded += n
			}
		case txlog.StatusDeferred:
			sum.Deferred += n
		case txlog.StatusBounced:
			sum.Bounced += n
		case txlog.StatusExpired:
			sum.Expired += n
		case txlog.StatusDiscarded:
			sum.Discarded += n
		case txlog.StatusRejected:
			if stage == "header" || stage == "body" {
				sum.CleanupRejected += n
				break
			}
			rejects[txlog.RejectCount{Stage: stage, Code: code}] += n
			sum.RejectedTotal += n
		case txlog.StatusGreylisted:
			sum.Greylisted += n
		case txlog.StatusGreylistPass:
			sum.GreylistPassed += n
		case txlog.StatusScanned:
			sum.Verdicts[verdict] += n
			switch {
			case strings.HasSuffix(verdict, " SPAM"), strings.HasSuffix(verdict, " SPAMMY"):
				sum.Spam += n
			case strings.HasSuffix(verdict, " INFECTED"):
				sum.Virus += n
			case strings.HasSuffix(verdict, " BANNED"):
				sum.Banned += n
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return sum, fmt.Errorf("summary rows: %w", err)
	}
	for k, n := range rejects {
		k.Count = n
		sum.Rejected = append(sum.Rejected, k)
	}
	sort.Slice(sum.Rejected, func(i, j int) bool {
		a, b := sum.Rejected[i], sum.Rejected[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		if a.Stage != b.Stage {
			return a.Stage < b.Stage
		}
		return a.Code < b.Code
	})
	err = s.db.QueryRow(ctx, `SELECT COUNT(DISTINCT msg_key) FROM mail_tx WHERE ts >= ? AND ts < ? AND status = 'deferred' AND msg_key <> ''`, lo, hi).
		Scan(&sum.DeferredMessages)
	if err != nil {
		return sum, fmt.Errorf("summary deferred: %w", err)
	}
	err = s.db.QueryRow(ctx, `SELECT COUNT(DISTINCT rcpt) FROM mail_tx WHERE ts >= ? AND ts < ? AND status = 'sent' AND handoff = 0`, lo, hi).
		Scan(&sum.Recipients)
	if err != nil {
		return sum, fmt.Errorf("summary recipients: %w", err)
	}
	lrows, err := s.db.Query(ctx, `SELECT source, service, ok, COUNT(*) FROM mail_logins WHERE ts >= ? AND ts < ? GROUP BY source, service, ok`, lo, hi)
	if err != nil {
		return sum, fmt.Errorf("summary logins: %w", err)
	}
	logins := map[[2]string]int64{}
	for lrows.Next() {
		var source, service string
		var ok int
		var n int64
		if err := lrows.Scan(&source, &service, &ok, &n); err != nil {
			lrows.Close()
			return sum, fmt.Errorf("summary logins: %w", err)
		}
		if source == txlog.SourceDovecotAuth {
			sum.AuthFailures["smtp"] += n
			continue
		}
		result := "ok"
		if ok == 0 {
			result = "failed"
			switch source {
			case "postfix", "exim":
				sum.SASLFailures += n
			case "dovecot":
				key := service
				if key == "" {
					key = "unresolved"
				}
				sum.AuthFailures[key] += n
			}
		}
		proto := service
		if proto == "" {
			proto = "unknown"
		}
		logins[[2]string{proto, result}] += n
	}
	lrows.Close()
	if err := lrows.Err(); err != nil {
		return sum, fmt.Errorf("summary logins: %w", err)
	}
	for k, n := range logins {
		sum.Logins = append(sum.Logins, txlog.LoginCount{Protocol: k[0], Result: k[1], Count: n})
	}
	sort.Slice(sum.Logins, func(i, j int) bool {
		a, b := sum.Logins[i], sum.Logins[j]
		if a.Protocol != b.Protocol {
			return a.Protocol < b.Protocol
		}
		return a.Result > b.Result
	})
	err = s.db.QueryRow(ctx, `SELECT COUNT(DISTINCT username) FROM mail_logins WHERE ts >= ? AND ts < ? AND ok = 1 AND source <> ? AND username <> ''`,
		lo, hi, txlog.SourceDovecotAuth).Scan(&sum.UniqueUsers)
	if err != nil {
		return sum, fmt.Errorf("summary users: %w", err)
	}
	return sum, nil
}
