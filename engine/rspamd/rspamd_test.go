package rspamd_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/uni-mail/postvakt/engine/rspamd"
)

func TestRspamd(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.URL.Path != "/checkv2" || r.Header.Get("IP") != "192.0.2.1" || r.Header.Values("Rcpt")[1] != "b@uni.example" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if strings.Contains(string(b), "GTUBE") {
			io.WriteString(w, `{"score": 15.5, "required_score": 15, "action": "reject", "symbols": {"GTUBE": {"score": 0}, "R_SPF_FAIL": {"score": 1}}}`)
			return
		}
		io.WriteString(w, `{"score": 0.2, "required_score": 15, "action": "no action", "symbols": {}}`)
	}))
	defer srv.Close()
	c := &rspamd.Client{BaseURL: srv.URL}
	env := rspamd.Envelope{IP: "192.0.2.1", HELO: "h", From: "s@ext.example", Rcpts: []string{"a@uni.example", "b@uni.example"}}
	r, err := c.Check(context.Background(), env, []byte("Subject: x\r\n\r\nGTUBE\r\n"))
	if err != nil || r.Score != 15.5 || r.Action != "reject" || !slices.Equal(r.Symbols, []string{"GTUBE", "R_SPF_FAIL"}) {
		t.Fatalf("%+v %v", r, err)
	}
	if _, err := c.Check(context.Background(), rspamd.Envelope{}, []byte("x")); err == nil {
		t.Fatal("HTTP 400 not an error")
	}
}
