package team

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/uni-mail/postvakt/oncall/page"
	"github.com/uni-mail/postvakt/oncall/rota"
)

// SwapRequestMessage is the message that asks s's counterpart to decide
// (Slack with the buttons, and e-mail), its text after lead; key tells it
// from the other messages about s. ok is false for an unknown member.
func (t *Team) SwapRequestMessage(s SwapRecord, key, subject, lead string) (m page.Message, ok bool) {
	rc, ok := t.Recipient(s.Counterpart)
	if !ok {
		return page.Message{}, false
	}
	id, _ := ParseID(s.ID)
	return page.Message{Key: "swap/" + s.ID + "/" + key, Kind: page.KindSwap, To: rc, Subject: subject,
		Text: lead + t.swapRequestText(s), SwapID: id}, true
}

func (t *Team) swapRequestText(s SwapRecord) string {
	text := fmt.Sprintf("%s asks to swap turns in %s: you would take the turn starting %s, and %s yours starting %s.",
		s.Requester, s.Rota, t.when(s.TurnAStart), s.Requester, t.when(s.TurnBStart))
	if s.Note != "" {
		text += "\n" + s.Note
	}
	return text + fmt.Sprintf("\nAccept or decline with `postvakt oncall swap accept|decline %s` or the buttons in Slack.", s.ID)
}

// Reminders is what RemindSwaps needs: how often and how late to remind.
type Reminders struct {
	Every  time.Duration // 0: no periodic reminders
	Before time.Duration // 0: no last reminder before the turn
}

// RemindSwaps is one step of the loop that keeps swap requests moving:
// the counterpart of an undecided request is reminded every r.Every after
// the request and once more when the earlier of the two turns starts
// within r.Before; a request still undecided when that turn starts lapses
// and both people are told. Messages are keyed by swap and reminder, so
// the pipeline's page log sends each once, across restarts and nodes.
func (t *Team) RemindSwaps(ctx context.Context, r Reminders, send func(context.Context, ...page.Message) error, now time.Time) error {
	sn, err := t.refresh(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range sn.names {
		list, err := t.ListSwaps(ctx, name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, s := range list {
			if s.State != rota.SwapRequested {
				continue
			}
			if err := t.remindSwap(ctx, s, r, send, now); err != nil {
				errs = append(errs, fmt.Errorf("swap %s: %w", s.ID, err))
			}
		}
	}
	return errors.Join(errs...)
}

func (t *Team) remindSwap(ctx context.Context, s SwapRecord, r Reminders, send func(context.Context, ...page.Message) error, now time.Time) error {
	first := s.TurnAStart
	if s.TurnBStart.Before(first) {
		first = s.TurnBStart
	}
	if !now.Before(first) {
		id, _ := ParseID(s.ID)
		ok, err := t.store.DecideSwap(ctx, id, rota.SwapRequested, rota.SwapLapsed, "postvakt", now)
		if err != nil || !ok {
			return err // decided meanwhile: nothing to tell
		}
		text := fmt.Sprintf("The swap of turns in %s that %s asked %s for (turns starting %s and %s) lapsed: nobody decided it before the turn starting %s. The rota is unchanged.",
			s.Rota, s.Requester, s.Counterpart, t.when(s.TurnAStart), t.when(s.TurnBStart), t.when(first))
		var msgs []page.Message
		for _, m := range []string{s.Requester, s.Counterpart} {
			if rc, ok := t.Recipient(m); ok {
				msgs = append(msgs, page.Message{Key: "swap/" + s.ID + "/lapsed/" + m, Kind: page.KindSwap, To: rc,
					Subject: "Swap request " + s.ID + " lapsed", Text: text})
			}
		}
		return send(ctx, msgs...)
	}
	var key string
	switch {
	case r.Before > 0 && first.Sub(now) <= r.Before && first.Sub(s.CreatedAt) > r.Before:
		// (a request made inside the window was news already)
		key = "before"
	case r.Every > 0 && now.Sub(s.CreatedAt) >= r.Every:
		key = strconv.FormatInt(int64(now.Sub(s.CreatedAt)/r.Every), 10)
	default:
		return nil
	}
	m, ok := t.SwapRequestMessage(s, "remind/"+key, "Reminder: swap request from "+s.Requester,
		fmt.Sprintf("Reminder: still undecided since %s, and the earlier turn starts %s.\n", t.when(s.CreatedAt), t.when(first)))
	if _, done := t.reminded.Load(m.Key); !ok || done {
		return nil // the loop runs every few seconds: hand each reminder over once
	}
	if err := send(ctx, m); err != nil {
		return err
	}
	t.reminded.Store(m.Key, true)
	return nil
}
