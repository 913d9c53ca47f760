package main

import "errors"

// exitCoder is an error that carries its own exit code, such as a config
// check that found problems (exit 1 after printing them) .
type exitCoder interface {
	error
	ExitCode() int
}

func asExitCoder(err error, target *exitCoder) bool { return errors.As(err, target) }

// exitError is an error with an exit code. An empty message prints nothing.
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return e.msg }
func (e exitError) ExitCode() int { return e.code }
