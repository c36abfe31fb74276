//go:build !linux

package control

import (
	"errors"
	"net"
	"os"
)

// peerUID is not known off Linux: the socket's mode (0600) is the only
// guard there, and every connection is taken as the service user's.
func peerUID(c net.Conn) (uint32, error) {
	if _, ok := c.(*net.UnixConn); !ok {
		return 0, errors.New("not a Unix socket connection")
	}
	return uint32(os.Geteuid()), nil
}
