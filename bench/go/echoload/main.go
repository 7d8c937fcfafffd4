// The load generator of the TCP echo benchmark (see bench/echo.sh), the same
// process for the rill and the Go server, so that both face one client.
//
//	echoload -addr HOST:PORT -mode echo [-conns 1000] [-size 64] [-duration 5s]
//	    opens conns connections, then each sends a size-byte message and waits
//	    for its echo, over and over, for duration. Prints "echo N msgs/s".
//	echoload -addr HOST:PORT -mode accept [-n 20000] [-conns 64]
//	    conns goroutines connect, exchange one byte (so the server has
//	    accepted and served the connection) and close with a reset (no
//	    TIME_WAIT left behind), n connections in all. Prints "accept N conns/s".
//
// Every echoed message is checked; a mismatch, or any error once the run
// has started, fails with exit status 1.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "echoload: "+format+"\n", args...)
	os.Exit(1)
}

func dial(addr string) *net.TCPConn {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		fail("connect %s: %v", addr, err)
	}
	return c.(*net.TCPConn)
}

func echo(addr string, conns, size int, duration time.Duration) {
	cs := make([]*net.TCPConn, conns)
	for i := range cs {
		cs[i] = dial(addr)
	}
	var total atomic.Int64
	var stop atomic.Bool
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, c := range cs {
		wg.Add(1)
		go func(i int, c *net.TCPConn) {
			defer wg.Done()
			defer c.Close()
			msg := bytes.Repeat([]byte{byte('a' + i%26)}, size)
			back := make([]byte, size)
			<-start
			n := int64(0)
			for !stop.Load() {
				if _, err := c.Write(msg); err != nil {
					fail("write: %v", err)
				}
				if _, err := io.ReadFull(c, back); err != nil {
					fail("read: %v", err)
				}
				if !bytes.Equal(msg, back) {
					fail("echo mismatch")
				}
				n++
			}
			total.Add(n)
		}(i, c)
	}
	t0 := time.Now()
	close(start)
	time.Sleep(duration)
	stop.Store(true)
	elapsed := time.Since(t0)
	wg.Wait()
	fmt.Printf("echo %.0f msgs/s %d msgs\n", float64(total.Load())/elapsed.Seconds(), total.Load())
}

func accept(addr string, n, conns int) {
	var next atomic.Int64
	var wg sync.WaitGroup
	t0 := time.Now()
	for w := 0; w < conns; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			one := []byte{'x'}
			back := make([]byte, 1)
			for next.Add(1) <= int64(n) {
				c := dial(addr)
				if _, err := c.Write(one); err != nil {
					fail("write: %v", err)
				}
				if _, err := io.ReadFull(c, back); err != nil {
					fail("read: %v", err)
				}
				c.SetLinger(0)
				c.Close()
			}
		}()
	}
	wg.Wait()
	fmt.Printf("accept %.0f conns/s\n", float64(n)/time.Since(t0).Seconds())
}

func main() {
	addr := flag.String("addr", "", "server address, HOST:PORT")
	mode := flag.String("mode", "echo", "echo or accept")
	conns := flag.Int("conns", 1000, "concurrent connections")
	size := flag.Int("size", 64, "message size in bytes (echo)")
	duration := flag.Duration("duration", 5*time.Second, "how long to send (echo)")
	n := flag.Int("n", 20000, "connections in all (accept)")
	flag.Parse()
	switch *mode {
	case "echo":
		echo(*addr, *conns, *size, *duration)
	case "accept":
		accept(*addr, *n, *conns)
	default:
		fail("unknown mode %q", *mode)
	}
}
