package oncallapi

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/uni-mail/postvakt/internal/server"
	"github.com/uni-mail/postvakt/oncall/incident"
	"github.com/uni-mail/postvakt/oncall/page"
	"github.com/uni-mail/postvakt/oncall/rota"
	"github.com/uni-mail/postvakt/oncall/team"
)

// Slack's interactivity endpoint: the buttons of pages and swap requests.
// Slack's request signature is the credential
// (https://api.slack.com/authentication/verifying-requests-from-slack).
func (a *API) registerSlack() {
	a.srv.HandlePublic("POST /api/v1/slack/interactivity", a.slackInteractivity)
}

// SlackResponse answers a block action: an ephemeral line of what
// happened, shown to the user who pressed the button.
type SlackResponse struct {
	ReplaceOriginal bool   `json:"replace_original"`
	ResponseType    string `json:"response_type"`
	Text            string `json:"text"`
}

// slackInteractivity handles Slack's block_actions: the Acknowledge and
// Resolve buttons of pages and the Accept and Decline buttons of swap
// requests. The request must carry a valid v0 signature over the raw body
// with a timestamp within five minutes; otherwise it answers 401 and
// changes nothing.
func (a *API) slackInteractivity(w http.ResponseWriter, r *http.Request) error {
	unauthorized := &server.Error{Status: http.StatusUnauthorized, Code: server.CodeUnauthorized, Message: "invalid Slack signature"}
	if a.o.SlackSecret == "" {
		return unauthorized
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 256<<10))
	if err != nil {
		return server.BadRequest("cannot read body")
	}
	ts, err := strconv.ParseInt(r.Header.Get("X-Slack-Request-Timestamp"), 10, 64)
	if err != nil || a.o.Now().Sub(time.Unix(ts, 0)).Abs() > 5*time.Minute {
		return unauthorized
	}
	sv, err := slack.NewSecretsVerifier(r.Header, a.o.SlackSecret)
	if err != nil {
		return unauthorized
	}
	if _, err := sv.Write(body); err != nil {
		return unauthorized
	}
	if err := sv.Ensure(); err != nil {
		return unauthorized
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return server.BadRequest("bad form")
	}
	var cb slack.InteractionCallback
	if err := cb.UnmarshalJSON([]byte(form.Get("payload"))); err != nil {
		return server.BadRequest("bad payload")
	}
	if cb.Type != slack.InteractionTypeBlockActions {
		w.WriteHeader(http.StatusOK)
		return nil
	}
	who := "slack:" + cb.User.ID
	if err := a.o.Team.Refresh(r.Context()); err != nil {
		return err
	}
	member, known := a.o.Team.MemberBySlackID(cb.User.ID)
	if known {
		who = "slack:" + member.ID
	}
	var replies []string
	for _, act := range cb.ActionCallback.BlockActions {
		id, err := strconv.ParseInt(act.Value, 10, 64)
		if err != nil {
			continue
		}
		switch act.ActionID {
		case page.ActionAck, page.ActionResolve:
			var (
				inc     incident.Incident
				changed bool
			)
			if act.ActionID == page.ActionAck {
				inc, changed, err = a.o.Incidents.Ack(r.Context(), id, who)
			} else {
				inc, changed, err = a.o.Incidents.Resolve(r.Context(), id, who)
			}
			if err != nil {
				a.o.Logger.Warn("slack action", "action", act.ActionID, "incident", id, "err", err)
				continue
			}
			if changed {
				replies = append(replies, fmt.Sprintf("Incident #%d %s by %s.", inc.ID, inc.Status, who))
			} else {
				replies = append(replies, fmt.Sprintf("Incident #%d was already %s.", inc.ID, inc.Status))
			}
		case page.ActionSwapAccept, page.ActionSwapDecline:
			if !known {
				replies = append(replies, "Your Slack user is not a member of the rota.")
				continue
			}
			to := rota.SwapAccepted
			if act.ActionID == page.ActionSwapDecline {
				to = rota.SwapDeclined
			}
			s, err := a.o.Team.DecideSwap(r.Context(), team.SwapDecision{ID: id, To: to, Actor: member.ID, By: who, Now: a.o.Now()})
			if err != nil {
				replies = append(replies, "Swap: "+err.Error())
				continue
			}
			replies = append(replies, fmt.Sprintf("Swap %s is %s.", s.ID, s.State))
		}
	}
	if len(replies) > 0 && cb.ResponseURL != "" {
		a.updateSlackMessage(cb, strings.Join(replies, "\n"))
	}
	server.WriteJSON(w, http.StatusOK, SlackResponse{ResponseType: "ephemeral", ReplaceOriginal: false, Text: page.EscapeSlack(strings.Join(replies, "\n"))})
	return nil
}

// updateSlackMessage replaces the message whose button was pressed with
// the same blocks without the buttons and a line saying what happened, so
// nobody presses them again. Slack shows nothing of the HTTP answer to a
// block action: the message is changed through the interaction's
// response_url, after the answer (Slack wants one within 3 seconds).
func (a *API) updateSlackMessage(cb slack.InteractionCallback, result string) {
	if !a.slackResponseURL(cb.ResponseURL) {
		a.o.Logger.Warn("slack: response_url not on Slack; message not updated", "host", hostOf(cb.ResponseURL))
		return
	}
	var blocks []slack.Block
	for _, b := range cb.Message.Blocks.BlockSet {
		if b.BlockType() != slack.MBTAction {
			blocks = append(blocks, b)
		}
	}
	blocks = append(blocks, slack.NewContextBlock("postvakt_result", slack.NewTextBlockObject(slack.MarkdownType, page.EscapeSlack(result), false, false)))
	text := strings.TrimSpace(cb.Message.Text + "\n" + page.EscapeSlack(result))
	msg := &slack.WebhookMessage{ReplaceOriginal: true, Text: text, Blocks: &slack.Blocks{BlockSet: blocks}}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := slack.PostWebhookContext(ctx, cb.ResponseURL, msg); err != nil {
			a.o.Logger.Warn("slack: update message", "err", err)
		}
	}()
}

// slackResponseURL reports whether u may receive the message update:
// Slack's hooks host, or the configured API URL's host (tests).
func (a *API) slackResponseURL(u string) bool {
	p, err := url.Parse(u)
	if err != nil {
		return false
	}
	if p.Scheme == "https" && p.Host == "hooks.slack.com" {
		return true
	}
	api, err := url.Parse(a.o.SlackAPIURL)
	return a.o.SlackAPIURL != "" && err == nil && api.Scheme == p.Scheme && api.Host == p.Host
}

func hostOf(u string) string {
	if p, err := url.Parse(u); err == nil {
		return p.Host
	}
	return ""
}
