package directory

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/uni-mail/postvakt/engine/addr"
)

// The administrative operations below are what `postvakt directory …` and
// the API call. They validate against the address rules and wrap ErrInvalid,
// ErrExists, ErrNotFound, ErrQuarantined or ErrNoDomain.

// AddDomain makes name a local domain.
func (d *Directory) AddDomain(ctx context.Context, name string) error {
	n, err := addr.ParseDomain(name)
	if err != nil || strings.HasPrefix(n, "[") || !strings.Contains(n, ".") {
		return fmt.Errorf("%w: domain %q", ErrInvalid, name)
	}
	if err := d.o.Store.DirPutDomain(ctx, Domain{Name: n, CreatedAt: d.o.Clock()}); err != nil {
		return err
	}
	d.domains.Delete(n)
	return nil
}

// Domains lists the local domains.
func (d *Directory) Domains(ctx context.Context) ([]Domain, error) { return d.o.Store.DirDomains(ctx) }

// Mailboxes lists the mailboxes.
func (d *Directory) Mailboxes(ctx context.Context) ([]Mailbox, error) {
	return d.o.Store.DirMailboxes(ctx)
}

// DirectoryCounts counts the local domains and the mailboxes, the quota
// allotted to them (each mailbox's effective quota: its own, or the
// configured default, Quota) and the bytes they use. The collectors' daily
// directory snapshot records it (collectors/rollup.Directory).
func (d *Directory) DirectoryCounts(ctx context.Context) (domains, mailboxes, allottedBytes, usedBytes int64, err error) {
	ds, err := d.o.Store.DirDomains(ctx)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	mbs, err := d.o.Store.DirMailboxes(ctx)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	for _, m := range mbs {
		allottedBytes += d.Quota(m)
		usedBytes += m.UsedBytes
	}
	return int64(len(ds)), int64(len(mbs)), allottedBytes, usedBytes, nil
}

// DirectoryCensus names the local domains and the mailboxes (by their
// permanent address) and sums the capacity granted above the default
// quota: over every mailbox, max(0, its quota − the default), so that a
// mailbox below the default takes nothing from the others' extra. The
// collectors' daily snapshot records it (collectors/rollup.DirectoryCensus)
// for the monthly report's new and removed mailboxes and domains and its
// extra capacity (docs/reports.md, "Definitions").
func (d *Directory) DirectoryCensus(ctx context.Context) (domains, mailboxes []string, extraBytes int64, err error) {
	ds, err := d.o.Store.DirDomains(ctx)
	if err != nil {
		return nil, nil, 0, err
	}
	mbs, err := d.o.Store.DirMailboxes(ctx)
	if err != nil {
		return nil, nil, 0, err
	}
	for _, x := range ds {
		domains = append(domains, x.Name)
	}
	for _, m := range mbs {
		mailboxes = append(mailboxes, strings.ToLower(m.Address))
		extraBytes += max(0, d.Quota(m)-d.o.DefaultQuota)
	}
	return domains, mailboxes, extraBytes, nil
}

// Aliases lists aliases, lists and function addresses.
func (d *Directory) Aliases(ctx context.Context) ([]Alias, error) { return d.o.Store.DirAliases(ctx) }

// AliasesTargeting lists the aliases, lists and function addresses that
// have target among their targets, each with all its targets. A target
// that is not an address with a domain is ErrInvalid.
func (d *Directory) AliasesTargeting(ctx context.Context, target string) ([]Alias, error) {
	a, err := addr.Parse(strings.TrimSpace(target))
	if err != nil || a.Domain == "" {
		return nil, fmt.Errorf("%w: target %q", ErrInvalid, target)
	}
	return d.o.Store.DirAliasesTargeting(ctx, a.Key())
}

// NewMailbox describes a mailbox to create.
type NewMailbox struct {
	Address                string // permanent address
	Nickname               string // optional nickname address
	DisplayName            string
	Password               string // plaintext, hashed here; or
	PasswordHash           string // an argon2id PHC hash
	QuotaBytes             int64
	ForwardTo              string
	KeepCopy               bool
	ExternalForwardAllowed bool
	Locked                 bool
}

func (d *Directory) localAddress(ctx context.Context, s string, k addr.Kind) (addr.Address, error) {
	a, err := addr.Parse(s)
	if err != nil || a.Domain == "" {
		return addr.Address{}, fmt.Errorf("%w: address %q", ErrInvalid, s)
	}
	ok, err := d.IsLocalDomain(ctx, a.Domain)
	if err != nil {
		return addr.Address{}, err
	}
	if !ok {
		return addr.Address{}, fmt.Errorf("%w: %s", ErrNoDomain, a.Domain)
	}
	if rules := d.rules.Load(); rules != nil {
		if err := rules.Check(a.Local, k); err != nil {
			return addr.Address{}, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
	}
	return a, nil
}

func (d *Directory) toMailbox(ctx context.Context, n NewMailbox) (Mailbox, error) {
	a, err := d.localAddress(ctx, n.Address, addr.Personal)
	if err != nil {
		return Mailbox{}, err
	}
	m := Mailbox{
		Address: a.Key(), DisplayName: n.DisplayName, QuotaBytes: n.QuotaBytes,
		KeepCopy: n.KeepCopy, ExternalForwardAllowed: n.ExternalForwardAllowed,
		PasswordHash: n.PasswordHash, Locked: n.Locked,
	}
	if n.QuotaBytes < 0 {
		return Mailbox{}, fmt.Errorf("%w: quota %d", ErrInvalid, n.QuotaBytes)
	}
	if n.ForwardTo != "" {
		f, err := addr.Parse(n.ForwardTo)
		if err != nil || f.Domain == "" {
			return Mailbox{}, fmt.Errorf("%w: forward address %q", ErrInvalid, n.ForwardTo)
		}
		m.ForwardTo = f.Key()
	}
	if n.Password != "" {
		h, err := d.o.Hasher.Hash(ctx, n.Password, d.o.Hash)
		if err != nil {
			return Mailbox{}, err
		}
		m.PasswordHash = h
	} else if m.PasswordHash != "" {
		if err := CheckHash(m.PasswordHash); err != nil {
			return Mailbox{}, fmt.Errorf("%w: password hash of %s", ErrInvalid, m.Address)
		}
	}
	return m, nil
}

// AddMailbox creates (or updates, by permanent address) a mailbox.
func (d *Directory) AddMailbox(ctx context.Context, n NewMailbox) (Mailbox, error) {
	m, err := d.toMailbox(ctx, n)
	if err != nil {
		return Mailbox{}, err
	}
	ids, err := d.o.Store.DirUpsertMailboxes(ctx, []Mailbox{m}, d.o.Clock())
	if err != nil {
		return Mailbox{}, fmt.Errorf("add mailbox %s: %w", m.Address, err)
	}
	if n.Nickname != "" {
		if err := d.setNickname(ctx, ids[0], n.Nickname); err != nil {
			return Mailbox{}, err
		}
	}
	return d.o.Store.DirMailbox(ctx, ids[0])
}

func (d *Directory) update(ctx context.Context, address string, fn func(*Mailbox) error) error {
	m, err := d.Mailbox(ctx, address)
	if err != nil {
		return err
	}
	return d.o.Store.DirUpdateMailbox(ctx, m.ID, d.o.Clock(), fn)
}

// SetQuota sets a mailbox's quota in bytes (0: the default).
func (d *Directory) SetQuota(ctx context.Context, address string, bytes int64) error {
	if bytes < 0 {
		return fmt.Errorf("%w: quota %d", ErrInvalid, bytes)
	}
	return d.update(ctx, address, func(m *Mailbox) error { m.QuotaBytes = bytes; return nil })
}

// Lock cuts an account off (AUTH refused, outside mail refused).
func (d *Directory) Lock(ctx context.Context, address, reason string) error {
	return d.update(ctx, address, func(m *Mailbox) error { m.Locked, m.LockedReason = true, reason; return nil })
}

// Unlock lifts a lock.
func (d *Directory) Unlock(ctx context.Context, address string) error {
	return d.update(ctx, address, func(m *Mailbox) error { m.Locked, m.LockedReason = false, ""; return nil })
}

// SetPassword stores an argon2id hash of password.
func (d *Directory) SetPassword(ctx context.Context, address, password string) error {
	h, err := d.o.Hasher.Hash(ctx, password, d.o.Hash)
	if err != nil {
		return err
	}
	return d.update(ctx, address, func(m *Mailbox) error { m.PasswordHash = h; return nil })
}

// SetForward sets (or clears, with to "") forwarding.
func (d *Directory) SetForward(ctx context.Context, address, to string, keepCopy, externalAllowed bool) error {
	var key string
	if to != "" {
		f, err := addr.Parse(to)
		if err != nil || f.Domain == "" {
			return fmt.Errorf("%w: forward address %q", ErrInvalid, to)
		}
		key = f.Key()
	}
	return d.update(ctx, address, func(m *Mailbox) error {
		m.ForwardTo, m.KeepCopy, m.ExternalForwardAllowed = key, keepCopy, externalAllowed
		return nil
	})
}

// SetNickname gives the mailbox at address a new nickname ("" removes it).
// The old nickname is released and quarantined.
func (d *Directory) SetNickname(ctx context.Context, address, nickname string) error {
	m, err := d.Mailbox(ctx, address)
	if err != nil {
		return err
	}
	return d.setNickname(ctx, m.ID, nickname)
}

func (d *Directory) setNickname(ctx context.Context, id int64, nickname string) error {
	key := ""
	if nickname != "" {
		a, err := d.localAddress(ctx, nickname, addr.Nickname)
		if err != nil {
			return err
		}
		key = a.Key()
	}
	if err := d.o.Store.DirSetNickname(ctx, id, key, d.o.Clock(), d.o.NicknameQuarantine); err != nil {
		return fmt.Errorf("set nickname %q: %w", key, err)
	}
	return nil
}

// AddAlias creates or replaces an alias, list or function address.
func (d *Directory) AddAlias(ctx context.Context, address string, kind EntryKind, targets []string) error {
	switch kind {
	case KindAlias, KindList, KindFunction:
	default:
		return fmt.Errorf("%w: alias kind %q", ErrInvalid, kind)
	}
	a, err := d.localAddress(ctx, address, addr.Group)
	if err != nil {
		return err
	}
	if len(targets) == 0 {
		return fmt.Errorf("%w: %s has no targets", ErrInvalid, a.Key())
	}
	out := make([]string, 0, len(targets))
	for _, t := range targets {
		ta, err := addr.Parse(strings.TrimSpace(t))
		if err != nil || ta.Domain == "" {
			return fmt.Errorf("%w: target %q", ErrInvalid, t)
		}
		out = append(out, ta.Key())
	}
	return d.o.Store.DirPutAlias(ctx, Alias{Address: a.Key(), Kind: kind, Targets: out})
}

// RemoveAlias deletes an alias, list or function address.
func (d *Directory) RemoveAlias(ctx context.Context, address string) error {
	a, err := addr.Parse(address)
	if err != nil {
		return fmt.Errorf("%w: %q", ErrInvalid, address)
	}
	return d.o.Store.DirDeleteAlias(ctx, a.Key())
}

// ImportResult counts what ImportCSV did.
type ImportResult struct {
	Mailboxes int
	Nicknames int
}

// CSVColumns are the columns ImportCSV understands; the first row is a
// header naming some of them in any order, and "address" is required.
// quota takes bytes or a size such as 2GB, 500MiB; booleans are
// true/false/yes/no/1/0. Give password_hash (argon2id PHC) for thousands of
// users: plaintext password hashing costs tens of milliseconds per row.
var CSVColumns = []string{"address", "nickname", "name", "quota", "forward", "keep_copy", "external_forward", "password", "password_hash", "locked"}

// ImportCSV creates or updates mailboxes from CSV. Every row is validated
// first; on any error nothing is written and the error lists each bad row
// by line number (errors.Join). Mailboxes are written in one transaction.
func (d *Directory) ImportCSV(ctx context.Context, r io.Reader) (ImportResult, error) {
	cr := csv.NewReader(r)
	cr.TrimLeadingSpace = true
	cr.Comment = '#'
	head, err := cr.Read()
	if err != nil {
		return ImportResult{}, fmt.Errorf("%w: csv header: %v", ErrInvalid, err)
	}
	col := map[string]int{}
	known := map[string]bool{}
	for _, c := range CSVColumns {
		known[c] = true
	}
	for i, h := range head {
		h = strings.ToLower(strings.TrimSpace(h))
		if !known[h] {
			return ImportResult{}, fmt.Errorf("%w: csv header: unknown column %q (known: %s)", ErrInvalid, h, strings.Join(CSVColumns, ", "))
		}
		col[h] = i
	}
	if _, ok := col["address"]; !ok {
		return ImportResult{}, fmt.Errorf("%w: csv header: column \"address\" is required", ErrInvalid)
	}
	var (
		mbs   []Mailbox
		nicks []string
		errs  []error
		seen  = map[string]int{}
	)
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			errs = append(errs, fmt.Errorf("line %d: %v", line, err))
			continue
		}
		get := func(name string) string {
			if i, ok := col[name]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		n := NewMailbox{Address: get("address"), Nickname: get("nickname"), DisplayName: get("name"),
			ForwardTo: get("forward"), Password: get("password"), PasswordHash: get("password_hash")}
		var bad []string
		if q := get("quota"); q != "" {
			v, err := ParseSize(q)
			if err != nil {
				bad = append(bad, err.Error())
			}
			n.QuotaBytes = v
		}
		for _, b := range []struct {
			name string
			dst  *bool
		}{{"keep_copy", &n.KeepCopy}, {"external_forward", &n.ExternalForwardAllowed}, {"locked", &n.Locked}} {
			if v := get(b.name); v != "" {
				x, err := parseBool(v)
				if err != nil {
					bad = append(bad, fmt.Sprintf("%s: %v", b.name, err))
				}
				*b.dst = x
			}
		}
		m, err := d.toMailbox(ctx, n)
		if err != nil {
			bad = append(bad, err.Error())
		}
		if prev, dup := seen[m.Address]; dup && m.Address != "" {
			bad = append(bad, fmt.Sprintf("address %s repeats line %d", m.Address, prev))
		}
		if len(bad) > 0 {
			errs = append(errs, fmt.Errorf("line %d: %s", line, strings.Join(bad, "; ")))
			continue
		}
		seen[m.Address] = line
		mbs = append(mbs, m)
		nicks = append(nicks, n.Nickname)
	}
	if len(errs) > 0 {
		return ImportResult{}, fmt.Errorf("%w: csv import: %w", ErrInvalid, errors.Join(errs...))
	}
	ids, err := d.o.Store.DirUpsertMailboxes(ctx, mbs, d.o.Clock())
	if err != nil {
		return ImportResult{}, fmt.Errorf("csv import: %w", err)
	}
	res := ImportResult{Mailboxes: len(ids)}
	for i, nick := range nicks {
		if nick == "" {
			continue
		}
		if err := d.setNickname(ctx, ids[i], nick); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", mbs[i].Address, err))
			continue
		}
		res.Nicknames++
	}
	return res, errors.Join(errs...)
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "1", "true", "yes", "y":
		return true, nil
	case "0", "false", "no", "n", "":
		return false, nil
	}
	return false, fmt.Errorf("not a boolean: %q", s)
}

// ParseSize parses a byte count: 1234, 10KB, 500MiB, 2GB, 5G (K/M/G/T are
// powers of 1024, as quotas are usually meant).
func ParseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range []struct {
		suf string
		m   int64
	}{{"TIB", 1 << 40}, {"GIB", 1 << 30}, {"MIB", 1 << 20}, {"KIB", 1 << 10}, {"TB", 1 << 40}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(t, u.suf) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suf)), u.m
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 || v*float64(mult) > 1<<62 {
		return 0, fmt.Errorf("not a size: %q", s)
	}
	return int64(v * float64(mult)), nil
}
