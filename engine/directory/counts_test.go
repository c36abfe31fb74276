package directory_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/uni-mail/postvakt/engine/directory"
)

// tableStore is a directory.Store over fixed domains, mailboxes and
// entries, for the methods these tests call; any other panics.
type tableStore struct {
	directory.Store
	domains   []directory.Domain
	mailboxes []directory.Mailbox
	entries   map[string]directory.Entry // by lower-cased address
}

func (s tableStore) DirDomains(context.Context) ([]directory.Domain, error) { return s.domains, nil }

func (s tableStore) DirMailboxes(context.Context) ([]directory.Mailbox, error) {
	return s.mailboxes, nil
}

func (s tableStore) DirLookup(_ context.Context, address string) (directory.Entry, error) {
	e, ok := s.entries[address]
	if !ok {
		return e, fmt.Errorf("address %s: %w", address, directory.ErrNotFound)
	}
	return e, nil
}

func (s tableStore) DirMailbox(_ context.Context, id int64) (directory.Mailbox, error) {
	for _, m := range s.mailboxes {
		if m.ID == id {
			return m, nil
		}
	}
	return directory.Mailbox{}, directory.ErrNotFound
}

// TestDirectoryCounts: a mailbox without its own quota counts the
// configured default quota, one with its own counts that.
func TestDirectoryCounts(t *testing.T) {
	t.Parallel()
	st := tableStore{
		domains: []directory.Domain{{Name: "uni.example"}, {Name: "student.uni.example"}},
		mailboxes: []directory.Mailbox{
			{ID: 1, Address: "ola@uni.example", UsedBytes: 100},
			{ID: 2, Address: "kari@uni.example", QuotaBytes: 10 << 30, UsedBytes: 200},
			{ID: 3, Address: "per@student.uni.example", UsedBytes: 300},
		},
	}
	for _, c := range []struct {
		defaultQuota, want int64
	}{
		{5 << 30, 10<<30 + 2*(5<<30)}, // smtp.directory.default_quota_bytes
		{0, 10<<30 + 2*directory.DefaultQuota},
	} {
		d := directory.New(directory.Options{Store: st, DefaultQuota: c.defaultQuota})
		domains, mailboxes, allotted, used, err := d.DirectoryCounts(context.Background())
		if err != nil || domains != 2 || mailboxes != 3 || allotted != c.want || used != 600 {
			t.Errorf("default quota %d: DirectoryCounts = %d, %d, %d, %d, %v; want 2, 3, %d, 600",
				c.defaultQuota, domains, mailboxes, allotted, used, err, c.want)
		}
	}
}

// TestDirectoryCensus: the names of the domains and mailboxes, and the
// capacity above the default quota summed per mailbox, so that a mailbox
// below the default does not cancel another's extra.
func TestDirectoryCensus(t *testing.T) {
	t.Parallel()
	st := tableStore{
		domains: []directory.Domain{{Name: "uni.example"}, {Name: "student.uni.example"}},
		mailboxes: []directory.Mailbox{
			{ID: 1, Address: "Ola@uni.example"},                       // the default: no extra
			{ID: 2, Address: "kari@uni.example", QuotaBytes: 5 << 30}, // 3 GB above a 2 GB default
			{ID: 3, Address: "per@student.uni.example", QuotaBytes: 1 << 30},
		},
	}
	d := directory.New(directory.Options{Store: st, DefaultQuota: 2 << 30})
	domains, mailboxes, extra, err := d.DirectoryCensus(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(domains) != "[uni.example student.uni.example]" || fmt.Sprint(mailboxes) != "[ola@uni.example kari@uni.example per@student.uni.example]" {
		t.Errorf("names = %v, %v", domains, mailboxes)
	}
	// allotted − mailboxes × default would be 8 − 6 = 2 GB: wrong.
	if extra != 3<<30 {
		t.Errorf("extra = %d, want %d", extra, int64(3<<30))
	}
}

// TestLocked: an account is found by its permanent or nickname address in
// any case; an address that is no account is not locked.
func TestLocked(t *testing.T) {
	t.Parallel()
	ola := directory.Mailbox{ID: 1, Address: "ola@uni.example", Nickname: "ola.nordmann@uni.example", Locked: true}
	kari := directory.Mailbox{ID: 2, Address: "kari@uni.example"}
	st := tableStore{
		mailboxes: []directory.Mailbox{ola, kari},
		entries: map[string]directory.Entry{
			"ola@uni.example":          {Address: "ola@uni.example", Kind: directory.KindMailbox, MailboxID: 1, Mailbox: &ola},
			"ola.nordmann@uni.example": {Address: "ola.nordmann@uni.example", Kind: directory.KindNickname, MailboxID: 1},
			"kari@uni.example":         {Address: "kari@uni.example", Kind: directory.KindMailbox, MailboxID: 2, Mailbox: &kari},
			"drift@uni.example":        {Address: "drift@uni.example", Kind: directory.KindAlias},
		},
	}
	d := directory.New(directory.Options{Store: st})
	for addr, want := range map[string]bool{
		"ola@uni.example": true, "Ola@Uni.Example": true, "OLA.Nordmann@uni.example": true,
		"kari@uni.example": false, "Kari@UNI.example": false,
		"drift@uni.example": false, "nobody@uni.example": false, "not an address": false,
	} {
		if got, err := d.Locked(context.Background(), addr); got != want || err != nil {
			t.Errorf("Locked(%q) = %v, %v; want %v", addr, got, err, want)
		}
	}
}
