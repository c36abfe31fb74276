// Package syslog receives syslog over the network for the collectors: RFC
// 5424 messages over TCP with octet-counting framing (RFC 6587 §3.4.1, as
// RFC 5425 uses over TLS) or newline framing (RFC 6587 §3.4.2), and over
// UDP (RFC 5426, one message per datagram). RFC 3164 lines, with or
// without <PRI> and with fractional seconds or RFC 3339 timestamps as
// rsyslog forwards them, are accepted too.
//
// RFC 5424 headers are parsed with github.com/leodido/go-syslog/v4; its
// RFC 3164 parser rejects lines without <PRI> and with fractional seconds,
// so everything else goes through collectors/logparse's own framer. The
// framing (ReadFrames) is ours and has a fuzz target.
package syslog

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	gosyslog "github.com/leodido/go-syslog/v4"
	"github.com/leodido/go-syslog/v4/rfc5424"

	"github.com/uni-mail/postvakt/collectors/logparse"
)

// DefaultMaxMessage is the largest message accepted (RFC 5425 §4.3.1
// says receivers should handle 8192 octets; Postfix lines can be longer).
const DefaultMaxMessage = 64 << 10

// ErrFraming is wrapped by framing errors; after one, the connection is
// out of step and is closed.
var ErrFraming = errors.New("syslog: bad framing")

// ReadFrames reads messages from r until EOF and calls fn with each. The
// framing is chosen per message by its first byte: a digit starts an
// octet count "LEN SP MSG" (RFC 6587 §3.4.1), anything else is one line up
// to LF (RFC 6587 §3.4.2; a trailing CR is dropped). Empty lines are
// skipped. The slice passed to fn is only valid during the call.
func ReadFrames(r *bufio.Reader, maxMsg int, fn func(msg []byte) error) error {
	if maxMsg <= 0 {
		maxMsg = DefaultMaxMessage
	}
	buf := make([]byte, 0, 1024)
	for {
		b, err := r.Peek(1)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if b[0] >= '0' && b[0] <= '9' {
			n := 0
			digits := 0
			for {
				c, err := r.ReadByte()
				if err != nil {
					return fmt.Errorf("%w: truncated octet count: %v", ErrFraming, err)
				}
				if c == ' ' {
					break
				}
				if c < '0' || c > '9' || digits >= 9 {
					return fmt.Errorf("%w: bad octet count", ErrFraming)
				}
				n = n*10 + int(c-'0')
				digits++
			}
			if n == 0 || n > maxMsg {
				return fmt.Errorf("%w: message length %d out of range", ErrFraming, n)
			}
			if cap(buf) < n {
				buf = make([]byte, n)
			}
			buf = buf[:n]
			if _, err := io.ReadFull(r, buf); err != nil {
				return fmt.Errorf("%w: truncated message: %v", ErrFraming, err)
			}
			msg := buf
			for len(msg) > 0 && (msg[len(msg)-1] == '\n' || msg[len(msg)-1] == '\r') {
				msg = msg[:len(msg)-1]
			}
			if len(msg) > 0 {
				if err := fn(msg); err != nil {
					return err
				}
			}
			continue
		}
		buf = buf[:0]
		for {
			frag, err := r.ReadSlice('\n')
			buf = append(buf, frag...)
			if len(buf) > maxMsg+2 {
				return fmt.Errorf("%w: line longer than %d bytes", ErrFraming, maxMsg)
			}
			if err == nil {
				break
			}
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			if errors.Is(err, io.EOF) {
				break
			}
			return err
		}
		msg := buf
		for len(msg) > 0 && (msg[len(msg)-1] == '\n' || msg[len(msg)-1] == '\r') {
			msg = msg[:len(msg)-1]
		}
		if len(msg) > 0 {
			if err := fn(msg); err != nil {
				return err
			}
		}
	}
}

// Parser turns one syslog message into a logparse.Frame. It holds a
// year guesser for RFC 3164 timestamps, so use one per connection.
type Parser struct {
	framer   *logparse.Framer
	framerAt time.Time
	loc      *time.Location
	m5424    gosyslog.Machine
	now      func() time.Time
}

// NewParser returns a Parser; year-less timestamps are resolved against
// now() in loc (nil: UTC), the reference renewed daily (a connection may
// last longer than logparse.MaxFuture).
func NewParser(now func() time.Time, loc *time.Location) *Parser {
	if now == nil {
		now = time.Now
	}
	at := now()
	return &Parser{framer: logparse.NewFramer(at, loc), framerAt: at, loc: loc, m5424: rfc5424.NewParser(rfc5424.WithBestEffort()), now: now}
}

// is5424 reports whether msg starts "<PRI>1 " (RFC 5424 §6: VERSION 1).
func is5424(msg []byte) bool {
	if len(msg) < 4 || msg[0] != '<' {
		return false
	}
	end := -1
	for i := 1; i < len(msg) && i <= 4; i++ {
		if msg[i] == '>' {
			end = i
			break
		}
	}
	return end > 1 && end+2 < len(msg) && msg[end+1] == '1' && msg[end+2] == ' '
}

// Parse frames one message.
func (p *Parser) Parse(msg []byte) (logparse.Frame, error) {
	if !is5424(msg) {
		if at := p.now(); at.Sub(p.framerAt) >= 24*time.Hour {
			p.framer, p.framerAt = logparse.NewFramer(at, p.loc), at
		}
		return p.framer.Frame(string(msg))
	}
	m, err := p.m5424.Parse(msg)
	if m == nil {
		return logparse.Frame{}, fmt.Errorf("syslog: RFC 5424: %w", err)
	}
	sm, ok := m.(*rfc5424.SyslogMessage)
	if !ok || sm.Priority == nil {
		return logparse.Frame{}, fmt.Errorf("syslog: RFC 5424: %v", err)
	}
	f := logparse.Frame{Priority: int(*sm.Priority), Time: p.now()}
	if sm.Timestamp != nil {
		f.Time = *sm.Timestamp
	}
	if sm.Hostname != nil {
		f.Host = *sm.Hostname
	}
	if sm.Appname != nil {
		f.Program = *sm.Appname
	}
	if sm.ProcID != nil {
		if pid, err := strconv.Atoi(*sm.ProcID); err == nil {
			f.PID = pid
		}
	}
	if sm.Message != nil {
		f.Message = strings.TrimPrefix(*sm.Message, "\ufeff")
	}
	if f.Host == "" || f.Program == "" {
		return f, fmt.Errorf("syslog: RFC 5424 message without hostname or app-name")
	}
	return f, nil
}
