package config

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// SecretKeys are the keys that hold secrets. Each may instead be given as
// <key>_file: the path of a file holding the value (its trailing newline
// dropped), as Prometheus and Alertmanager do. A relative path is a systemd
// credential: the file of that name in $CREDENTIALS_DIRECTORY. "[]" stands
// for every item of a list (oncall.channels[].url).
// (LoadCredential=, systemd.exec(5) "Credentials"). docs/configuration.md,
// Secrets in files.
var SecretKeys = []string{
	"database.url",
	"metrics.push.url",
	"notices.relay.password",
	"oncall.alertmanager.token",
	"oncall.channels[].auth_header",
	"oncall.channels[].url",
	"oncall.email.password",
	"oncall.links.key",
	"oncall.slack.bot_token",
	"oncall.slack.signing_secret",
	"reports.mail.password",
}

// maxSecretFile bounds a secret file: a secret is short, and a path typed
// by mistake (a log, a device) must not be read whole.
const maxSecretFile = 64 << 10

type secretFile struct {
	key, path string
	line      int
}

// takeSecretFiles finds the <key>_file entries of secret keys in the parsed
// document and renames them in data, in place and with the same length
// (`url_file` becomes `url     `), so that the strict decoder accepts them
// and every line and column stays where it was; the decoded value (the path)
// is replaced by the file's contents afterwards (readSecretFiles).
func takeSecretFiles(root *yaml.Node, data []byte, file string) ([]secretFile, error) {
	secret := map[string]bool{}
	for _, k := range SecretKeys {
		secret[k] = true
	}
	lineStart := []int{0}
	for i, b := range data {
		if b == '\n' {
			lineStart = append(lineStart, i+1)
		}
	}
	var out []secretFile
	var errs []string
	var walk func(n *yaml.Node, prefix string)
	walk = func(n *yaml.Node, prefix string) {
		if n.Kind == yaml.SequenceNode {
			for i, c := range n.Content {
				walk(c, fmt.Sprintf("%s[%d]", prefix, i))
			}
			return
		}
		if n.Kind != yaml.MappingNode {
			return
		}
		present := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			present[n.Content[i].Value] = true
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			path := k.Value
			if prefix != "" {
				path = prefix + "." + k.Value
			}
			base, ok := strings.CutSuffix(k.Value, "_file")
			key := strings.TrimSuffix(path, "_file")
			if !ok || !secret[listIndex.ReplaceAllString(key, "[]")] {
				walk(v, path)
				continue
			}
			if present[base] {
				errs = append(errs, fmt.Sprintf("%s:%d: %s and %s are both set: keep one", file, k.Line, key, path))
				continue
			}
			if v.Kind != yaml.ScalarNode || v.Value == "" {
				errs = append(errs, fmt.Sprintf("%s:%d: %s: want the path of a file", file, v.Line, path))
				continue
			}
			off := lineStart[k.Line-1] + k.Column - 1
			if k.Style != 0 || !bytes.HasPrefix(data[off:], []byte(k.Value)) {
				errs = append(errs, fmt.Sprintf("%s:%d: %s: write the key without quotes", file, k.Line, path))
				continue
			}
			copy(data[off+len(base):], "     ") // "_file" → five spaces
			out = append(out, secretFile{key: key, path: v.Value, line: v.Line})
		}
	}
	if len(root.Content) > 0 {
		walk(root.Content[0], "")
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w:\n  %s", ErrDecode, strings.Join(errs, "\n  "))
	}
	return out, nil
}

// readSecretFiles sets each secret key to the contents of its file.
func readSecretFiles(cfg *Config, secrets []secretFile, file string, env []string) error {
	credDir := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "CREDENTIALS_DIRECTORY="); ok {
			credDir = v
		}
	}
	var errs []string
	for _, s := range secrets {
		p := s.path
		if !filepath.IsAbs(p) {
			if credDir == "" {
				errs = append(errs, fmt.Sprintf("%s:%d: %s_file: %q is relative, which names a systemd credential, but $CREDENTIALS_DIRECTORY is not set (LoadCredential= in the unit); give an absolute path otherwise", file, s.line, s.key, p))
				continue
			}
			if strings.Contains(p, "/") {
				errs = append(errs, fmt.Sprintf("%s:%d: %s_file: a credential name has no '/': %q", file, s.line, s.key, p))
				continue
			}
			p = filepath.Join(credDir, p)
		}
		val, err := readSecret(p)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s:%d: %s_file: %v", file, s.line, s.key, err))
			continue
		}
		if err := setKey(reflect.ValueOf(cfg).Elem(), strings.Split(s.key, "."), val); err != nil {
			errs = append(errs, fmt.Sprintf("%s:%d: %s_file: %v", file, s.line, s.key, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w:\n  %s", ErrRead, strings.Join(errs, "\n  "))
	}
	return nil
}

func readSecret(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil {
		return "", err
	} else if !st.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", p)
	}
	buf := make([]byte, maxSecretFile+1)
	n, err := f.Read(buf)
	if err != nil && n == 0 {
		return "", fmt.Errorf("read %s: %w", p, err)
	}
	if n > maxSecretFile {
		return "", fmt.Errorf("%s is larger than %d bytes: not a secret", p, maxSecretFile)
	}
	v := strings.TrimRight(string(buf[:n]), "\r\n")
	if v == "" {
		return "", fmt.Errorf("%s is empty", p)
	}
	return v, nil
}

// listIndex is a list index in a dotted key path ("channels[2]").
var listIndex = regexp.MustCompile(`\[\d+\]`)

// setKey sets the string field at the dotted yaml path; a name may end in
// a list index ("channels[2]").
func setKey(v reflect.Value, path []string, val string) error {
	for _, name := range path {
		index := -1
		if i := strings.IndexByte(name, '['); i > 0 && strings.HasSuffix(name, "]") {
			n, err := strconv.Atoi(name[i+1 : len(name)-1])
			if err != nil {
				return fmt.Errorf("no key %s", name)
			}
			name, index = name[:i], n
		}
		if v.Kind() == reflect.Pointer {
			if v.IsNil() {
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		if v.Kind() != reflect.Struct {
			return fmt.Errorf("no key %s", name)
		}
		t, found := v.Type(), false
		for i := 0; i < t.NumField(); i++ {
			if strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0] == name {
				v, found = v.Field(i), true
				break
			}
		}
		if !found {
			return fmt.Errorf("no key %s", name)
		}
		if index >= 0 {
			if v.Kind() != reflect.Slice || index >= v.Len() {
				return fmt.Errorf("no item %s[%d]", name, index)
			}
			v = v.Index(index)
		}
	}
	if v.Kind() != reflect.String {
		return fmt.Errorf("not a text key")
	}
	v.SetString(val)
	return nil
}

func reflectValue(c *Config) reflect.Value { return reflect.ValueOf(c).Elem() }
