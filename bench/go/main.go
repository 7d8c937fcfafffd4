// The Go side of the rill-versus-Go benchmark suite: the same workloads as
// bench/workloads.cpp, written as idiomatic Go. bench/run.sh builds it with
// plain `go build` (no dependencies) and runs it with GOMAXPROCS=2.
//
// Usage: workloads WORKLOAD N. Prints one line "WORKLOAD value unit" (lower
// is better); a failed self-check goes to stderr with exit status 1. Only the
// workload is timed, and each workload joins the goroutines it started.
package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

type workload func(n int64) (value float64, unit string)

var workloads = map[string]workload{
	"skynet":    skynet,
	"spawn":     spawn,
	"pingpong":  pingpong,
	"spsc":      func(n int64) (float64, string) { return producersConsumers(n, 1, 1) },
	"mpmc":      func(n int64) (float64, string) { return producersConsumers(n, 4, 4) },
	"select":    select2,
	"ring":      ring,
	"mutex":     mutex,
	"rss":       rss,
	"parked":    parked,
	"joined":    func(n int64) (float64, string) { return burst(n, false) },
	"quiet":     func(n int64) (float64, string) { return burst(n, true) },
	"timers":    timers,
	"pipeline3": pipeline3,
	"fanin8":    fanin8,
	"pmap8":     pmap8,
}

func checkEq(got, want int64, what string) {
	if got != want {
		fmt.Fprintf(os.Stderr, "%s: got %d, want %d\n", what, got, want)
		os.Exit(1)
	}
}

// Sum of 0 .. n-1: what every checksum-verified workload must arrive at.
func triangle(n int64) int64 { return n * (n - 1) / 2 }

func nsPer(d time.Duration, n int64) float64 { return float64(d.Nanoseconds()) / float64(n) }

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

func skynetNode(out chan<- int64, num, size int64) {
	if size == 1 {
		out <- num
		return
	}
	rc := make(chan int64)
	sub := size / 10
	for i := int64(0); i < 10; i++ {
		go skynetNode(rc, num+i*sub, sub)
	}
	var sum int64
	for i := 0; i < 10; i++ {
		sum += <-rc
	}
	out <- sum
}

// A 10-ary tree of goroutines with n leaves (a power of ten); each node sums
// its children's numbers received over an unbuffered channel.
func skynet(n int64) (float64, string) {
	leaves := int64(1)
	for leaves < n {
		leaves *= 10
	}
	checkEq(n, leaves, "skynet size must be a power of 10")
	t0 := time.Now()
	c := make(chan int64)
	go skynetNode(c, 0, n)
	total := <-c
	d := time.Since(t0)
	checkEq(total, triangle(n), "skynet total")
	return ms(d), "ms"
}

func spawn(n int64) (float64, string) {
	t0 := time.Now()
	var wg sync.WaitGroup
	wg.Add(int(n))
	for i := int64(0); i < n; i++ {
		go wg.Done()
	}
	wg.Wait()
	return ms(time.Since(t0)), "ms"
}

func pingpong(n int64) (float64, string) {
	ping, pong := make(chan int64), make(chan int64)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for v := range ping {
			pong <- v
		}
	}()
	t0 := time.Now()
	var sum int64
	for i := int64(0); i < n; i++ {
		ping <- i
		sum += <-pong
	}
	d := time.Since(t0)
	close(ping)
	wg.Wait()
	checkEq(sum, triangle(n), "pingpong checksum")
	return nsPer(d, n), "ns/roundtrip"
}

// producers goroutines send 0 .. n-1 between them into one channel of
// capacity 1024, consumers goroutines drain it; ns per item.
func producersConsumers(n int64, producers, consumers int) (float64, string) {
	c := make(chan int64, 1024)
	var sent, drained sync.WaitGroup
	var sum atomic.Int64
	t0 := time.Now()
	for p := 0; p < producers; p++ {
		sent.Add(1)
		go func(first int64) {
			defer sent.Done()
			for v := first; v < n; v += int64(producers) {
				c <- v
			}
		}(int64(p))
	}
	for q := 0; q < consumers; q++ {
		drained.Add(1)
		go func() {
			defer drained.Done()
			var local int64
			for v := range c {
				local += v
			}
			sum.Add(local)
		}()
	}
	sent.Wait()
	close(c)
	drained.Wait()
	d := time.Since(t0)
	checkEq(sum.Load(), triangle(n), "channel checksum")
	return nsPer(d, n), "ns/item"
}

// Two producers feed two buffered channels; one consumer selects over both,
// setting each channel to nil once it is closed.
func select2(n int64) (float64, string) {
	a, b := make(chan int64, 1024), make(chan int64, 1024)
	var wg sync.WaitGroup
	t0 := time.Now()
	for i, c := range []chan int64{a, b} {
		wg.Add(1)
		go func(first int64, c chan<- int64) {
			defer wg.Done()
			for v := first; v < n; v += 2 {
				c <- v
			}
			close(c)
		}(int64(i), c)
	}
	var sum int64
	for a != nil || b != nil {
		select {
		case v, ok := <-a:
			if ok {
				sum += v
			} else {
				a = nil
			}
		case v, ok := <-b:
			if ok {
				sum += v
			} else {
				b = nil
			}
		}
	}
	d := time.Since(t0)
	wg.Wait()
	checkEq(sum, triangle(n), "select checksum")
	return nsPer(d, n), "ns/item"
}

// The classic thread-ring: 503 goroutines in a ring of unbuffered channels
// pass a token that counts down; whoever receives 0 reports its number.
func ring(hops int64) (float64, string) {
	const size = 503
	links := make([]chan int64, size)
	for i := range links {
		links[i] = make(chan int64)
	}
	winner := make(chan int64)
	var wg sync.WaitGroup
	for i := 0; i < size; i++ {
		wg.Add(1)
		go func(in <-chan int64, out chan<- int64, id int64) {
			defer wg.Done()
			for token := range in {
				if token == 0 {
					winner <- id
				} else {
					out <- token - 1
				}
			}
		}(links[i], links[(i+1)%size], int64(i+1))
	}
	t0 := time.Now()
	links[0] <- hops
	id := <-winner
	d := time.Since(t0)
	for _, link := range links {
		close(link)
	}
	wg.Wait()
	checkEq(id, hops%size+1, "ring winner")
	return nsPer(d, hops), "ns/hop"
}

// 8 goroutines each increment a shared counter m times under one mutex.
func mutex(m int64) (float64, string) {
	const workers = 8
	var mu sync.Mutex
	var counter int64
	var wg sync.WaitGroup
	t0 := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int64(0); i < m; i++ {
				mu.Lock()
				counter++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	d := time.Since(t0)
	checkEq(counter, workers*m, "mutex counter")
	return nsPer(d, workers*m), "ns/lock"
}

func residentBytesNoGC() int64 {
	statm, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var size, resident int64
	if _, err := fmt.Sscan(string(statm), &size, &resident); err != nil {
		fmt.Fprintln(os.Stderr, "cannot parse /proc/self/statm:", err)
		os.Exit(1)
	}
	return resident * int64(os.Getpagesize())
}

func residentBytes() int64 {
	runtime.GC()
	return residentBytesNoGC()
}

// Starts n goroutines that each park on a channel receive, calls whileParked
// once every one has started, then releases and joins them.
func parkedBurst(n int64, whileParked func()) {
	release := make(chan int)
	var started, exited sync.WaitGroup
	started.Add(int(n))
	exited.Add(int(n))
	for i := int64(0); i < n; i++ {
		go func() {
			defer exited.Done()
			started.Done()
			<-release
		}()
	}
	started.Wait()
	whileParked()
	close(release)
	exited.Wait()
}

// Time (ms) until n new goroutines have all started and parked on a channel
// receive, in a fresh process: mostly the first touch of fresh stacks.
func parked(n int64) (float64, string) {
	t0 := time.Now()
	var d time.Duration
	parkedBurst(n, func() { d = time.Since(t0) })
	return ms(d), "ms"
}

// Resident memory per goroutine parked on a channel receive, measured after
// a garbage collection, once every goroutine has started.
func rss(n int64) (float64, string) {
	before := residentBytes()
	var after int64
	parkedBurst(n, func() { after = residentBytes() })
	return float64(after-before) / 1024 / float64(n), "KiB/goroutine"
}

// Resident memory (MiB, above the level before) that a burst of n parked
// goroutines still holds once they have all been joined: right after the
// join, or after a second of quiet (the main goroutine sleeping, nothing else
// running). No collection is forced: Go returns memory by its background
// scavenger, and frees the stacks of exited goroutines at its next
// collection, which a quiet program may not run.
func burst(n int64, quiet bool) (float64, string) {
	before := residentBytesNoGC()
	parkedBurst(n, func() {})
	if quiet {
		time.Sleep(time.Second)
	}
	return float64(residentBytesNoGC()-before) / (1024 * 1024), "MiB"
}

// splitmix64, also written out in bench/workloads.cpp, so that both sides
// draw the same sleep durations from the same seed.
type splitmix64 struct{ state uint64 }

func (s *splitmix64) next() uint64 {
	s.state += 0x9e3779b97f4a7c15
	z := s.state
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// n goroutines each sleep 0-99 ms; the worst lateness (wake - intended) in ms.
func timers(n int64) (float64, string) {
	late := make([]time.Duration, n)
	rng := splitmix64{42}
	var wg sync.WaitGroup
	for i := range late {
		d := time.Duration(rng.next()%100) * time.Millisecond
		wg.Add(1)
		go func(late *time.Duration) {
			defer wg.Done()
			t0 := time.Now()
			time.Sleep(d)
			*late = time.Since(t0) - d
		}(&late[i])
	}
	wg.Wait()
	sort.Slice(late, func(i, j int) bool { return late[i] < late[j] })
	if late[0] < 0 {
		fmt.Fprintln(os.Stderr, "a sleep ended early")
		os.Exit(1)
	}
	return ms(late[len(late)-1]), "ms"
}

// --- CSP pipelines, written as in the Go blog's "Pipelines and cancellation":
// each stage is a goroutine that owns and closes its output channel and
// selects on done when it sends. Channels have capacity cspBuffer, as on the
// rill side.
const cspBuffer = 128

func gen(done <-chan struct{}, first, last, step int64) <-chan int64 {
	out := make(chan int64, cspBuffer)
	go func() {
		defer close(out)
		for v := first; v < last; v += step {
			select {
			case out <- v:
			case <-done:
				return
			}
		}
	}()
	return out
}

func mapStage(done <-chan struct{}, in <-chan int64, f func(int64) int64) <-chan int64 {
	out := make(chan int64, cspBuffer)
	go func() {
		defer close(out)
		for v := range in {
			select {
			case out <- f(v):
			case <-done:
				return
			}
		}
	}()
	return out
}

// A source and three map stages, then a consumer summing: 2 * (0 + .. + n-1).
func pipeline3(n int64) (float64, string) {
	t0 := time.Now()
	done := make(chan struct{})
	defer close(done)
	c := gen(done, 0, n, 1)
	c = mapStage(done, c, func(x int64) int64 { return x + 1 })
	c = mapStage(done, c, func(x int64) int64 { return x * 2 })
	c = mapStage(done, c, func(x int64) int64 { return x - 2 })
	var sum int64
	for v := range c {
		sum += v
	}
	d := time.Since(t0)
	checkEq(sum, 2*triangle(n), "pipeline3 checksum")
	return ms(d), "ms"
}

// merge from the Go blog: a goroutine per input copies into one output, which
// is closed once they have all finished.
func merge(done <-chan struct{}, cs ...<-chan int64) <-chan int64 {
	var wg sync.WaitGroup
	out := make(chan int64, cspBuffer)
	wg.Add(len(cs))
	for _, c := range cs {
		go func(c <-chan int64) {
			defer wg.Done()
			for v := range c {
				select {
				case out <- v:
				case <-done:
					return
				}
			}
		}(c)
	}
	go func() {
		wg.Wait()
		close(out)
	}()
	return out
}

// 8 producers, each a source of n/8 numbers, merged into one consumer.
func fanin8(n int64) (float64, string) {
	const producers = 8
	t0 := time.Now()
	done := make(chan struct{})
	defer close(done)
	sources := make([]<-chan int64, producers)
	for k := range sources {
		sources[k] = gen(done, int64(k), n, producers)
	}
	var sum int64
	for v := range merge(done, sources...) {
		sum += v
	}
	d := time.Since(t0)
	checkEq(sum, triangle(n), "fanin8 checksum")
	return ms(d), "ms"
}

// splitmix64's finaliser: the per-item work of pmap8, as in bench/workloads.cpp.
func mix(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

type indexed struct {
	seq uint64
	v   uint64
}

// An ordered parallel map with 8 workers: the dispatcher numbers the items and
// takes a slot in a window of 4*workers (a buffered channel used as a
// semaphore) for each, the workers compute, and the collector puts results
// back in order in a ring, freeing a slot per item it passes on.
func orderedMap(done <-chan struct{}, in <-chan int64, workers int, f func(int64) uint64) <-chan uint64 {
	window := 4 * workers
	slots := make(chan struct{}, window)
	jobs := make(chan indexed, workers)
	results := make(chan indexed, workers)
	out := make(chan uint64, cspBuffer)
	go func() {
		defer close(jobs)
		var seq uint64
		for v := range in {
			select {
			case slots <- struct{}{}:
			case <-done:
				return
			}
			select {
			case jobs <- indexed{seq, uint64(v)}:
			case <-done:
				return
			}
			seq++
		}
	}()
	var wg sync.WaitGroup
	wg.Add(workers)
	for w := 0; w < workers; w++ {
		go func() {
			defer wg.Done()
			for j := range jobs {
				select {
				case results <- indexed{j.seq, f(int64(j.v))}:
				case <-done:
					return
				}
			}
		}()
	}
	go func() {
		wg.Wait()
		close(results)
	}()
	go func() {
		defer close(out)
		ring := make([]uint64, window)
		ready := make([]bool, window)
		var next uint64
		for r := range results {
			i := r.seq % uint64(window)
			ring[i], ready[i] = r.v, true
			for k := next % uint64(window); ready[k]; k = next % uint64(window) {
				select {
				case out <- ring[k]:
				case <-done:
					return
				}
				ready[k] = false
				next++
				<-slots
			}
		}
	}()
	return out
}

// An ordered parallel map with 8 workers; the consumer checks every item
// arrives in input order.
func pmap8(n int64) (float64, string) {
	t0 := time.Now()
	done := make(chan struct{})
	defer close(done)
	var i, misplaced int64
	for v := range orderedMap(done, gen(done, 0, n, 1), 8, func(x int64) uint64 { return mix(uint64(x)) }) {
		if v != mix(uint64(i)) {
			misplaced++
		}
		i++
	}
	d := time.Since(t0)
	checkEq(i, n, "pmap8 count")
	checkEq(misplaced, 0, "pmap8 items out of order")
	return ms(d), "ms"
}

func main() {
	var n int64
	var err error
	w, ok := workloads[""]
	if len(os.Args) == 3 {
		w, ok = workloads[os.Args[1]]
		n, err = strconv.ParseInt(os.Args[2], 10, 64)
	}
	if !ok || err != nil || n <= 0 {
		names := make([]string, 0, len(workloads))
		for name := range workloads {
			names = append(names, name)
		}
		sort.Strings(names)
		fmt.Fprintln(os.Stderr, "usage: workloads WORKLOAD N\nworkloads:", names)
		os.Exit(2)
	}
	value, unit := w(n)
	fmt.Printf("%s %.3f %s\n", os.Args[1], value, unit)
}
