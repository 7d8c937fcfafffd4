// The Go side of the TCP echo benchmark (see bench/echo.sh): an idiomatic
// echo server, one goroutine per connection, each reading into a 4 KiB
// buffer and writing back what it read. It mirrors bench/echo_server.cpp.
//
// Usage: echo ADDR (e.g. 127.0.0.1:0). Prints "listening HOST:PORT" once it
// accepts connections, then serves until killed.
package main

import (
	"fmt"
	"net"
	"os"
)

func serve(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		if _, err := c.Write(buf[:n]); err != nil {
			return
		}
	}
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: echo ADDR")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("listening", ln.Addr())
	for {
		c, err := ln.Accept()
		if err != nil {
			continue
		}
		go serve(c)
	}
}
