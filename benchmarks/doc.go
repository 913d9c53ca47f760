// Package benchmarks holds Go benchmarks and load drivers at carrier scale.
// Each benchmark checks its setup before the timer starts and reports
// domain units (customers, rows/s, bytes per customer) with ReportMetric.
// It is not part of the binary: it only has tests.
package benchmarks
