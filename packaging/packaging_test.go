// Package packaging holds the tests of the Debian package description, the
// systemd unit and the Containerfile. Building and installing the package
// is `make deb-test` (test-deb.sh, run by CI as root); docker and podman do
// not run here, so the Containerfile is checked for what can be checked
// without building it.
package packaging

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestContainerfile: every instruction is a known one, every COPY source
// outside a build stage exists in the repository (and is not excluded by
// .dockerignore), every --from names an earlier stage, and the Go image
// matches go.mod's go directive.
func TestContainerfile(t *testing.T) {
	src := read(t, filepath.Join("..", "Containerfile"))
	// Join continuation lines.
	src = regexp.MustCompile(`\\\n`).ReplaceAllString(src, " ")
	known := map[string]bool{"FROM": true, "RUN": true, "COPY": true, "ENV": true, "ARG": true, "WORKDIR": true, "USER": true,
		"VOLUME": true, "EXPOSE": true, "STOPSIGNAL": true, "ENTRYPOINT": true, "CMD": true, "LABEL": true}
	ignored := strings.Fields(read(t, filepath.Join("..", ".dockerignore")))
	stages := map[string]bool{}
	var goImage string
	sc := bufio.NewScanner(strings.NewReader(src))
	n := 0
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		n++
		if !known[f[0]] {
			t.Errorf("unknown instruction %q", line)
			continue
		}
		switch f[0] {
		case "FROM":
			if len(f) == 4 && strings.EqualFold(f[2], "AS") {
				stages[f[3]] = true
			}
			if strings.Contains(f[1], "golang:") {
				goImage = f[1][strings.Index(f[1], "golang:")+len("golang:"):]
			}
		case "COPY":
			args, from := f[1:], ""
			for len(args) > 0 && strings.HasPrefix(args[0], "--") {
				if v, ok := strings.CutPrefix(args[0], "--from="); ok {
					from = v
				}
				args = args[1:]
			}
			if len(args) < 2 {
				t.Errorf("COPY without source and destination: %q", line)
				continue
			}
			if from != "" {
				if !stages[from] {
					t.Errorf("COPY --from=%s: no such earlier stage", from)
				}
				continue
			}
			for _, s := range args[:len(args)-1] {
				if s == "." {
					continue
				}
				if _, err := os.Stat(filepath.Join("..", s)); err != nil {
					t.Errorf("COPY %s: %v", s, err)
				}
				for _, ig := range ignored {
					if strings.HasPrefix(s, strings.TrimSuffix(ig, "/")) {
						t.Errorf("COPY %s is excluded by .dockerignore (%s)", s, ig)
					}
				}
			}
		case "ENTRYPOINT", "CMD":
			if !strings.HasPrefix(f[1], "[") {
				t.Errorf("%s in shell form: signals would go to a shell, not postvakt: %q", f[0], line)
			}
		}
	}
	if n < 10 {
		t.Fatalf("only %d instructions", n)
	}
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(read(t, filepath.Join("..", "go.mod")))
	if m == nil || goImage != m[1] {
		t.Errorf("golang image %q, go.mod says go %v", goImage, m)
	}
}

// TestNfpm: every file the package ships exists, the configuration is a
// conffile at the path postvakt reads by default, and the maintainer
// scripts are valid sh.
func TestNfpm(t *testing.T) {
	var desc struct {
		Contents []struct {
			Src, Dst, Type string
		} `yaml:"contents"`
		Scripts map[string]string `yaml:"scripts"`
	}
	if err := yaml.Unmarshal([]byte(read(t, "nfpm.yaml")), &desc); err != nil {
		t.Fatal(err)
	}
	conf := false
	for _, c := range desc.Contents {
		if c.Src != "" && c.Src != "../bin/postvakt" {
			if _, err := os.Stat(c.Src); err != nil {
				t.Errorf("%s: %v", c.Src, err)
			}
		}
		if c.Dst == "/etc/postvakt/postvakt.yaml" && strings.HasPrefix(c.Type, "config") {
			conf = true
		}
	}
	if !conf {
		t.Error("/etc/postvakt/postvakt.yaml is not a conffile")
	}
	if !strings.Contains(read(t, filepath.Join("..", "cmd", "postvakt", "main.go")), `defaultConfigPath = "/etc/postvakt/postvakt.yaml"`) {
		t.Error("postvakt's default configuration path is not the packaged one")
	}
	for _, s := range desc.Scripts {
		if out, err := exec.Command("sh", "-n", s).CombinedOutput(); err != nil {
			t.Errorf("sh -n %s: %v %s", s, err, out)
		}
	}
	if len(desc.Scripts) < 3 {
		t.Errorf("scripts: %v", desc.Scripts)
	}
}

// TestUnit: the unit has the directives the packaging promises, and
// `systemd-analyze verify` accepts it where systemd-analyze is installed
// (with ExecStart pointed at a binary that exists here).
func TestUnit(t *testing.T) {
	unit := read(t, "postvakt.service")
	for _, d := range []string{"Type=notify", "WatchdogSec=", "User=postvakt", "AmbientCapabilities=CAP_NET_BIND_SERVICE",
		"CapabilityBoundingSet=CAP_NET_BIND_SERVICE", "NoNewPrivileges=yes", "ProtectSystem=strict", "ReadWritePaths=/var/lib/postvakt",
		"PrivateTmp=yes", "LoadCredential=", "StateDirectory=postvakt", "ExecReload=", "--config /etc/postvakt/postvakt.yaml"} {
		if !strings.Contains(unit, "\n"+d) && !strings.Contains(unit, " "+d) {
			t.Errorf("unit lacks %s", d)
		}
	}
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed: unit syntax not verified here (make deb-test verifies it)")
	}
	dir := t.TempDir()
	bin, err := exec.LookPath("true")
	if err != nil {
		t.Fatal(err)
	}
	u := strings.ReplaceAll(unit, "/usr/bin/postvakt", bin)
	p := filepath.Join(dir, "postvakt.service")
	if err := os.WriteFile(p, []byte(u), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sa, "verify", p).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
