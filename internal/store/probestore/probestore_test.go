package probestore_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/collectors/probe"
	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/engine/store"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/enginestore"
	"github.com/uni-mail/postvakt/internal/store/oncallstore"
	"github.com/uni-mail/postvakt/internal/store/probestore"
	"github.com/uni-mail/postvakt/internal/store/reportstore"
	"github.com/uni-mail/postvakt/internal/store/ticketstore"
	"github.com/uni-mail/postvakt/oncall/notice"
)

// TestProbeAvailabilityWithOutageAndMaintenance: a day with a 30-minute
// outage and a 60-minute announced maintenance window, probed every
// minute, on both databases (docs/probes.md, "Availability").
func TestProbeAvailabilityWithOutageAndMaintenance(t *testing.T) {
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		st := probestore.New(db, ticketstore.New(db))
		loc, _ := time.LoadLocation("Europe/Oslo")
		day := time.Date(2026, 10, 14, 0, 0, 0, 0, loc)
		outage := [2]time.Time{day.Add(9*time.Hour + 15*time.Minute), day.Add(9*time.Hour + 45*time.Minute)}
		maint := [2]time.Time{day.Add(22 * time.Hour), day.Add(23 * time.Hour)}
		// The service is also down for 40 minutes inside the window
		// (planned: the upgrade restarts it).
		planned := [2]time.Time{day.Add(22*time.Hour + 10*time.Minute), day.Add(22*time.Hour + 50*time.Minute)}
		in := func(t time.Time, iv [2]time.Time) bool { return !t.Before(iv[0]) && t.Before(iv[1]) }

		var changes int
		// From the evening before to the morning after, one run a minute;
		// a second probe of another service fails all day and must not count.
		for at := day.Add(-2 * time.Hour); at.Before(day.Add(26 * time.Hour)); at = at.Add(time.Minute) {
			ok := !in(at, outage) && !in(at, planned)
			r := probe.Result{Probe: "imap-lb", Service: "imap", Kind: probe.KindIMAP, At: at, Duration: 40 * time.Millisecond,
				OK: ok, Attempts: 1, Steps: []probe.Step{{Name: "connect", Duration: time.Millisecond}}}
			if !ok {
				r.Error, r.Attempts = "imap: dial tcp 127.0.0.1:1143: connection refused", 3
			}
			_, changed, err := st.SaveProbeResult(ctx, r, "node-a")
			if err != nil {
				t.Fatal(err)
			}
			if changed {
				changes++
			}
			if at.Minute()%10 == 0 {
				if _, _, err := st.SaveProbeResult(ctx, probe.Result{Probe: "pop-lb", Service: "pop", Kind: probe.KindPOP3, At: at, Error: "refused"}, "node-a"); err != nil {
					t.Fatal(err)
				}
			}
		}
		if changes != 5 { // first up, down, up, down, up
			t.Errorf("recorded %d changes, want 5", changes)
		}
		_, err := ticketstore.New(db).NoticeCreate(ctx, notice.Notice{Kind: notice.KindMaintenance, Title: "IMAP upgrade", Services: []string{"imap", "webmail"},
			State: notice.Completed, StartedAt: maint[0], PlannedEnd: maint[1], EndedAt: maint[1], Language: "en", ThreadID: "<n1@test>",
			CreatedAt: day, UpdatedAt: day}, notice.Update{At: day, Kind: "created", State: notice.Completed, Body: "x"})
		if err != nil {
			t.Fatal(err)
		}
		// A cancelled window does not excuse anything.
		_, err = ticketstore.New(db).NoticeCreate(ctx, notice.Notice{Kind: notice.KindMaintenance, Title: "called off", Services: []string{"imap"},
			State: notice.Cancelled, StartedAt: outage[0], PlannedEnd: outage[1], EndedAt: outage[0], Language: "en", ThreadID: "<n2@test>",
			CreatedAt: day, UpdatedAt: day}, notice.Update{At: day, Kind: "created", State: notice.Cancelled, Body: "x"})
		if err != nil {
			t.Fatal(err)
		}

		figs, err := st.ServiceAvailability(ctx, day, day.AddDate(0, 0, 1))
		if err != nil {
			t.Fatal(err)
		}
		if len(figs) != 2 || figs[0].Service != "imap" || figs[1].Service != "pop" {
			t.Fatalf("services = %+v", figs)
		}
		f := figs[0]
		want := map[string][2]time.Duration{
			"total": {time.Duration(f.Total), 24 * time.Hour}, "planned": {time.Duration(f.Planned), time.Hour},
			"down": {time.Duration(f.Down), 30 * time.Minute}, "down in maintenance": {time.Duration(f.DownPlanned), 40 * time.Minute},
			"measured": {time.Duration(f.Measured), 23 * time.Hour}, "no data": {time.Duration(f.NoData), 0},
		}
		for k, v := range want {
			if v[0] != v[1] {
				t.Errorf("%s = %v, want %v", k, v[0], v[1])
			}
		}
		if a := 100 * (1380.0 - 30) / 1380; !f.Known || math.Abs(f.Availability-a) > 1e-9 {
			t.Errorf("availability = %.4f%%, want %.4f%%", f.Availability, a)
		}
		if len(f.Outages) != 1 || !f.Outages[0].Start.Equal(outage[0]) || !f.Outages[0].End.Equal(outage[1]) {
			t.Errorf("outages = %+v, want one %v–%v", f.Outages, outage[0], outage[1])
		}
		if p := figs[1]; p.Availability != 0 || !p.Known {
			t.Errorf("pop = %+v, want 0%% known", p)
		}

		// Per day: the day before is whole (its first two hours measured),
		// the day itself as above.
		days, err := st.ServiceAvailabilityDaily(ctx, day.AddDate(0, 0, -1), day.AddDate(0, 0, 1), loc)
		if err != nil {
			t.Fatal(err)
		}
		if len(days) != 4 || days[0].Service != "imap" || !days[1].From.Equal(day) || days[1].Availability != f.Availability ||
			time.Duration(days[0].NoData) != 22*time.Hour || days[0].Availability != 100 {
			t.Fatalf("daily = %+v", days)
		}

		// The monthly report sees the measured outage, and the window.
		outs, err := reportstore.Source{ProbeData: st, TicketData: ticketstore.New(db), OnCallData: oncallstore.New(db)}.Outages(ctx, day, day.AddDate(0, 0, 1))
		if err != nil {
			t.Fatal(err)
		}
		var probeOut, windows int
		for _, o := range outs {
			switch {
			case o.Service == "imap" && o.Ref == "probe":
				probeOut++
				if !o.Start.Equal(outage[0]) || !o.End.Equal(outage[1]) || o.Planned {
					t.Errorf("report outage = %+v", o)
				}
			case o.Service == "imap" && o.Planned:
				windows++
			}
		}
		if probeOut != 1 || windows != 1 {
			t.Errorf("report outages for imap: %d measured, %d planned; want 1 and 1 (%+v)", probeOut, windows, outs)
		}

		states, err := st.ProbeStates(ctx)
		if err != nil || len(states) != 2 || states[0].Probe != "imap-lb" || states[0].Status != probe.StatusUp || states[1].Status != probe.StatusDown {
			t.Fatalf("states = %+v, %v", states, err)
		}
		res, err := st.ProbeResults(ctx, "imap-lb", outage[0], outage[1], 5)
		if err != nil || len(res) != 5 || res[0].OK || res[0].Attempts != 3 || len(res[0].Steps) != 1 || !res[0].At.Equal(outage[1].Add(-time.Minute)) {
			t.Fatalf("results = %+v, %v", res, err)
		}
		n, err := st.DeleteProbeResults(ctx, day)
		if err != nil || n != 120+12 {
			t.Fatalf("deleted %d, %v; want 132", n, err)
		}
		// Changes survive retention: the day computes the same.
		again, err := st.ServiceAvailability(ctx, day, day.AddDate(0, 0, 1))
		if err != nil || again[0].Availability != f.Availability {
			t.Fatalf("after retention: %+v, %v", again, err)
		}
	})
}

// TestConformanceProbeMailSeen: the mail loop's token is found through the
// Subject and Message-ID recorded with the message's transaction, and in
// the body's header block only for a message without a transaction row;
// a found message leaves the mailbox.
func TestConformanceProbeMailSeen(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
		ids, err := enginestore.New(db).DirUpsertMailboxes(ctx, []directory.Mailbox{{Address: "probe@uni.example"}}, now)
		if err != nil {
			t.Fatal(err)
		}
		msg := func(qid, subject, messageID, body string, at time.Time) *store.Message {
			b := []byte(body)
			return &store.Message{QueueID: qid, ReceivedAt: at, MailFrom: "probe@uni.example", Rcpts: []string{"probe@uni.example"},
				MessageID: messageID, Subject: subject, Body: b, BodyHash: store.Hash(b),
				Deliveries: []store.Delivery{{Rcpt: "probe@uni.example", MailboxID: ids[0]}}}
		}
		// by the recorded Subject: the body does not carry the token
		bySubject := msg("P1", "postvakt probe loop pv-1-aa", "<x1@postvakt.invalid>", "Subject: other\r\n\r\npv-1-aa\r\n", now)
		// by the header block, its transaction row gone (released from quarantine)
		byBody := msg("P2", "", "", "X-Postvakt-Probe: pv-2-bb\r\nSubject: t\r\n\r\nbody\r\n", now.Add(time.Second))
		// the token only in the text, not the header block
		inText := msg("P3", "", "", "Subject: t\r\n\r\npv-3-cc\r\n", now.Add(2*time.Second))
		if err := enginestore.New(db).MailCommit(ctx, []*store.Message{bySubject, byBody, inText}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(ctx, `DELETE FROM engine_transactions WHERE queue_id IN ('P2', 'P3')`); err != nil {
			t.Fatal(err)
		}
		mailbox := probestore.Mailbox{Mail: enginestore.New(db)}
		for _, c := range []struct {
			token string
			want  bool
			at    time.Time
		}{
			{"pv-1-aa", true, now}, {"pv-1-aa", false, time.Time{}}, // found once, then gone
			{"pv-2-bb", true, now.Add(time.Second)},
			{"pv-3-cc", false, time.Time{}},
			{"pv-9-zz", false, time.Time{}},
		} {
			at, ok, err := mailbox.Seen(ctx, "Probe@uni.example", c.token)
			if err != nil || ok != c.want || !at.Equal(c.at) {
				t.Errorf("Seen(%s) = %v, %v, %v; want %v, %v", c.token, at, ok, err, c.at, c.want)
			}
		}
		var left int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM engine_messages`).Scan(&left); err != nil || left != 1 {
			t.Errorf("%d messages left (%v), want 1 (P3)", left, err)
		}
	})
}
