package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/uni-mail/postvakt/runbooks"
)

// TestRunbookCommandsExist checks every `postvakt …` command line in the
// runbooks against the real CLI: the subcommand exists and every flag is
// one it accepts. A runbook read at 03:00 must not send the on-call person
// to a command that is not there.
func TestRunbookCommandsExist(t *testing.T) {
	t.Parallel()
	lib, err := runbooks.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile("(?s)```[a-z]*\n(.*?)```")
	checked := 0
	for _, rb := range lib.All() {
		for _, m := range block.FindAllStringSubmatch(rb.Body, -1) {
			for _, line := range strings.Split(m[1], "\n") {
				line = strings.TrimSpace(line)
				if !strings.HasPrefix(line, "postvakt ") {
					continue
				}
				checked++
				if err := checkCommandLine(strings.Fields(line)[1:]); err != "" {
					t.Errorf("runbook %s: %q: %s", rb.ID, line, err)
				}
			}
		}
	}
	if checked < 10 {
		t.Fatalf("only %d command lines found in the runbooks", checked)
	}
}

func checkCommandLine(args []string) string {
	cs := commands()
	var c *command
	path := []string{"postvakt"}
	for len(args) > 0 {
		var next *command
		for _, s := range cs {
			if s.name == args[0] {
				next = s
			}
		}
		if next == nil {
			if c == nil || len(c.subs) > 0 {
				return "no command " + strings.Join(append(path, args[0]), " ")
			}
			break
		}
		c, cs, path, args = next, next.subs, append(path, next.name), args[1:]
		if len(c.subs) == 0 {
			break
		}
	}
	if c == nil || len(c.subs) > 0 {
		return "incomplete command " + strings.Join(path, " ")
	}
	fs, _ := newFlagSet(c, path)
	for _, a := range args {
		if !strings.HasPrefix(a, "--") {
			continue
		}
		name := strings.SplitN(strings.TrimPrefix(a, "--"), "=", 2)[0]
		if fs.Lookup(name) == nil {
			return "no flag --" + name + " on " + strings.Join(path, " ")
		}
	}
	return ""
}
