// The Go reference for bench/natsbridge.sh: the workloads of
// bench_natsbridge (bench/natsbridge.cpp) with the Go client nats.go, built
// the way the bridge works: a publishing goroutine fed by a channel of 64, a
// subscribing goroutine feeding a channel of 64, 64-byte values.
//
//	channel     goroutine -> chan string(64) -> goroutine
//	core        Publish -> server -> SubscribeSync/NextMsg
//	jetstream   PublishAsync with WINDOW acknowledgements outstanding, then
//	            PublishAsyncComplete; a durable pull consumer fetching 256 at
//	            a time and acknowledging a message once the value after it
//	            was taken (or the fetch timed out), as the bridge does
//
// Each line: "natsbridge MODE N values MS ms RATE values/s", timed from the
// first value sent to the last received.
//
// Usage: natsbridge URL N JS_N WINDOW
//
// Built in GOPATH mode against Debian's golang-github-nats-io-go-nats-dev
// (no module download): GO111MODULE=off GOPATH=/usr/share/gocode.
package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

func report(mode string, n int, start time.Time) {
	ms := float64(time.Since(start).Microseconds()) / 1000
	fmt.Printf("natsbridge %-9s %8d values %9.1f ms %12.0f values/s\n", mode, n, ms,
		float64(n)/(ms/1000))
}

func value() string { return strings.Repeat("v", 64) }

func channelRun(n int) {
	c := make(chan string, 64)
	start := time.Now()
	go func() {
		for i := 0; i < n; i++ {
			c <- value()
		}
		close(c)
	}()
	got := 0
	for v := range c {
		if v != "" {
			got++
		}
	}
	report("channel", got, start)
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "natsbridge:", err)
		os.Exit(1)
	}
}

// feed sends n values into a channel of 64, as the rill side's producer does.
func feed(n int) <-chan string {
	in := make(chan string, 64)
	go func() {
		for i := 0; i < n; i++ {
			in <- value()
		}
		close(in)
	}()
	return in
}

func coreRun(url string, n int) {
	nc, err := nats.Connect(url)
	must(err)
	defer nc.Close()
	sub, err := nc.SubscribeSync("gobench.core")
	must(err)
	must(sub.SetPendingLimits(n, 64*1024*1024))
	must(nc.Flush())
	out := make(chan string, 64)
	go func() {
		for {
			m, err := sub.NextMsg(100 * time.Millisecond)
			if errors.Is(err, nats.ErrTimeout) {
				continue
			}
			if err != nil {
				close(out)
				return
			}
			out <- string(m.Data)
		}
	}()
	pc, err := nats.Connect(url)
	must(err)
	defer pc.Close()
	start := time.Now()
	go func() {
		for v := range feed(n) {
			must(pc.Publish("gobench.core", []byte(v)))
		}
		must(pc.Flush())
	}()
	for i := 0; i < n; i++ {
		<-out
	}
	report("core", n, start)
	sub.Unsubscribe()
}

func jetstreamRun(url string, n, window int) {
	nc, err := nats.Connect(url)
	must(err)
	defer nc.Close()
	js, err := nc.JetStream()
	must(err)
	_, err = js.AddStream(&nats.StreamConfig{Name: "gobench_jetstream",
		Subjects: []string{"gobench.jetstream"}, Storage: nats.FileStorage})
	must(err)
	_, err = js.AddConsumer("gobench_jetstream", &nats.ConsumerConfig{Durable: "bench",
		AckPolicy: nats.AckExplicitPolicy, MaxAckPending: 1024,
		FilterSubject: "gobench.jetstream"})
	must(err)
	sub, err := js.PullSubscribe("gobench.jetstream", "bench", nats.Bind("gobench_jetstream", "bench"))
	must(err)
	out := make(chan string, 64)
	go func() {
		var held *nats.Msg
		settle := func() {
			if held != nil {
				held.Ack()
				held = nil
			}
		}
		for {
			msgs, err := sub.Fetch(256, nats.MaxWait(100*time.Millisecond))
			if errors.Is(err, nats.ErrTimeout) {
				settle()
				continue
			}
			if err != nil {
				return
			}
			for _, m := range msgs {
				out <- string(m.Data)
				settle()
				held = m
			}
		}
	}()
	pc, err := nats.Connect(url)
	must(err)
	defer pc.Close()
	pjs, err := pc.JetStream(nats.PublishAsyncMaxPending(window))
	must(err)
	start := time.Now()
	go func() {
		for v := range feed(n) {
			_, err := pjs.PublishAsync("gobench.jetstream", []byte(v))
			must(err)
		}
		<-pjs.PublishAsyncComplete()
	}()
	for i := 0; i < n; i++ {
		<-out
	}
	report("jetstream", n, start)
}

func main() {
	if len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: natsbridge URL N JS_N WINDOW")
		os.Exit(2)
	}
	url := os.Args[1]
	var args [3]int
	for i := range args {
		v, err := strconv.Atoi(os.Args[i+2])
		must(err)
		args[i] = v
	}
	channelRun(args[0])
	coreRun(url, args[0])
	jetstreamRun(url, args[1], args[2])
}
