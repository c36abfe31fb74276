package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/uni-mail/postvakt/config/validate"
)

// ErrDecode is wrapped by errors in the syntax or shape of the file.
var ErrDecode = errors.New("cannot decode configuration")

// ErrRead is wrapped by the error of a configuration file that cannot be
// read (missing, not readable).
var ErrRead = errors.New("cannot read configuration")

// Load reads the file at path (no file when path is empty), applies the
// environment overrides from env (os.Environ form; nil means the process
// environment) and validates the result. Errors name the file and line.
func Load(path string, env []string) (*Config, error) {
	cfg := Default()
	var lines lineIndex
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrRead, err)
		}
		if env == nil {
			env = os.Environ()
		}
		var secrets []secretFile
		lines, secrets, err = decode(cfg, path, data)
		if err != nil {
			return nil, err
		}
		if err := readSecretFiles(cfg, secrets, path, env); err != nil {
			return nil, err
		}
	}
	if env == nil {
		env = os.Environ()
	}
	if err := applyEnv(cfg, env); err != nil {
		return nil, err
	}
	cfg.file, cfg.lines = path, lines
	cfg.ApplyServiceZone()
	if err := cfg.Validate(); err != nil {
		return cfg, annotate(err, path, lines)
	}
	return cfg, nil
}

// lineIndex maps a dotted key path to the line it stands on in the file.
type lineIndex map[string]int

var yamlLineRe = regexp.MustCompile(`line (\d+): (.*)`)

// Decode decodes YAML data strictly into cfg: unknown keys, wrong types and
// several documents are errors that name file and line.
// A secret given as <key>_file (SecretKeys) is decoded as the file's path.
func Decode(cfg *Config, file string, data []byte) (lineIndex, error) {
	lines, _, err := decode(cfg, file, data)
	return lines, err
}

func decode(cfg *Config, file string, data []byte) (lineIndex, []secretFile, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %s", ErrDecode, file, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	lines := lineIndex{}
	if len(root.Content) > 0 {
		indexLines(root.Content[0], "", lines)
	}
	data = bytes.Clone(data)
	secrets, err := takeSecretFiles(&root, data, file)
	if err != nil {
		return nil, nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			var msgs []string
			for _, m := range te.Errors {
				if sm := yamlLineRe.FindStringSubmatch(m); sm != nil {
					msg := sm[2]
					if strings.HasPrefix(msg, "field ") && strings.Contains(msg, " not found in type ") {
						msg = "unknown key " + strconv.Quote(strings.TrimSuffix(strings.SplitN(strings.TrimPrefix(msg, "field "), " not found", 2)[0], " "))
					}
					msgs = append(msgs, fmt.Sprintf("%s:%s: %s", file, sm[1], msg))
				} else {
					msgs = append(msgs, file+": "+m)
				}
			}
			return nil, nil, fmt.Errorf("%w:\n  %s", ErrDecode, strings.Join(msgs, "\n  "))
		}
		return nil, nil, fmt.Errorf("%w: %s: %s", ErrDecode, file, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, nil, fmt.Errorf("%w: %s:%d: only one YAML document is allowed", ErrDecode, file, extra.Line)
	}
	return lines, secrets, nil
}

func indexLines(n *yaml.Node, prefix string, lines lineIndex) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			path := k.Value
			if prefix != "" {
				path = prefix + "." + k.Value
			}
			lines[path] = v.Line
			indexLines(v, path, lines)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			path := fmt.Sprintf("%s[%d]", prefix, i)
			lines[path] = c.Line
			indexLines(c, path, lines)
		}
	}
}

// annotate fills File and Line into the validation errors inside err.
func annotate(err error, file string, lines lineIndex) error {
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else {
		list = []error{err}
	}
	for _, e := range list {
		var fe *validate.Error
		if errors.As(e, &fe) {
			fe.File = file
			// Walk up the dotted path until a key that is in the file.
			for k := fe.Path(); k != ""; {
				if l, ok := lines[k]; ok {
					fe.Line = l
					break
				}
				i := strings.LastIndexAny(k, ".[")
				if i < 0 {
					break
				}
				k = k[:i]
			}
		}
	}
	return err
}

// applyEnv sets every field tagged `env:"NAME"` whose variable is set.
func applyEnv(cfg *Config, env []string) error {
	vars := map[string]string{}
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	return walkEnv(reflect.ValueOf(cfg).Elem(), vars)
}

func walkEnv(v reflect.Value, vars map[string]string) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f, fv := t.Field(i), v.Field(i)
		if name := f.Tag.Get("env"); name != "" {
			if val, ok := vars[name]; ok {
				switch fv.Kind() {
				case reflect.String:
					fv.SetString(val)
				case reflect.Bool:
					b, err := strconv.ParseBool(val)
					if err != nil {
						return fmt.Errorf("%w: environment %s: %q is not a boolean", ErrInvalid, name, val)
					}
					fv.SetBool(b)
				case reflect.Int, reflect.Int64:
					n, err := strconv.ParseInt(val, 10, 64)
					if err != nil {
						return fmt.Errorf("%w: environment %s: %q is not an integer", ErrInvalid, name, val)
					}
					fv.SetInt(n)
				default:
					return fmt.Errorf("config: env tag on unsupported field %s", f.Name)
				}
			}
		}
		switch fv.Kind() {
		case reflect.Struct:
			if err := walkEnv(fv, vars); err != nil {
				return err
			}
		case reflect.Pointer:
			if !fv.IsNil() && fv.Elem().Kind() == reflect.Struct {
				if err := walkEnv(fv.Elem(), vars); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// EnvVars lists the environment variables that override keys, for --help
// and docs: variable → dotted key.
func EnvVars() map[string]string {
	out := map[string]string{}
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			key := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if prefix != "" {
				key = prefix + "." + key
			}
			if name := f.Tag.Get("env"); name != "" {
				out[name] = key
			}
			if f.Type.Kind() == reflect.Struct {
				walk(f.Type, key)
			}
		}
	}
	walk(reflect.TypeOf(Config{}), "")
	return out
}

// Keys lists every dotted key of the configuration (leaves and maps), in
// declaration order. Documentation tests use it.
func Keys() []string {
	var out []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if name == "" || name == "-" {
				continue
			}
			key := name
			if prefix != "" {
				key = prefix + "." + name
			}
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct && ft.PkgPath() != "time" {
				walk(ft, key)
				continue
			}
			out = append(out, key)
		}
	}
	walk(reflect.TypeOf(Config{}), "")
	return out
}

// Locate places the errors err holds under section (validate.InSection)
// and fills in the file and line of each key, so that a check made after
// Load — a reload's, of a certificate file — names FILE:LINE as
// check-config does. section "" leaves the keys as they are.
func (c *Config) Locate(section string, err error) error {
	if err == nil {
		return nil
	}
	list := validate.Errors(err)
	if section != "" {
		list = validate.InSection(section, err)
	}
	return annotate(errors.Join(list...), c.file, c.lines)
}

// Diff lists the dotted keys whose values differ between a and b, in
// declaration order: leaves as Keys names them, a list or map as one key.
// It names keys only, never values (some are secrets).
func Diff(a, b *Config) []string {
	var out []string
	var walk func(x, y reflect.Value, prefix string)
	walk = func(x, y reflect.Value, prefix string) {
		t := x.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if !f.IsExported() || name == "" || name == "-" {
				continue
			}
			key := name
			if prefix != "" {
				key = prefix + "." + name
			}
			fx, fy := x.Field(i), y.Field(i)
			if fx.Kind() == reflect.Struct && f.Type.PkgPath() != "time" {
				walk(fx, fy, key)
				continue
			}
			if !reflect.DeepEqual(fx.Interface(), fy.Interface()) {
				out = append(out, key)
			}
		}
	}
	walk(reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem(), "")
	return out
}
