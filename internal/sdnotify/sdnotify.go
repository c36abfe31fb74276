// Package sdnotify tells systemd about the service's state over the
// notification socket (sd_notify(3)): READY=1 once listening, STOPPING=1
// when shutting down, WATCHDOG=1 at half the watchdog interval. It is a
// datagram to the unix socket named by $NOTIFY_SOCKET ("@" for the abstract
// namespace), written without cgo or libsystemd. Without $NOTIFY_SOCKET (not
// started by systemd with Type=notify) every call does nothing.
package sdnotify

import (
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// Notifier sends state changes to one notification socket.
type Notifier struct {
	socket string
}

// FromEnv returns the notifier of $NOTIFY_SOCKET; nil (a no-op) when unset.
// As sd_notify's unset_environment would, it does not unset the variable:
// a child process started by postvakt is not expected.
func FromEnv() *Notifier {
	s := os.Getenv("NOTIFY_SOCKET")
	if s == "" {
		return nil
	}
	return &Notifier{socket: s}
}

// Notify sends one message: newline-separated assignments such as
// "READY=1\nSTATUS=listening".
func (n *Notifier) Notify(state string) error {
	if n == nil {
		return nil
	}
	name := n.socket
	if strings.HasPrefix(name, "@") {
		name = "\x00" + name[1:]
	} else if !strings.HasPrefix(name, "/") {
		return errors.New("sdnotify: NOTIFY_SOCKET is neither a path nor an abstract socket")
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Write([]byte(state))
	return err
}

// Ready reports that the service is up; status is a line for systemctl status.
func (n *Notifier) Ready(status string) error {
	return n.Notify("READY=1\nSTATUS=" + oneLine(status) + "\nMAINPID=" + strconv.Itoa(os.Getpid()))
}

// Stopping reports that the service is shutting down.
func (n *Notifier) Stopping() error { return n.Notify("STOPPING=1\nSTATUS=stopping") }

// WatchdogInterval is the interval systemd expects keep-alive pings at
// ($WATCHDOG_USEC, for this process when $WATCHDOG_PID says so); 0 when the
// watchdog is off.
func WatchdogInterval() time.Duration {
	us, err := strconv.ParseInt(os.Getenv("WATCHDOG_USEC"), 10, 64)
	if err != nil || us <= 0 {
		return 0
	}
	if pid := os.Getenv("WATCHDOG_PID"); pid != "" && pid != strconv.Itoa(os.Getpid()) {
		return 0
	}
	return time.Duration(us) * time.Microsecond
}

// Watchdog sends WATCHDOG=1 at half the watchdog interval while alive()
// holds, until ctx is done. With the watchdog off it returns at once.
func (n *Notifier) Watchdog(ctx context.Context, alive func() bool) {
	iv := WatchdogInterval()
	if n == nil || iv == 0 {
		return
	}
	t := time.NewTicker(iv / 2)
	defer t.Stop()
	for {
		if alive == nil || alive() {
			_ = n.Notify("WATCHDOG=1")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func oneLine(s string) string { return strings.NewReplacer("\n", " ", "\r", " ").Replace(s) }
