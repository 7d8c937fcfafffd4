// Go references for the supervisor workloads (bench/workloads.cpp: restart,
// storm). Go has no supervisors in its standard library; the idiomatic
// equivalent is a goroutine per child that recovers its own panic and tells
// a supervising goroutine, which starts the child again: a minimal
// one_for_one supervisor written the Go way.
package main

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync/atomic"
	"time"
)

func init() {
	workloads["restart"] = restartLatency
	workloads["storm"] = restartStorm
	workloads["children"] = childAdmin
	workloads["panic"] = panicCost
}

// The floor under restart and storm: a child's panic recovered by a deferred
// recover() in the frame above (bench/workloads.cpp: panic_cost, a C++
// throw and catch). The time in ns per panic, of n.
func panicCost(n int64) (float64, string) {
	child := func(i int64) {
		if i >= 0 {
			panic(errRestartMe)
		}
	}
	var caught int64
	run := func(i int64) {
		defer func() {
			if recover() != nil {
				caught++
			}
		}()
		child(i)
	}
	t0 := time.Now()
	for i := int64(0); i < n; i++ {
		run(i)
	}
	d := time.Since(t0)
	checkEq(caught, n, "panics recovered")
	return float64(d.Nanoseconds()) / float64(n), "ns"
}

// miniSupervisor restarts any child that panics, one goroutine per child.
type miniSupervisor struct {
	ctx      context.Context
	children []func(ctx context.Context)
	exits    chan int
	restarts []int64
}

func newMiniSupervisor(ctx context.Context, children []func(ctx context.Context)) *miniSupervisor {
	s := &miniSupervisor{ctx: ctx, children: children, exits: make(chan int, 64),
		restarts: make([]int64, len(children))}
	for i := range children {
		s.spawn(i)
	}
	return s
}

func (s *miniSupervisor) spawn(i int) {
	go func() {
		defer func() {
			if r := recover(); r != nil {
				select {
				case s.exits <- i:
				case <-s.ctx.Done():
				}
			}
		}()
		s.children[i](s.ctx)
	}()
}

// run restarts children until ctx is done.
func (s *miniSupervisor) run() {
	for {
		select {
		case i := <-s.exits:
			s.restarts[i]++
			s.spawn(i)
		case <-s.ctx.Done():
			return
		}
	}
}

var errRestartMe = errors.New("restart me")

// One child panics n times: the median time in us from the panic to the
// restarted child running.
func restartLatency(n int64) (float64, string) {
	running := make(chan time.Time, 1)
	kick := make(chan int)
	var panickedAt atomic.Int64
	base := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	s := newMiniSupervisor(ctx, []func(context.Context){func(ctx context.Context) {
		running <- time.Now()
		select {
		case <-kick:
			panickedAt.Store(int64(time.Since(base)))
			panic(errRestartMe)
		case <-ctx.Done():
		}
	}})
	done := make(chan struct{})
	go func() { s.run(); close(done) }()
	<-running
	us := make([]float64, 0, n)
	for i := int64(0); i < n; i++ {
		kick <- 1
		t := <-running
		us = append(us, float64(int64(t.Sub(base))-panickedAt.Load())/1e3)
	}
	cancel()
	<-done
	checkEq(s.restarts[0], n, "restart count")
	sort.Float64s(us)
	return us[len(us)/2], "us"
}

// n children panic at once: the time in ms from the signal to every one of
// them running again.
func restartStorm(n int64) (float64, string) {
	fail := make(chan struct{})
	var storming atomic.Bool
	var ready, back atomic.Int64
	allBack := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	children := make([]func(context.Context), n)
	for i := range children {
		children[i] = func(ctx context.Context) {
			if !storming.Load() {
				ready.Add(1)
				<-fail
				panic(errRestartMe)
			}
			if back.Add(1) == n {
				close(allBack)
			}
			<-ctx.Done()
		}
	}
	s := newMiniSupervisor(ctx, children)
	done := make(chan struct{})
	go func() { s.run(); close(done) }()
	for ready.Load() < n {
		time.Sleep(time.Microsecond)
	}
	storming.Store(true)
	t0 := time.Now()
	close(fail)
	<-allBack
	d := time.Since(t0)
	cancel()
	<-done
	var restarts int64
	for _, r := range s.restarts {
		restarts += r
	}
	if restarts != n {
		fmt.Fprintf(os.Stderr, "storm restarts: got %d, want %d\n", restarts, n)
		os.Exit(1)
	}
	return ms(d), "ms"
}

// adminSupervisor is the same minimal supervisor with OTP's child
// administration (start_child, terminate_child, delete_child by id), served
// by its goroutine over a channel as a gen_server serves calls; children
// are kept the Go way, in a map by id beside a start-order list.
type adminChild struct {
	id     string
	cancel context.CancelFunc
	done   chan struct{}
	elem   *list.Element
}

type adminSupervisor struct {
	calls    chan func()
	children map[string]*adminChild
	order    *list.List
}

func newAdminSupervisor() *adminSupervisor {
	s := &adminSupervisor{calls: make(chan func()), children: map[string]*adminChild{},
		order: list.New()}
	go func() {
		for f := range s.calls {
			f()
		}
	}()
	return s
}

// call runs f on the supervisor's goroutine and waits for it.
func (s *adminSupervisor) call(f func() error) error {
	done := make(chan error)
	s.calls <- func() { done <- f() }
	return <-done
}

func (s *adminSupervisor) startChild(id string, body func(ctx context.Context)) error {
	return s.call(func() error {
		if _, ok := s.children[id]; ok {
			return errors.New("already_present")
		}
		ctx, cancel := context.WithCancel(context.Background())
		c := &adminChild{id: id, cancel: cancel, done: make(chan struct{})}
		c.elem = s.order.PushBack(c)
		s.children[id] = c
		go func() {
			defer close(c.done)
			body(ctx)
		}()
		return nil
	})
}

func (s *adminSupervisor) terminateChild(id string) error {
	return s.call(func() error {
		c, ok := s.children[id]
		if !ok {
			return errors.New("not_found")
		}
		if c.cancel != nil {
			c.cancel()
			<-c.done
			c.cancel = nil
		}
		return nil
	})
}

func (s *adminSupervisor) deleteChild(id string) error {
	return s.call(func() error {
		c, ok := s.children[id]
		if !ok || c.cancel != nil {
			return errors.New("not_found or running")
		}
		s.order.Remove(c.elem)
		delete(s.children, id)
		return nil
	})
}

func (s *adminSupervisor) count() (n int) {
	_ = s.call(func() error { n = len(s.children); return nil })
	return n
}

// n children started one by one, then each terminated and deleted in start
// order: the time per child in us (bench/workloads.cpp: children).
func childAdmin(n int64) (float64, string) {
	s := newAdminSupervisor()
	t0 := time.Now()
	for i := int64(0); i < n; i++ {
		if err := s.startChild(fmt.Sprintf("c%d", i), func(ctx context.Context) {
			<-ctx.Done()
		}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	checkEq(int64(s.count()), n, "children running")
	for i := int64(0); i < n; i++ {
		id := fmt.Sprintf("c%d", i)
		if s.terminateChild(id) != nil || s.deleteChild(id) != nil {
			fmt.Fprintln(os.Stderr, "terminate/delete failed")
			os.Exit(1)
		}
	}
	d := time.Since(t0)
	checkEq(int64(s.count()), 0, "children left")
	close(s.calls)
	return float64(d.Microseconds()) / float64(n), "us"
}
