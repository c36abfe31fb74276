// Command tracebench measures trace searches the way people make them:
// through the postvakt CLI (a new process per search, as a postmaster
// types it) and through the HTTP API of a running `postvakt serve`.
//
// It picks keys at random from the log that was imported (senders,
// recipients and Message-IDs of Postfix's lines), a set of its own for
// each path, so that no path reads what another has just brought into the
// caches. Each key is searched twice: "first" is a key's first search in
// the run, as a postmaster makes it (its rows may have to come from disk
// and are not in the service's page cache), "again" the same keys once
// more (warm). It prints the median, 95th percentile and maximum per path,
// key kind and pass. A search that finds no message is an error: every
// key comes from an imported line, so it must be found. Give each run a
// new -seed: a key searched in an earlier run is warm in the next.
//
//	go run ./collectors/cmd/tracebench -log mail-30d.log -n 100 \
//	    -cli "postvakt --config sqlite.yaml" -url http://127.0.0.1:8080 -token-file tok
//
// Build the log with mkmaillog -distinct (a log that repeats its keys
// measures searches that find thousands of messages, not one).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"time"
)

var keyRE = map[string]*regexp.Regexp{
	"from":  regexp.MustCompile(`postfix/qmgr\[\d+\]: [0-9A-F]+: from=<([^<>\s]+@[^<>\s]+)>`),
	"to":    regexp.MustCompile(`postfix/(?:lmtp|smtp|local|virtual|pipe)\[\d+\]: [0-9A-F]+: to=<([^<>\s]+@[^<>\s]+)>`),
	"msgid": regexp.MustCompile(`postfix/cleanup\[\d+\]: [0-9A-F]+: message-id=<([^<>\s]+)>`),
}

var kinds = []string{"from", "to", "msgid"}

var slowMS float64

func main() {
	logFile := flag.String("log", "", "the imported log file to draw keys from")
	n := flag.Int("n", 100, "keys per kind")
	cli := flag.String("cli", "", "the trace command's prefix, e.g. \"postvakt --config c.yaml\" (empty: skip the CLI)")
	base := flag.String("url", "", "base URL of a running postvakt serve (empty: skip HTTP)")
	tokenFile := flag.String("token-file", "", "file holding an API token of role helpdesk or above")
	seed := flag.Uint64("seed", 1, "random seed for the choice of keys")
	flag.Float64Var(&slowMS, "slow", 0, "print each search slower than this many `ms` with its key and result count (0: none)")
	flag.Parse()
	if *logFile == "" || (*cli == "" && *base == "") {
		fmt.Fprintln(os.Stderr, "tracebench: -log and at least one of -cli and -url are needed")
		os.Exit(2)
	}
	if err := run(*logFile, *n, *cli, *base, *tokenFile, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "tracebench:", err)
		os.Exit(1)
	}
}

func run(logFile string, n int, cli, base, tokenFile string, seed uint64) error {
	npaths := 0
	if cli != "" {
		npaths++
	}
	if base != "" {
		npaths++
	}
	keys, lines, err := sample(logFile, n*npaths, seed)
	if err != nil {
		return err
	}
	fmt.Printf("%d lines read; %d keys per kind and path drawn at random (seed %d)\n", lines, n, seed)
	var token string
	if base != "" {
		b, err := os.ReadFile(tokenFile)
		if err != nil {
			return fmt.Errorf("-token-file: %w", err)
		}
		token = strings.TrimSpace(string(b))
	}
	type path struct {
		name   string
		search func(kind, key string) (int, error)
	}
	var paths []path
	if cli != "" {
		args := strings.Fields(cli)
		paths = append(paths, path{"CLI", func(kind, key string) (int, error) { return viaCLI(args, kind, key) }})
	}
	if base != "" {
		c := &http.Client{Timeout: time.Minute}
		paths = append(paths, path{"HTTP", func(kind, key string) (int, error) { return viaHTTP(c, base, token, kind, key) }})
	}
	fmt.Printf("%-5s %-6s %-6s %9s %9s %9s %8s\n", "path", "key", "pass", "p50 ms", "p95 ms", "max ms", "found")
	for i, p := range paths {
		for _, kind := range kinds {
			own := keys[kind][i*n : (i+1)*n]
			for _, pass := range []string{"first", "again"} {
				if err := measure(p.name, pass, kind, own, p.search); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// measure searches each key once by search and prints the pass's line.
func measure(path, pass, kind string, keys []string, search func(kind, key string) (int, error)) error {
	var ms []float64
	found := 0
	for _, key := range keys {
		t0 := time.Now()
		got, err := search(kind, key)
		if err != nil {
			return fmt.Errorf("%s %s=%s: %w", path, kind, key, err)
		}
		took := float64(time.Since(t0).Microseconds()) / 1000
		ms = append(ms, took)
		if slowMS > 0 && took > slowMS {
			fmt.Printf("  slow: %s %s %s=%s %.1f ms, %d found\n", path, pass, kind, key, took, got)
		}
		if got > 0 {
			found++
		}
	}
	slices.Sort(ms)
	fmt.Printf("%-5s %-6s %-6s %9.1f %9.1f %9.1f %4d/%d\n", path, kind, pass, pct(ms, 50), pct(ms, 95), ms[len(ms)-1], found, len(ms))
	if found < len(ms) {
		return fmt.Errorf("%s: %d of %d %s keys found no message", path, len(ms)-found, len(ms), kind)
	}
	return nil
}

// sample draws n keys of each kind by reservoir sampling over the log.
func sample(name string, n int, seed uint64) (map[string][]string, int, error) {
	fh, err := os.Open(name)
	if err != nil {
		return nil, 0, err
	}
	defer fh.Close()
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	keys := map[string][]string{}
	seen := map[string]map[string]bool{}
	count := map[string]int{}
	for _, k := range kinds {
		seen[k] = map[string]bool{}
	}
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	lines := 0
	for sc.Scan() {
		lines++
		line := sc.Text()
		for _, kind := range kinds {
			m := keyRE[kind].FindStringSubmatch(line)
			if m == nil || seen[kind][m[1]] {
				continue
			}
			count[kind]++
			switch {
			case len(keys[kind]) < n:
				keys[kind] = append(keys[kind], m[1])
				seen[kind][m[1]] = true
			default:
				if j := r.IntN(count[kind]); j < n {
					delete(seen[kind], keys[kind][j])
					keys[kind][j] = m[1]
					seen[kind][m[1]] = true
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, 0, err
	}
	for _, kind := range kinds {
		if len(keys[kind]) < n {
			return nil, 0, fmt.Errorf("%s: only %d distinct %s keys", name, len(keys[kind]), kind)
		}
	}
	return keys, lines, nil
}

func viaCLI(prefix []string, kind, key string) (int, error) {
	args := append(slices.Clone(prefix[1:]), "trace", "--json", "--limit", "50", "--"+kind, key)
	var out, errOut strings.Builder
	cmd := exec.CommandContext(context.Background(), prefix[0], args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("%v: %s", err, strings.TrimSpace(errOut.String()))
	}
	return total(strings.NewReader(out.String()))
}

func viaHTTP(c *http.Client, base, token, kind, key string) (int, error) {
	req, err := http.NewRequest(http.MethodGet, strings.TrimRight(base, "/")+"/api/v1/trace?limit=50&"+kind+"="+url.QueryEscape(key), nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return 0, fmt.Errorf("HTTP %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	return total(resp.Body)
}

func total(r io.Reader) (int, error) {
	var page struct {
		Total    *int              `json:"total"`
		Messages []json.RawMessage `json:"messages"`
	}
	if err := json.NewDecoder(r).Decode(&page); err != nil {
		return 0, err
	}
	if page.Total == nil {
		return 0, errors.New("answer without total")
	}
	return *page.Total, nil
}

func pct(sorted []float64, p int) float64 {
	i := (len(sorted)*p + 99) / 100
	return sorted[max(i-1, 0)]
}
