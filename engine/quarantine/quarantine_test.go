package quarantine_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/engine/addr"
	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/engine/quarantine"
)

// fakeStore holds one item and records the release; only Get and Release
// are used.
type fakeStore struct {
	quarantine.Store
	item     quarantine.Item
	released *quarantine.Delivery
}

func (s *fakeStore) QuarantineGet(_ context.Context, id int64) (quarantine.Item, error) {
	if id != s.item.ID {
		return quarantine.Item{}, quarantine.ErrNotFound
	}
	return s.item, nil
}

func (s *fakeStore) QuarantineRelease(_ context.Context, it quarantine.Item, _ time.Time, d quarantine.Delivery) (int, error) {
	s.released = &d
	return len(d.Mailboxes) + len(d.Relay), nil
}

// fakeDirectory answers Resolve from a table of addresses (by Key) and
// records Delivered.
type fakeDirectory struct {
	res       map[string]directory.Resolution
	err       map[string]error
	delivered map[int64]int64
}

func (d *fakeDirectory) Resolve(_ context.Context, a addr.Address) (directory.Resolution, error) {
	if err := d.err[a.Key()]; err != nil {
		return directory.Resolution{}, err
	}
	if a.Domain != "uni.example" {
		return directory.Resolution{}, directory.ErrNoDomain
	}
	r, ok := d.res[a.Key()]
	if !ok {
		return directory.Resolution{}, directory.ErrNotFound
	}
	return r, nil
}

func (d *fakeDirectory) Delivered(id, bytes int64) { d.delivered[id] += bytes }

// TestReleaseDeliversAsTheDirectoryResolves: Release sends an item where
// the directory's resolution of each recipient says, each mailbox and each
// relay target once; a recipient outside the local domains is relayed to as
// it is; one the directory does not know, or that is not an address, is
// skipped; no one to deliver to keeps the item; a directory failure
// releases nothing.
func TestReleaseDeliversAsTheDirectoryResolves(t *testing.T) {
	t.Parallel()
	anna, bert := directory.Mailbox{ID: 1, Address: "anna@uni.example"}, directory.Mailbox{ID: 2, Address: "bert@uni.example"}
	dir := func() *fakeDirectory {
		return &fakeDirectory{delivered: map[int64]int64{}, err: map[string]error{"broken@uni.example": errors.New("database down")},
			res: map[string]directory.Resolution{
				"anna@uni.example": {Kind: directory.KindMailbox, Mailboxes: []directory.Mailbox{anna}},
				"team@uni.example": {Kind: directory.KindList, Mailboxes: []directory.Mailbox{anna, bert}, Remote: []string{"k@remote.example"}},
				"fwd@uni.example":  {Kind: directory.KindMailbox, Remote: []string{"k@remote.example", "f@remote.example"}},
			}}
	}
	body := []byte("Subject: x\r\n\r\nx\r\n")
	for _, c := range []struct {
		name  string
		rcpts []string
		want  quarantine.Delivery
		err   error
	}{
		{"a mailbox", []string{"anna@uni.example"}, quarantine.Delivery{Mailboxes: []int64{1}}, nil},
		{"each once across recipients", []string{"Anna@uni.example", "team@uni.example", "fwd@uni.example"}, quarantine.Delivery{
			Mailboxes: []int64{1, 2},
			Relay:     []quarantine.RelayTarget{{Rcpt: "team@uni.example", Target: "k@remote.example"}, {Rcpt: "fwd@uni.example", Target: "f@remote.example"}},
		}, nil},
		{"remote recipient", []string{"Ola@Remote.Example"}, quarantine.Delivery{
			Relay: []quarantine.RelayTarget{{Rcpt: "Ola@Remote.Example", Target: "ola@remote.example"}},
		}, nil},
		{"unknown and not an address skipped", []string{"gone@uni.example", "not an address", "postmaster", "anna@uni.example"},
			quarantine.Delivery{Mailboxes: []int64{1}}, nil},
		{"no one left", []string{"gone@uni.example"}, quarantine.Delivery{}, quarantine.ErrNoRecipients},
		{"directory failure", []string{"anna@uni.example", "broken@uni.example"}, quarantine.Delivery{}, errors.New("database down")},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			st := &fakeStore{item: quarantine.Item{ID: 7, QueueID: "Q7", Rcpts: c.rcpts, Body: body}}
			d := dir()
			svc := &quarantine.Service{Store: st, Directory: d}
			n, err := svc.Release(context.Background(), 7)
			if c.err != nil {
				if err == nil || (errors.Is(c.err, quarantine.ErrNoRecipients) && !errors.Is(err, c.err)) || st.released != nil || n != 0 {
					t.Fatalf("Release = %d, %v (released %+v); want %v and nothing released", n, err, st.released, c.err)
				}
				return
			}
			if err != nil || st.released == nil || !reflect.DeepEqual(*st.released, c.want) || n != len(c.want.Mailboxes)+len(c.want.Relay) {
				t.Fatalf("Release = %d, %v, released %+v; want %+v", n, err, st.released, c.want)
			}
			for _, id := range c.want.Mailboxes {
				if d.delivered[id] != int64(len(body)) {
					t.Errorf("directory told of %d bytes in mailbox %d, want %d", d.delivered[id], id, len(body))
				}
			}
		})
	}
	if _, err := (&quarantine.Service{Store: &fakeStore{}, Directory: dir()}).Release(context.Background(), 99); !errors.Is(err, quarantine.ErrNotFound) {
		t.Errorf("release of a missing item: %v", err)
	}
}
