// The Go reference for bench/yamlpipe.sh: the pipeline example
// (examples/pipeline/pipeline.yaml) written as idiomatic Go, a goroutine per
// stage joined by channels of the same capacities: read lines, drop health
// probes with the same regular expression, parse the Common Log Format,
// count per status code in 5-minute windows of log time, write. Its output
// must equal the rill sides' byte for byte (the script compares them).
//
// Usage: yamlpipe INPUT OUTPUT. Prints "yamlpipe MS ms LINES lines".
package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

type logRecord struct {
	client, method, path string
	time                 int64
	status               int
	bytes                int64
}

var months = map[string]time.Month{"Jan": 1, "Feb": 2, "Mar": 3, "Apr": 4, "May": 5, "Jun": 6,
	"Jul": 7, "Aug": 8, "Sep": 9, "Oct": 10, "Nov": 11, "Dec": 12}

var errMalformed = errors.New("malformed access-log line")

// "23/Nov/2026:10:00:01 +0000" -> seconds since the epoch, UTC.
func parseTime(s string) (int64, error) {
	if len(s) != 26 || s[2] != '/' || s[6] != '/' || s[11] != ':' || s[14] != ':' ||
		s[17] != ':' || s[20] != ' ' || (s[21] != '+' && s[21] != '-') {
		return 0, errMalformed
	}
	month, ok := months[s[3:6]]
	var f [7]int
	for i, r := range [][2]int{{0, 2}, {7, 11}, {12, 14}, {15, 17}, {18, 20}, {22, 24}, {24, 26}} {
		v, err := strconv.Atoi(s[r[0]:r[1]])
		if err != nil || !ok {
			return 0, errMalformed
		}
		f[i] = v
	}
	if f[0] < 1 || f[0] > 31 || f[2] > 23 || f[3] > 59 || f[4] > 60 {
		return 0, errMalformed
	}
	offset := (f[5]*60 + f[6]) * 60
	if s[21] == '-' {
		offset = -offset
	}
	t := time.Date(f[1], month, f[0], f[2], f[3], f[4], 0, time.UTC)
	return t.Unix() - int64(offset), nil
}

func parse(line string) (logRecord, error) {
	var r logRecord
	sp := strings.IndexByte(line, ' ')
	if sp <= 0 {
		return r, errMalformed
	}
	r.client = line[:sp]
	rest := line[sp+1:]
	open := strings.IndexByte(rest, '[')
	if open < 0 {
		return r, errMalformed
	}
	rest = rest[open+1:]
	end := strings.IndexByte(rest, ']')
	if end < 0 {
		return r, errMalformed
	}
	t, err := parseTime(rest[:end])
	if err != nil {
		return r, err
	}
	r.time = t
	rest = rest[end+1:]
	if !strings.HasPrefix(rest, " \"") {
		return r, errMalformed
	}
	rest = rest[2:]
	end = strings.IndexByte(rest, '"')
	if end < 0 {
		return r, errMalformed
	}
	request := rest[:end]
	sp1, sp2 := strings.IndexByte(request, ' '), strings.LastIndexByte(request, ' ')
	if sp1 < 0 || sp2 == sp1 {
		return r, errMalformed
	}
	r.method, r.path = request[:sp1], request[sp1+1:sp2]
	rest = rest[end+1:]
	if !strings.HasPrefix(rest, " ") {
		return r, errMalformed
	}
	rest = rest[1:]
	sp = strings.IndexByte(rest, ' ')
	if sp < 0 {
		return r, errMalformed
	}
	if r.status, err = strconv.Atoi(rest[:sp]); err != nil || r.status < 100 || r.status > 599 {
		return r, errMalformed
	}
	rest = rest[sp+1:]
	if sp = strings.IndexByte(rest, ' '); sp >= 0 {
		rest = rest[:sp]
	}
	if rest != "-" {
		if r.bytes, err = strconv.ParseInt(rest, 10, 64); err != nil {
			return r, errMalformed
		}
	}
	return r, nil
}

// Counts per status code in windows of log time; see window_counter.hpp.
func windowCounts(in <-chan logRecord, out chan<- string, window int64) {
	defer close(out)
	counts := map[string]int64{}
	var start int64
	open := false
	flush := func() {
		keys := make([]string, 0, len(counts))
		for k := range counts {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		when := time.Unix(start, 0).UTC().Format("2006-01-02T15:04:05Z")
		for _, k := range keys {
			out <- fmt.Sprintf("window=%s status=%s count=%d", when, k, counts[k])
		}
		counts = map[string]int64{}
	}
	for r := range in {
		s := r.time - ((r.time%window)+window)%window
		if open && s > start {
			flush()
		}
		if !open || s > start {
			start, open = s, true
		}
		counts[strconv.Itoa(r.status)]++
	}
	if open {
		flush()
	}
}

func run(input, output string) (lines int64, err error) {
	in, err := os.Open(input)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	outFile, err := os.Create(output)
	if err != nil {
		return 0, err
	}
	defer outFile.Close()

	raw := make(chan string, 256)
	go func() {
		defer close(raw)
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		for sc.Scan() {
			lines++
			raw <- sc.Text()
		}
	}()
	requests := make(chan string, 256)
	go func() {
		defer close(requests)
		probe := regexp.MustCompile(`"GET /healthz `)
		for l := range raw {
			if !probe.MatchString(l) {
				requests <- l
			}
		}
	}()
	records := make(chan logRecord, 256)
	go func() {
		defer close(records)
		for l := range requests {
			if r, err := parse(l); err == nil {
				records <- r
			}
		}
	}()
	counts := make(chan string, 64)
	go windowCounts(records, counts, 300)
	w := bufio.NewWriter(outFile)
	for c := range counts {
		w.WriteString(c)
		w.WriteByte('\n')
	}
	return lines, w.Flush()
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: yamlpipe INPUT OUTPUT")
		os.Exit(2)
	}
	t0 := time.Now()
	lines, err := run(os.Args[1], os.Args[2])
	d := time.Since(t0)
	if err != nil {
		fmt.Fprintln(os.Stderr, "yamlpipe:", err)
		os.Exit(1)
	}
	fmt.Printf("yamlpipe %.3f ms %d lines\n", float64(d.Nanoseconds())/1e6, lines)
}
