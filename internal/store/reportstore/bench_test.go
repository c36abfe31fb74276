package reportstore_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/collectors/rollup"
	"github.com/uni-mail/postvakt/collectors/txlog"
	"github.com/uni-mail/postvakt/internal/app"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/txlogstore"
	"github.com/uni-mail/postvakt/reports"
)

// seedUniversityRollups fills two months (September and October 2026) at
// university scale: the hourly and daily rollups the collectors keep for
// one million messages received a day (a third as many sent), daily
// directory snapshots, and the raw login log of 20,000 users who each log
// in on every weekday (the active-user count reads it).
func seedUniversityRollups(b *testing.B, db *storage.DB, loc *time.Location) {
	b.Helper()
	ctx := context.Background()
	shape := [24]float64{1, 0.7, 0.5, 0.5, 0.6, 1, 2, 4, 7, 8.5, 8.5, 8, 7, 7.5, 8, 7.5, 6.5, 5, 4, 3.5, 3, 2.5, 2, 1.5}
	var sum float64
	for _, s := range shape {
		sum += s
	}
	from, to := time.Date(2026, 9, 1, 0, 0, 0, 0, loc), time.Date(2026, 11, 1, 0, 0, 0, 0, loc)
	err := db.InTx(ctx, func(tx *storage.Tx) error {
		put := func(period string, bucket time.Time, metric, dim string, n, bytes int64) error {
			_, err := tx.Exec(ctx, `INSERT INTO mail_rollups (period, bucket, metric, dim, n, bytes) VALUES (?, ?, ?, ?, ?, ?)`,
				period, storage.Micros(bucket), metric, dim, n, bytes)
			return err
		}
		for h := from; h.Before(to); h = h.Add(time.Hour) {
			lh := h.In(loc)
			level := 1e6 * shape[lh.Hour()] / sum
			if wd := lh.Weekday(); wd == time.Saturday || wd == time.Sunday {
				level *= 0.45
			}
			n := int64(level)
			for _, r := range []struct {
				metric, dim string
				n, size     int64
			}{
				{"messages", "inbound", n * 9 / 10, 60_000}, {"messages", "internal", n / 10, 40_000},
				{"messages", "outbound", n / 3, 45_000}, {"messages", "relayed", n / 50, 50_000},
				{"verdicts", "Passed CLEAN", n * 78 / 100, 0}, {"verdicts", "Passed SPAMMY", n * 12 / 100, 0},
				{"verdicts", "Blocked SPAM", n * 6 / 100, 0}, {"verdicts", "Blocked INFECTED", n / 3000, 0},
				{"verdicts", "Blocked BANNED", n / 5000, 0}, {"greylist", "greylisted", n * 3 / 100, 0},
				{"greylist", "greylist_pass", n * 2 / 100, 0},
				{"logins", "imap|ok", n / 10, 0}, {"logins", "imap|failed", n / 400, 0},
				{"logins", "pop3|ok", n / 200, 0}, {"logins", "pop3|failed", n / 4000, 0},
				{"logins", "webmail|ok", n / 30, 0}, {"logins", "webmail|failed", n / 1000, 0},
				{"logins", "submission|ok", n / 12, 0}, {"logins", "submission|failed", n / 800, 0},
			} {
				if err := put("hour", h, r.metric, r.dim, r.n, r.n*r.size); err != nil {
					return err
				}
			}
		}
		for d := from; d.Before(to); d = d.Add(24 * time.Hour) {
			if err := put("day", d, "unique_users", "", 14_000, 0); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	for d := from; d.Before(to); d = d.AddDate(0, 0, 1) {
		n := int64(20_000 + d.YearDay())
		if err := txlogstore.New(db).SaveDirectorySnapshot(ctx, rollup.DirectorySnapshot{Day: d.Add(3 * time.Hour), Domains: 120, Mailboxes: n,
			AllottedBytes: n * (2 << 30) * 11 / 10, TakenAt: d.Add(3 * time.Hour)}); err != nil {
			b.Fatal(err)
		}
	}
	if err := txlogstore.New(db).EnsureLogPartitions(ctx, from, to); err != nil {
		b.Fatal(err)
	}
	var batch txlog.Batch
	for d := from; d.Before(to); d = d.AddDate(0, 0, 1) {
		if wd := d.Weekday(); wd == time.Saturday || wd == time.Sunday {
			continue
		}
		for u := range 20_000 {
			batch.Logins = append(batch.Logins, txlog.Login{Time: d.Add(8*time.Hour + time.Duration(u)*time.Second), Source: "dovecot",
				Service: "imap", User: fmt.Sprintf("u%05d", u), OK: true})
		}
		if err := txlogstore.New(db).WriteBatch(ctx, &batch, nil); err != nil {
			b.Fatal(err)
		}
		batch = txlog.Batch{}
	}
}

// BenchmarkReportFromDatabase generates October 2026 from the database at
// university scale, as the scheduled job does (without sending).
func BenchmarkReportFromDatabase(b *testing.B) {
	for _, f := range []struct{ name, format, engine string }{
		{"html", reports.FormatHTML, reports.PDFBuiltin},
		{"pdf-builtin", reports.FormatPDF, reports.PDFBuiltin},
		{"pdf-chromium", reports.FormatPDF, reports.PDFChromium},
	} {
		b.Run(f.name, func(b *testing.B) {
			cfg := config.Default()
			cfg.Reports.PDFEngine = f.engine
			if f.engine == reports.PDFChromium && !reports.ChromiumAvailable(cfg.Reports.Chromium) {
				b.Skip("chromium not installed")
			}
			loc := cfg.Reports.Location()
			db := storagetest.Open(b, storage.SQLite)
			seedUniversityRollups(b, db, loc)
			svc, err := app.NewReportService(cfg, db, slog.New(slog.DiscardHandler), "bench", func() time.Time {
				return time.Date(2026, 11, 1, 7, 0, 0, 0, loc)
			})
			if err != nil {
				b.Fatal(err)
			}
			p, _ := svc.Period("2026-10")
			b.ResetTimer()
			for b.Loop() {
				g, err := svc.Generate(context.Background(), p, reports.GenerateOptions{Formats: []string{f.format}})
				if err != nil {
					b.Fatal(err)
				}
				if len(g.Report.Missing) > 0 {
					b.Fatalf("missing %v", g.Report.Missing)
				}
			}
		})
	}
}
