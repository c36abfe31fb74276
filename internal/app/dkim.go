package app

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/uni-mail/postvakt/engine/mailauth"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/oncall/notice"
	"github.com/uni-mail/postvakt/reports"
)

// dkimSigner is the signer of smtp.dkim.keys for postvakt's own mail
// (notices, acknowledgements, unit notices, reports); nil without keys.
func dkimSigner(cfg *config.Config) (*mailauth.Signer, error) {
	if len(cfg.SMTP.DKIM.Keys) == 0 {
		return nil, nil
	}
	var keys []mailauth.Key
	for i, k := range cfg.SMTP.DKIM.Keys {
		sg, err := mailauth.LoadKey(k.PrivateKeyFile)
		if err != nil {
			return nil, fmt.Errorf("smtp.dkim.keys[%d].private_key_file %s: cannot be used", i, k.PrivateKeyFile)
		}
		keys = append(keys, mailauth.Key{Domain: k.Domain, Selector: k.Selector, Signer: sg})
	}
	return mailauth.NewSigner(keys), nil
}

// signing signs each message with sg before send hands it on; a message
// that cannot be signed goes unsigned (logged). sg nil: send itself.
func signing(sg *mailauth.Signer, logger *slog.Logger, send func(ctx context.Context, from string, to []string, msg []byte) error) func(ctx context.Context, from string, to []string, msg []byte) error {
	if sg == nil {
		return send
	}
	return func(ctx context.Context, from string, to []string, msg []byte) error {
		signed, err := sg.SignMessage(msg)
		if err != nil {
			logger.Warn("dkim signing failed; sending unsigned", "err", err)
			signed = msg
		}
		return send(ctx, from, to, signed)
	}
}

// signedNotices is s signing with sg.
func signedNotices(s notice.Sender, sg *mailauth.Signer, logger *slog.Logger) notice.Sender {
	if sg == nil || s == nil {
		return s
	}
	return notice.SenderFunc(signing(sg, logger, s.Send))
}

// signedReports is s signing with sg.
func signedReports(s reports.Sender, sg *mailauth.Signer, logger *slog.Logger) reports.Sender {
	if sg == nil || s == nil {
		return s
	}
	return reports.SenderFunc(signing(sg, logger, s.Send))
}
