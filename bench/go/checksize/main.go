// The Go reference for bench/checksize.sh: what a Go tool checking a
// topology file does (Benthos' lint works this way, on gopkg.in/yaml.v3):
// parse the file into yaml.Node trees, then check that every channel is
// declared once with a type, every stage names a stage kind and declared
// channels, every channel has exactly one writer and one reader, and the
// stage graph has no cycle (an iterative search, so no input can exhaust
// the stack). It does the same work as `rill check` on these generated
// files, minus what only rill checks (argument types, the registry).
//
// usage: go_checksize FILE   prints "FILE: ok (C channels, S stages)" or the
// errors, one per line; exit status 0 when ok, 1 otherwise.
package main

import (
	"fmt"
	"os"

	"gopkg.in/yaml.v3"
)

func mapping(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// names: a scalar, a list of scalars, or a mapping of port to either.
func names(n *yaml.Node, out []string) []string {
	if n == nil {
		return out
	}
	switch n.Kind {
	case yaml.ScalarNode:
		return append(out, n.Value)
	case yaml.SequenceNode:
		for _, c := range n.Content {
			out = names(c, out)
		}
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			out = names(n.Content[i], out)
		}
	}
	return out
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go_checksize FILE")
		os.Exit(2)
	}
	file := os.Args[1]
	text, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(text, &doc); err != nil {
		fmt.Printf("%s: %v\n", file, err)
		os.Exit(1)
	}
	var root *yaml.Node
	if len(doc.Content) > 0 {
		root = doc.Content[0]
	}
	var errs []string
	fail := func(n *yaml.Node, f string, a ...any) {
		errs = append(errs, fmt.Sprintf("%s:%d:%d: error: %s", file, n.Line, n.Column,
			fmt.Sprintf(f, a...)))
	}
	channels := map[string]*yaml.Node{}
	if ch := mapping(root, "channels"); ch != nil {
		for i := 0; i+1 < len(ch.Content); i += 2 {
			k, v := ch.Content[i], ch.Content[i+1]
			if _, dup := channels[k.Value]; dup {
				fail(k, "channel '%s' is declared twice", k.Value)
			}
			if v.Kind == yaml.MappingNode {
				v = mapping(v, "type")
			}
			if v == nil || v.Kind != yaml.ScalarNode || v.Value == "" {
				fail(k, "channel '%s' has no type", k.Value)
			}
			channels[k.Value] = k
		}
	}
	writer := map[string]int{}
	reader := map[string]int{}
	var ids []string
	outs := map[int][]string{}
	// bind makes stage idx the one reader (or writer) of each channel its
	// ports name, and returns those channels.
	bind := func(k *yaml.Node, ends map[string]int, ports *yaml.Node, how string, idx int) []string {
		cs := names(ports, nil)
		for _, c := range cs {
			if _, ok := channels[c]; !ok {
				fail(k, "unknown channel '%s'", c)
			}
			if _, twice := ends[c]; twice {
				fail(k, "channel '%s' is %s twice", c, how)
			}
			ends[c] = idx
		}
		return cs
	}
	if st := mapping(root, "stages"); st != nil {
		for i := 0; i+1 < len(st.Content); i += 2 {
			k, v := st.Content[i], st.Content[i+1]
			idx := len(ids)
			ids = append(ids, k.Value)
			if s := mapping(v, "stage"); s == nil || s.Value == "" {
				fail(k, "stage '%s' names no stage", k.Value)
			}
			bind(k, reader, mapping(v, "in"), "read", idx)
			outs[idx] = bind(k, writer, mapping(v, "out"), "written", idx)
		}
	}
	for name, k := range channels {
		if _, ok := writer[name]; !ok {
			fail(k, "channel '%s' is never written", name)
		}
		if _, ok := reader[name]; !ok {
			fail(k, "channel '%s' is never read", name)
		}
	}
	// Cycles: depth first over stage -> channel -> stage, with a stack of
	// our own.
	state := make([]byte, len(ids)) // 0 unseen, 1 on the path, 2 done
	type frame struct{ stage, next int }
	for start := range ids {
		if state[start] != 0 {
			continue
		}
		path := []frame{{start, 0}}
		state[start] = 1
		for len(path) > 0 {
			f := &path[len(path)-1]
			if f.next == len(outs[f.stage]) {
				state[f.stage] = 2
				path = path[:len(path)-1]
				continue
			}
			c := outs[f.stage][f.next]
			f.next++
			n, ok := reader[c]
			if !ok {
				continue
			}
			if state[n] == 0 {
				state[n] = 1
				path = append(path, frame{n, 0})
			} else if state[n] == 1 {
				errs = append(errs, fmt.Sprintf("%s: error: cycle through stage %s", file, ids[n]))
			}
		}
	}
	if len(errs) > 0 {
		for _, e := range errs {
			fmt.Println(e)
		}
		os.Exit(1)
	}
	fmt.Printf("%s: ok (%d channels, %d stages)\n", file, len(channels), len(ids))
}
