package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/engine/addr"
	"github.com/uni-mail/postvakt/engine/mailauth"
)

// dkimCmd manages the DKIM signing keys of smtp.dkim.keys.
func dkimCmd() *command {
	var domain, selector, alg, dir string
	return &command{
		name:    "dkim",
		summary: "DKIM signing keys: make a new key and print its DNS record",
		subs: []*command{{
			name: "rotate", summary: "write a new signing key for a domain and print the TXT record to publish",
			help: `Writes a new private key (PEM, mode 0600) to DIR/DOMAIN.SELECTOR.pem — never over an
existing file — and prints the DNS TXT record to publish at SELECTOR._domainkey.DOMAIN on
standard output; the key itself is never printed or logged. Rotation (RFC 6376 §3.6.1,
M3AAWG's advice): publish the record, wait for its TTL, then point the domain's entry of
smtp.dkim.keys at the new selector and file and reload (SIGHUP); keep the old record
published for a week so that mail signed with the old key still verifies, then remove it.
The default selector is "s" and today's date in the service time zone (s20261207); the
default directory is that of the domain's current key file, else DATA_DIR/dkim.`,
			flags: func(fs *flag.FlagSet, _ *globalOpts) {
				fs.StringVar(&domain, "domain", "", "the signing `domain` (required)")
				fs.StringVar(&selector, "selector", "", "the new `selector` (default s<YYYYMMDD>)")
				fs.StringVar(&alg, "algorithm", mailauth.AlgRSA, "key `algorithm`: rsa (RSA-2048) or ed25519")
				fs.StringVar(&dir, "dir", "", "`directory` to write the key file to")
			},
			run: func(_ context.Context, e *cmdEnv, args []string) error {
				if len(args) > 0 || domain == "" {
					return usagef("dkim rotate takes --domain and no arguments")
				}
				if _, err := addr.ParseDomain(domain); err != nil {
					return usagef("--domain %q is not a domain", domain)
				}
				if alg != mailauth.AlgRSA && alg != mailauth.AlgEd25519 {
					return usagef("--algorithm %q: want rsa or ed25519", alg)
				}
				cfg, err := e.loadConfig()
				if err != nil {
					return err
				}
				d := strings.ToLower(strings.TrimSuffix(domain, "."))
				if selector == "" {
					selector = "s" + time.Now().In(e.loc).Format("20060102")
				}
				if !mailauth.ValidSelector(selector) {
					return usagef("--selector %q: labels of letters, digits and '-' (RFC 6376 §3.1)", selector)
				}
				if dir == "" {
					dir = filepath.Join(cfg.DataDir, "dkim")
					for _, k := range cfg.SMTP.DKIM.Keys {
						if strings.EqualFold(strings.TrimSuffix(k.Domain, "."), d) && k.PrivateKeyFile != "" {
							dir = filepath.Dir(k.PrivateKeyFile)
						}
					}
				}
				if err := os.MkdirAll(dir, 0o700); err != nil {
					return err
				}
				key, pemBytes, err := mailauth.GenerateKey(alg)
				if err != nil {
					return err
				}
				file := filepath.Join(dir, d+"."+selector+".pem")
				f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
				if errors.Is(err, fs.ErrExist) {
					return fmt.Errorf("%s exists already: choose another --selector", file)
				}
				if err != nil {
					return err
				}
				if _, err := f.Write(pemBytes); err != nil {
					f.Close()
					return err
				}
				if err := f.Close(); err != nil {
					return err
				}
				line, err := mailauth.ZoneLine(d, selector, key)
				if err != nil {
					return err
				}
				fmt.Fprintln(e.stdout, line)
				fmt.Fprintf(e.stderr, "new %s key written to %s\npublish the record above, wait for its TTL, then set in smtp.dkim.keys:\n"+
					"  - {domain: %s, selector: %s, private_key_file: %s}\nand reload the service (SIGHUP); keep the old record published for a week.\n",
					alg, file, d, selector, file)
				return nil
			},
		}},
	}
}
