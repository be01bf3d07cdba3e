//go:build !race

package kafkalog_test

const raceEnabled = false
