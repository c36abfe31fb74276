package app

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/uni-mail/postvakt/engine"
	"github.com/uni-mail/postvakt/engine/mailauth"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/oncall/notice"
	"github.com/uni-mail/postvakt/reports"
)

// TestOwnMailIsDKIMSigned: notices and reports leave signed with the key
// of smtp.dkim.keys for their From: domain, and unchanged for a domain
// without a key.
func TestOwnMailIsDKIMSigned(t *testing.T) {
	t.Parallel()
	key, pemBytes, err := mailauth.GenerateKey(mailauth.AlgEd25519)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "k.pem")
	if err := os.WriteFile(file, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{}
	cfg.SMTP.DKIM.Keys = []engine.DKIMKeyConfig{{Domain: "uni.example", Selector: "own", PrivateKeyFile: file}}
	sg, err := dkimSigner(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec, _ := mailauth.TXTRecord(key)
	var got [][]byte
	capture := func(_ context.Context, _ string, _ []string, msg []byte) error { got = append(got, msg); return nil }
	log := slog.New(slog.DiscardHandler)
	msg := func(from string) []byte {
		return []byte("From: Postvakt <" + from + ">\r\nTo: itss-announce@uni.example\r\nSubject: Outage\r\n\r\nMail is down.\r\n")
	}
	ctx := context.Background()
	if err := signedNotices(notice.SenderFunc(capture), sg, log).Send(ctx, "postvakt@uni.example", []string{"a@uni.example"}, msg("postvakt@uni.example")); err != nil {
		t.Fatal(err)
	}
	if err := signedReports(reports.SenderFunc(capture), sg, log).Send(ctx, "reports@uni.example", []string{"a@uni.example"}, msg("reports@uni.example")); err != nil {
		t.Fatal(err)
	}
	if err := signedReports(reports.SenderFunc(capture), sg, log).Send(ctx, "x@other.example", []string{"a@uni.example"}, msg("x@other.example")); err != nil {
		t.Fatal(err)
	}
	lookup := func(name string) ([]string, error) {
		if name != "own._domainkey.uni.example" {
			t.Errorf("looked up %s", name)
		}
		return []string{rec}, nil
	}
	for _, m := range got[:2] {
		vs, err := dkim.VerifyWithOptions(bytes.NewReader(m), &dkim.VerifyOptions{LookupTXT: lookup})
		if err != nil || len(vs) != 1 || vs[0].Err != nil || vs[0].Domain != "uni.example" {
			t.Fatalf("not verified (%v %+v):\n%s", err, vs, m)
		}
	}
	if !bytes.Equal(got[2], msg("x@other.example")) {
		t.Fatalf("a domain without a key was changed:\n%s", got[2])
	}
	if s, _ := dkimSigner(&config.Config{}); s != nil {
		t.Fatal("a signer without keys")
	}
}
