//go:build linux || darwin || freebsd || netbsd || openbsd

package redisbaseline

import (
	"errors"
	"net"
	"syscall"
)

// alive peeks at an idle connection without blocking: nothing to read means healthy; EOF, an
// error or unsolicited data means it must not be used.
func alive(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	healthy := false
	var buf [1]byte
	err = rc.Read(func(fd uintptr) bool {
		n, _, rerr := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		healthy = n < 0 && (errors.Is(rerr, syscall.EAGAIN) || errors.Is(rerr, syscall.EWOULDBLOCK))
		return true
	})
	return err == nil && healthy
}
