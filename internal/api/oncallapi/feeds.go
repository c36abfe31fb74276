package oncallapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/server"
	"github.com/uni-mail/postvakt/oncall/rota"
)

// The iCalendar feeds (RFC 5545) of a rota and of each member in it,
// behind secret URLs: an administrator sees them all, a member their own.
func (a *API) registerFeeds() {
	a.srv.Handle("GET /api/v1/oncall/feeds", auth.RoleAdmin, a.feeds)
	a.srv.Handle("GET /api/v1/oncall/feeds/mine", auth.RoleViewer, a.ownFeeds)
	a.srv.HandlePublic("GET /api/v1/oncall/feed/{rota}", a.feed)
	a.srv.HandlePublic("GET /api/v1/oncall/feed/{rota}/{member}", a.feed)
}

// FeedSecret is the secret of a feed URL: HMAC-SHA256 of the rota and
// member (empty for the whole rota) under the link key, 32 hex digits.
func FeedSecret(key, rotaName, member string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte("feed\x00" + rotaName + "\x00" + member))
	return hex.EncodeToString(m.Sum(nil))[:32]
}

// FeedURL is a feed's secret URL.
func FeedURL(base, key, rotaName, member string) string {
	p := base + "/api/v1/oncall/feed/" + url.PathEscape(rotaName)
	if member != "" {
		p += "/" + url.PathEscape(member)
	}
	return p + "?key=" + FeedSecret(key, rotaName, member)
}

// rotaFeeds are one rota's member feed URLs, in rota order.
type rotaFeeds struct {
	rota    string
	members []memberFeed
}

type memberFeed struct{ member, url string }

// memberFeeds walks the rotas in configuration order and returns each
// with the feed URLs of those of its members that keep accepts.
func (a *API) memberFeeds(keep func(member string) bool) []rotaFeeds {
	var out []rotaFeeds
	now := a.o.Now()
	for _, name := range a.o.Team.Rotas() {
		rt, _ := a.o.Team.Rota(name)
		rf := rotaFeeds{rota: name}
		// the members of the versions in force now and later
		var members []string
		vs := rt.Versions()
		for i, v := range vs {
			if i == len(vs)-1 || vs[i+1].From.After(now) {
				for _, m := range v.Spec.Members {
					if !slices.Contains(members, m) {
						members = append(members, m)
					}
				}
			}
		}
		for _, m := range members {
			if keep(m) {
				rf.members = append(rf.members, memberFeed{m, FeedURL(a.o.BaseURL, a.o.LinkKey, name, m)})
			}
		}
		out = append(out, rf)
	}
	return out
}

// RotaFeeds are the feed URLs of one rota: the whole rota's and each
// member's, by member ID.
type RotaFeeds struct {
	Members map[string]string `json:"members"`
	Rota    string            `json:"rota"`
}

// FeedsResponse answers GET /api/v1/oncall/feeds (admin): every rota's
// feed URLs, by rota name.
type FeedsResponse struct {
	Feeds map[string]RotaFeeds `json:"feeds"`
}

// feeds (admin) answers every rota's feed URL and each of its members'.
func (a *API) feeds(w http.ResponseWriter, r *http.Request) error {
	if a.o.LinkKey == "" {
		return server.NotFound("feeds need oncall.links.key")
	}
	if err := a.o.Team.Refresh(r.Context()); err != nil {
		return err
	}
	out := map[string]RotaFeeds{}
	for _, rf := range a.memberFeeds(func(string) bool { return true }) {
		members := map[string]string{}
		for _, mf := range rf.members {
			members[mf.member] = mf.url
		}
		out[rf.rota] = RotaFeeds{Rota: FeedURL(a.o.BaseURL, a.o.LinkKey, rf.rota, ""), Members: members}
	}
	server.WriteJSON(w, http.StatusOK, FeedsResponse{Feeds: out})
	return nil
}

// OwnFeedsResponse answers GET /api/v1/oncall/feeds/mine: the caller's own
// feed URL in each rota whose members include the caller, by rota name.
type OwnFeedsResponse struct {
	Feeds map[string]string `json:"feeds"`
}

// ownFeeds (viewer and above) answers the feed URL of the caller's own
// turns in each rota whose members include the caller (the member whose
// ID or e-mail address is the principal's name, team.MemberByLogin: a
// web user's name; an API token names no member). A feed URL is a
// bearer credential that outlives the session and is revoked only by
// rotating oncall.links.key, so a user gets only the feed of their own
// turns; the whole-rota feeds and other members' feeds stay with feeds
// (admin). The map is empty when the links key is not set.
func (a *API) ownFeeds(w http.ResponseWriter, r *http.Request) error {
	if err := a.o.Team.Refresh(r.Context()); err != nil {
		return err
	}
	out := map[string]string{}
	p, _ := auth.FromContext(r.Context())
	me, isMember := a.o.Team.MemberByLogin(p.Name)
	if a.o.LinkKey != "" && isMember && p.TokenID == 0 {
		for _, rf := range a.memberFeeds(func(m string) bool { return m == me.ID }) {
			for _, mf := range rf.members {
				out[rf.rota] = mf.url
			}
		}
	}
	server.WriteJSON(w, http.StatusOK, OwnFeedsResponse{Feeds: out})
	return nil
}

// feed serves the iCalendar feed of a rota (or one member in it): the
// past 4 weeks and the next 26 (RFC 5545, text/calendar), in whole
// shifts, so that an event's UID and DTSTART (from the shift's real
// start) are the same in every fetch.
func (a *API) feed(w http.ResponseWriter, r *http.Request) error {
	name, member := r.PathValue("rota"), r.PathValue("member")
	want := FeedSecret(a.o.LinkKey, name, member)
	if a.o.LinkKey == "" || subtle.ConstantTimeCompare([]byte(r.URL.Query().Get("key")), []byte(want)) != 1 {
		return server.NotFound("no such feed")
	}
	if err := a.o.Team.Refresh(r.Context()); err != nil {
		return err
	}
	rt, err := a.o.Team.Rota(name)
	if err != nil {
		return server.NotFound("no such feed")
	}
	if _, ok := a.o.Team.Member(member); member != "" && !ok {
		return server.NotFound("no such feed")
	}
	now := a.o.Now()
	from, to := now.AddDate(0, 0, -28), now.AddDate(0, 0, 7*26)
	shifts, err := a.o.Team.WholeSchedule(r.Context(), name, from, to)
	if err != nil {
		return err
	}
	body, err := rota.ICS(rt.Spec(), a.o.Team.Members(), shifts, rota.ICSOptions{Member: member, Stamp: now.Truncate(time.Second), Location: a.o.Location})
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/calendar; charset=utf-8")
	w.Header().Set("Cache-Control", "private, max-age=300")
	w.Header().Set("Content-Disposition", `inline; filename="`+name+`.ics"`)
	_, _ = w.Write(body)
	return nil
}
