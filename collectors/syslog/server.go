package syslog

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/uni-mail/postvakt/collectors/ingest"
)

// Options configure a Server.
type Options struct {
	TCP string // listen address for TCP, "" for none
	UDP string // listen address for UDP, "" for none
	// TCPStream and UDPStream are the ingest stream IDs the messages are
	// sent as (registered by the caller with Source ingest.SourceSyslog).
	TCPStream, UDPStream int
	Runner               *ingest.Runner
	MaxMessage           int
	// IdleTimeout closes a TCP connection that sends nothing this long;
	// default 10 minutes.
	IdleTimeout time.Duration
	MaxConns    int // default 256
	Loc         *time.Location
	Logger      *slog.Logger
	Now         func() time.Time
}

// Server is a syslog receiver.
type Server struct {
	o   Options
	tcp net.Listener
	udp net.PacketConn
}

// Listen binds the configured addresses.
func Listen(o Options) (*Server, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 10 * time.Minute
	}
	if o.MaxConns <= 0 {
		o.MaxConns = 256
	}
	if o.MaxMessage <= 0 {
		o.MaxMessage = DefaultMaxMessage
	}
	s := &Server{o: o}
	var err error
	if o.TCP != "" {
		if s.tcp, err = net.Listen("tcp", o.TCP); err != nil {
			return nil, fmt.Errorf("syslog tcp: %w", err)
		}
	}
	if o.UDP != "" {
		if s.udp, err = net.ListenPacket("udp", o.UDP); err != nil {
			if s.tcp != nil {
				s.tcp.Close()
			}
			return nil, fmt.Errorf("syslog udp: %w", err)
		}
	}
	return s, nil
}

// TCPAddr is the bound TCP address, or nil.
func (s *Server) TCPAddr() net.Addr {
	if s.tcp == nil {
		return nil
	}
	return s.tcp.Addr()
}

// UDPAddr is the bound UDP address, or nil.
func (s *Server) UDPAddr() net.Addr {
	if s.udp == nil {
		return nil
	}
	return s.udp.LocalAddr()
}

// Serve receives until ctx ends.
func (s *Server) Serve(ctx context.Context) error {
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		<-ctx.Done()
		if s.tcp != nil {
			s.tcp.Close()
		}
		if s.udp != nil {
			s.udp.Close()
		}
	}()
	if s.udp != nil {
		wg.Add(1)
		go func() { defer wg.Done(); s.serveUDP(ctx) }()
	}
	if s.tcp != nil {
		sem := make(chan struct{}, s.o.MaxConns)
		var conns sync.Map
		go func() {
			<-ctx.Done()
			conns.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
		}()
		for {
			c, err := s.tcp.Accept()
			if err != nil {
				if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
					break
				}
				s.o.Logger.Warn("syslog accept", "err", err)
				time.Sleep(100 * time.Millisecond)
				continue
			}
			select {
			case sem <- struct{}{}:
			default:
				s.o.Logger.Warn("syslog: too many connections", "remote", c.RemoteAddr().String())
				c.Close()
				continue
			}
			conns.Store(c, true)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				defer conns.Delete(c)
				defer c.Close()
				s.serveConn(ctx, c)
			}()
		}
	}
	wg.Wait()
	return nil
}

// deadlineReader extends the read deadline before every read.
type deadlineReader struct {
	c    net.Conn
	idle time.Duration
}

func (d deadlineReader) Read(p []byte) (int, error) {
	_ = d.c.SetReadDeadline(time.Now().Add(d.idle))
	return d.c.Read(p)
}

func (s *Server) serveConn(ctx context.Context, c net.Conn) {
	p := NewParser(s.o.Now, s.o.Loc)
	// each connection (a host, or a relay) is a source of its own: the
	// runner merges them by time (docs/collectors.md, "Merging sources
	// by time")
	src := s.o.Runner.LiveSource()
	defer src.Close()
	br := bufio.NewReaderSize(deadlineReader{c, s.o.IdleTimeout}, 64<<10)
	err := ReadFrames(br, s.o.MaxMessage, func(msg []byte) error {
		f, err := p.Parse(msg)
		if err != nil {
			return src.Send(ctx, ingest.Input{Stream: s.o.TCPStream, ParseError: true})
		}
		return src.Send(ctx, ingest.Input{Stream: s.o.TCPStream, Frame: &f})
	})
	if err != nil && ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
		s.o.Logger.Info("syslog connection closed", "remote", c.RemoteAddr().String(), "err", err)
	}
}

func (s *Server) serveUDP(ctx context.Context) {
	p := NewParser(s.o.Now, s.o.Loc)
	src := s.o.Runner.LiveSource()
	defer src.Close()
	buf := make([]byte, 65536)
	for {
		n, _, err := s.udp.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			s.o.Logger.Warn("syslog udp", "err", err)
			continue
		}
		for _, msg := range SplitDatagram(buf[:n]) {
			f, err := p.Parse(msg)
			if err != nil {
				src.Offer(ingest.Input{Stream: s.o.UDPStream, ParseError: true})
				continue
			}
			src.Offer(ingest.Input{Stream: s.o.UDPStream, Frame: &f})
		}
	}
}

// SplitDatagram returns the messages of one UDP datagram: one message
// (RFC 5426 §3.1), or several lines when a sender batches RFC 3164 lines.
// An RFC 5424 datagram is never split: its MSG may contain line breaks.
func SplitDatagram(d []byte) [][]byte {
	for len(d) > 0 && (d[len(d)-1] == '\n' || d[len(d)-1] == '\r' || d[len(d)-1] == 0) {
		d = d[:len(d)-1]
	}
	if len(d) == 0 {
		return nil
	}
	if is5424(d) {
		return [][]byte{d}
	}
	var out [][]byte
	for len(d) > 0 {
		i := 0
		for i < len(d) && d[i] != '\n' {
			i++
		}
		line := d[:i]
		for len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		if len(line) > 0 {
			out = append(out, line)
		}
		if i == len(d) {
			break
		}
		d = d[i+1:]
	}
	return out
}
