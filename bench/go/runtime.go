// Go references for the runtime's preemption and blocking-call workloads
// (bench/workloads.cpp: preempt, blockcall).
package main

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func init() {
	workloads["preempt"] = preempt
	workloads["blockcall"] = blockcall
}

// One goroutine per processor spins in a call-free loop while another wakes
// every 1 ms for n ticks: the worst lateness of a tick in ms.
func preempt(n int64) (float64, string) {
	var stop atomic.Bool
	var spinners sync.WaitGroup
	for i := 0; i < runtime.GOMAXPROCS(0); i++ {
		spinners.Add(1)
		go func() {
			defer spinners.Done()
			for !stop.Load() {
			}
		}()
	}
	var worst time.Duration
	done := make(chan struct{})
	go func() {
		start := time.Now()
		for k := int64(1); k <= n; k++ {
			due := start.Add(time.Duration(k) * time.Millisecond)
			time.Sleep(time.Until(due))
			if late := time.Since(due); late > worst {
				worst = late
			}
		}
		close(done)
	}()
	<-done
	stop.Store(true)
	spinners.Wait()
	return ms(worst), "ms"
}

func xorshiftWalk(seed uint64, n int64) uint64 {
	x, sum := seed, uint64(0)
	for i := int64(0); i < n; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		sum += x
	}
	return sum
}

// Four goroutines make 50 us blocking calls (nanosleep) back to back while
// one goroutine per processor computes n xorshift steps: the compute time in ms.
func blockcall(n int64) (float64, string) {
	var stop atomic.Bool
	var blockers, workers sync.WaitGroup
	for i := 0; i < 4; i++ {
		blockers.Add(1)
		go func() {
			defer blockers.Done()
			for !stop.Load() {
				syscall.Nanosleep(&syscall.Timespec{Nsec: 50000}, nil)
			}
		}()
	}
	procs := runtime.GOMAXPROCS(0)
	sums := make([]uint64, procs)
	t0 := time.Now()
	for i := 0; i < procs; i++ {
		workers.Add(1)
		go func(i int) {
			defer workers.Done()
			sums[i] = xorshiftWalk(uint64(i+1), n)
		}(i)
	}
	workers.Wait()
	d := time.Since(t0)
	stop.Store(true)
	blockers.Wait()
	for i := range sums {
		if sums[i] != xorshiftWalk(uint64(i+1), n) {
			fmt.Fprintln(os.Stderr, "blockcall checksum")
			os.Exit(1)
		}
	}
	return ms(d), "ms"
}
