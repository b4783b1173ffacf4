package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/talkrelay/talkrelay/loadgen"
)

// outputFlags are the flags every scenario shares: how to report, and whom it
// may load.
type outputFlags struct {
	jsonOut     bool
	csvPath     string
	allowRemote bool
	logLevel    string
}

// register adds the shared flags to fs; csvRows names what --csv writes, or is
// empty for a scenario without per-row output.
func (o *outputFlags) register(fs *flag.FlagSet, csvRows string) {
	fs.BoolVar(&o.jsonOut, "json", false, "print one JSON object instead of the table")
	if csvRows != "" {
		fs.StringVar(&o.csvPath, "csv", "", "write "+csvRows+" to this file")
	}
	fs.BoolVar(&o.allowRemote, "allow-remote", false, "allow targets other than loopback and 198.18.0.0/15")
	fs.StringVar(&o.logLevel, "log-level", "warn", "debug, info, warn or error")
}

// parse parses args into fs and refuses stray arguments and targets that are
// not loopback or test addresses (unless --allow-remote). targets point at
// the URL flags' values, which exist only once parsed.
func (o *outputFlags) parse(fs *flag.FlagSet, args []string, targets ...*string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	for _, u := range targets {
		if *u == "" {
			continue
		}
		if err := loadgen.CheckTarget(*u, o.allowRemote); err != nil {
			return err
		}
	}
	return nil
}

// scenario is one parsed scenario, ready to run.
type scenario[R any] struct {
	out *outputFlags
	// run runs it with a logger; a nil report means it could not start.
	run func(*slog.Logger) (*R, error)
	// table, json and csv write the report (csv may be nil).
	table, json func(io.Writer, *R) error
	csv         func(io.Writer, *R) error
	check       func(*R) []string
}

// runScenario turns a parse result into an exit status: usage errors, the
// run, its outputs, and the thresholds it broke.
func runScenario[R any](parseErr error, s scenario[R], stdout, stderr io.Writer) int {
	if errors.Is(parseErr, flag.ErrHelp) {
		return exitOK
	}
	if parseErr != nil {
		fmt.Fprintln(stderr, "loadgen:", parseErr)
		return exitUsage
	}
	log, err := newLogger(s.out.logLevel, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return exitUsage
	}
	rep, runErr := s.run(log)
	if rep == nil {
		fmt.Fprintln(stderr, "loadgen:", runErr)
		return exitUsage
	}
	code := exitOK
	if err := s.write(rep, stdout); err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		code = exitBroken
	}
	if runErr != nil {
		fmt.Fprintln(stderr, "loadgen: run failed:", runErr)
		code = exitBroken
	}
	for _, v := range s.check(rep) {
		fmt.Fprintln(stderr, "loadgen: threshold broken:", v)
		code = exitBroken
	}
	return code
}

// write writes the CSV file (if asked) and the JSON or the table to stdout.
func (s scenario[R]) write(rep *R, stdout io.Writer) error {
	if s.out.csvPath != "" && s.csv != nil {
		file, err := os.Create(s.out.csvPath)
		if err != nil {
			return fmt.Errorf("csv: %w", err)
		}
		err = s.csv(file, rep)
		if cerr := file.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("csv: %w", cerr)
		}
		if err != nil {
			return err
		}
	}
	if s.out.jsonOut {
		return s.json(stdout, rep)
	}
	return s.table(stdout, rep)
}
